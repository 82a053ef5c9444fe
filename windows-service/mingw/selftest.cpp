// Checks of what the Windows build does its own way, run under wine by
// scripts/test.d/40-windows.sh:
//   kscprobe-selftest bcrypt FILE      every line "<hash> <password in hex>" of FILE (written on
//                                      Linux with libxcrypt) verifies with the Windows bcrypt
//   kscprobe-selftest platform         platform/platform.hpp's time and signal shims
//   kscprobe-selftest files DIR        platform/files.hpp (glob and file stamps) in DIR
//   kscprobe-selftest messages SOURCE  formats every Event Log message of SOURCE from the
//                                      EventMessageFile registered for it, as Event Viewer does
//   kscprobe-selftest udp PORT         what Winsock reports on a connected UDP socket whose
//                                      datagram to 127.0.0.1:PORT (closed) met an ICMP port
//                                      unreachable: WSAECONNRESET on Windows
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
// clang-format off
#include <windows.h>
// clang-format on

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/web/bcrypt.hpp"
#include "platform/files.hpp"
#include "platform/platform.hpp"
#include "windows-service/service_framework.hpp"

namespace {

using namespace kscprobe;

int check_bcrypt(const char* file) {
  std::ifstream in(file);
  std::string hash, hex;
  int n = 0, bad = 0;
  while (in >> hash >> hex) {
    std::string password;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
      password += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    ++n;
    if (bcrypt::crypt(password, hash) != hash) {
      ++bad;
      std::printf("bcrypt mismatch: %s (password %s)\n", hash.c_str(), hex.c_str());
    }
  }
  std::printf("bcrypt: %d of %d libxcrypt hashes verified\n", n - bad, n);
  return n > 0 && bad == 0 ? 0 : 1;
}

int check_platform() {
  int bad = 0;
  auto expect = [&bad](bool ok, const char* what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    bad += ok ? 0 : 1;
  };
  std::tm epoch = platform::utc_tm(0);
  expect(epoch.tm_year == 70 && epoch.tm_mon == 0 && epoch.tm_mday == 1 && epoch.tm_hour == 0,
         "utc_tm(0) is 1970-01-01T00:00:00Z");
  std::tm y2038 = platform::utc_tm(static_cast<std::time_t>(2147483648LL));
  expect(y2038.tm_year == 138 && y2038.tm_mon == 0 && y2038.tm_mday == 19 && y2038.tm_hour == 3 &&
             y2038.tm_min == 14 && y2038.tm_sec == 8,
         "utc_tm(2^31) is 2038-01-19T03:14:08Z (64-bit time_t)");
  std::tm t{};
  t.tm_year = 2031 - 1900;
  t.tm_mon = 6;
  t.tm_mday = 15;
  t.tm_hour = 12;
  expect(platform::utc_seconds(&t) == 1941883200, "utc_seconds(2031-07-15T12:00:00Z)");
  expect(platform::kReloadSignal == 0, "no reload signal on Windows");
  return bad ? 1 : 0;
}

int check_files(const std::string& dir) {
  int bad = 0;
  auto expect = [&bad](bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    bad += ok ? 0 : 1;
  };
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  };
  std::filesystem::create_directories(dir + "\\sub.json");
  for (const char* name : {"a.json", "B.JSON", "c.yml", ".hidden.json", "a.json.tmp"})
    write(dir + "\\" + name, "[]");
  auto names = [](const std::vector<std::string>& paths) {
    std::string out;
    for (const auto& p : paths)
      out += (out.empty() ? "" : " ") + p.substr(p.find_last_of('\\') + 1);
    return out;
  };
  auto json = platform::glob_files(dir + "\\*.json");
  expect(names(json) == "B.JSON a.json sub.json",
         "glob *.json: every name, case-insensitive, no dot file, sorted (" + names(json) + ")");
  expect(names(platform::glob_files(dir + "\\?.yml")) == "c.yml", "glob ?.yml");
  expect(platform::glob_files(dir + "\\*.json", 1).size() == 1, "glob limit");
  expect(platform::glob_files(dir + "\\a.json").size() == 1, "a plain existing name");
  expect(platform::glob_files(dir + "\\none\\*.json").empty(), "a missing folder");
  auto before = platform::file_stamp(dir + "\\a.json");
  expect(before && before->size == 2 && before->mtime_ns != 0, "file_stamp of a file");
  write(dir + "\\a.json", "[ ]");
  auto after = platform::file_stamp(dir + "\\a.json");
  expect(after && !(*after == *before), "file_stamp changes with the file");
  expect(!platform::file_stamp(dir + "\\sub.json"), "no file_stamp for a folder");
  expect(!platform::file_stamp(dir + "\\missing.json"), "no file_stamp for a missing file");
  return bad ? 1 : 0;
}

int check_messages(const wchar_t* source) {
  std::wstring key = L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\";
  key += source;
  wchar_t raw[MAX_PATH];
  DWORD size = sizeof raw;
  if (RegGetValueW(HKEY_LOCAL_MACHINE, key.c_str(), L"EventMessageFile",
                   RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, nullptr, raw, &size) != ERROR_SUCCESS) {
    std::printf("no EventMessageFile registered for the source\n");
    return 1;
  }
  wchar_t path[MAX_PATH];
  ExpandEnvironmentStringsW(raw, path, MAX_PATH);
  HMODULE module = LoadLibraryExW(path, nullptr, LOAD_LIBRARY_AS_DATAFILE);
  if (!module) {
    std::printf("cannot load the EventMessageFile (error %lu)\n", GetLastError());
    return 1;
  }
  using winsvc::EventId;
  int bad = 0;
  for (EventId id :
       {EventId::info, EventId::warning, EventId::error, EventId::started, EventId::stopped,
        EventId::stop_requested, EventId::reloaded, EventId::reload_rejected, EventId::start_failed,
        EventId::failed, EventId::log_file}) {
    const wchar_t* detail = L"<detail>";
    DWORD_PTR args[] = {reinterpret_cast<DWORD_PTR>(detail)};
    wchar_t* text = nullptr;
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_ALLOCATE_BUFFER |
                                 FORMAT_MESSAGE_ARGUMENT_ARRAY,
                             module, winsvc::message_id(id), 0, reinterpret_cast<wchar_t*>(&text),
                             0, reinterpret_cast<va_list*>(args));
    auto type = winsvc::event_type(id);
    const char* type_name = type == winsvc::EventType::error     ? "error"
                            : type == winsvc::EventType::warning ? "warning"
                                                                 : "info";
    if (n == 0) {
      std::printf("%u %s: no message (error %lu)\n", static_cast<unsigned>(id), type_name,
                  GetLastError());
      ++bad;
      continue;
    }
    std::wstring w(text, n);
    LocalFree(text);
    while (!w.empty() && (w.back() == L'\n' || w.back() == L'\r')) w.pop_back();
    std::printf("%u %s: %ls\n", static_cast<unsigned>(id), type_name, w.c_str());
  }
  FreeLibrary(module);
  return bad ? 1 : 0;
}

// Sends one datagram to a closed port on loopback from a connected socket and prints how the
// next recv ends.
int check_udp(int port) {
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 1;
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET) return 1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<u_short>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  DWORD timeout_ms = 2000;
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&timeout_ms),
             sizeof timeout_ms);
  if (connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 ||
      send(s, "x", 1, 0) != 1) {
    std::printf("udp: send failed: %d\n", WSAGetLastError());
    return 1;
  }
  char buf[16];
  const int n = recv(s, buf, sizeof buf, 0);
  const int error = n < 0 ? WSAGetLastError() : 0;
  const char* name = error == WSAECONNRESET     ? "WSAECONNRESET"
                     : error == WSAECONNREFUSED ? "WSAECONNREFUSED"
                     : error == WSAETIMEDOUT    ? "WSAETIMEDOUT (nothing came back)"
                                                : "other";
  std::printf("udp: recv after port unreachable: %d %s\n", error, name);
  closesocket(s);
  WSACleanup();
  return error == WSAECONNRESET || error == WSAECONNREFUSED || error == WSAETIMEDOUT ? 0 : 1;
}

}  // namespace

int wmain(int argc, wchar_t** argv) {
  std::wstring what = argc > 1 ? argv[1] : L"";
  if (what == L"bcrypt" && argc == 3) {
    std::string file;
    for (const wchar_t* p = argv[2]; *p; ++p) file += static_cast<char>(*p);
    return check_bcrypt(file.c_str());
  }
  if (what == L"platform") return check_platform();
  if (what == L"files" && argc == 3) {
    std::string dir;
    for (const wchar_t* p = argv[2]; *p; ++p) dir += static_cast<char>(*p);
    return check_files(dir);
  }
  if (what == L"messages" && argc == 3) return check_messages(argv[2]);
  if (what == L"udp" && argc == 3) return check_udp(_wtoi(argv[2]));
  std::fprintf(
      stderr,
      "usage: kscprobe-selftest bcrypt FILE | platform | files DIR | messages SOURCE | udp "
      "PORT\n");
  return 2;
}
