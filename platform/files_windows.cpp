// platform/files.hpp on Windows: std::filesystem (CMake picks this file or files_posix.cpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cwctype>
#include <filesystem>
#include <system_error>

#include "platform/files.hpp"

namespace kscprobe::platform {

namespace {

namespace fs = std::filesystem;

// The configuration's paths are UTF-8; Windows paths are UTF-16.
fs::path from_utf8(const std::string& s) { return fs::path(std::u8string(s.begin(), s.end())); }
std::string to_utf8(const fs::path& p) {
  std::u8string s = p.u8string();
  return std::string(s.begin(), s.end());
}

// * matches any run of characters, ? one character; case-insensitive.
bool wildcard_match(std::wstring_view pattern, std::wstring_view name) {
  std::size_t p = 0, n = 0, star = std::wstring_view::npos, resume = 0;
  auto same = [](wchar_t a, wchar_t b) { return std::towlower(a) == std::towlower(b); };
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == L'?' || same(pattern[p], name[n]))) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == L'*') {
      star = p++;
      resume = n;
    } else if (star != std::wstring_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == L'*') ++p;
  return p == pattern.size();
}

}  // namespace

std::vector<std::string> glob_files(const std::string& pattern, std::size_t limit) {
  std::vector<std::string> out;
  fs::path full = from_utf8(pattern);
  std::wstring last = full.filename().wstring();
  std::error_code ec;
  if (last.find_first_of(L"*?") == std::wstring::npos) {
    if (limit > 0 && fs::exists(full, ec)) out.push_back(pattern);
    return out;
  }
  fs::path dir = full.parent_path();
  for (fs::directory_iterator it(dir.empty() ? fs::path(".") : dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (out.size() >= limit) break;
    std::wstring name = it->path().filename().wstring();
    // Like glob(3): a leading dot is matched only by a leading dot.
    if (name.empty() || (name[0] == L'.' && last[0] != L'.')) continue;
    if (!wildcard_match(last, name)) continue;
    out.push_back(to_utf8(dir / it->path().filename()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<FileStamp> file_stamp(const std::string& path) {
  std::error_code ec;
  fs::path p = from_utf8(path);
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  auto mtime = fs::last_write_time(p, ec);
  if (ec) return std::nullopt;
  auto size = fs::file_size(p, ec);
  if (ec) return std::nullopt;
  FileStamp s;
  s.mtime_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
  s.size = static_cast<long long>(size);
  return s;
}

unsigned long long raise_open_file_limit() { return 0; }

bool read_small_regular_file(const std::string& path, std::size_t max_bytes, std::string* content,
                             std::string* error) {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return false;
  };
  std::error_code ec;
  const fs::path p = from_utf8(path);
  // Only files on disk: a named pipe or a device is refused before it is opened.
  if (!fs::is_regular_file(p, ec)) return fail(ec ? ec.message() : "is not a regular file");
  const auto size = fs::file_size(p, ec);
  if (ec) return fail(ec.message());
  if (size > max_bytes) return fail("is over " + std::to_string(max_bytes) + " bytes");
  std::FILE* f = ::_wfopen(p.c_str(), L"rb");
  if (f == nullptr) return fail("cannot be opened");
  std::string out(static_cast<std::size_t>(size), '\0');
  const std::size_t got = out.empty() ? 0 : std::fread(out.data(), 1, out.size(), f);
  std::fclose(f);
  out.resize(got);
  *content = std::move(out);
  return true;
}

bool readable_by_others(const std::string&) { return false; }

}  // namespace kscprobe::platform
