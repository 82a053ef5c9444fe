#include "windows-service/service_framework.hpp"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// windows.h first: shellapi.h needs its types.
#include <fcntl.h>
#include <io.h>
#include <shellapi.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

namespace kscprobe::winsvc {

namespace {

std::string to_utf8(const std::wstring& w) {
  if (w.empty()) return {};
  int n = WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0, nullptr,
                              nullptr);
  std::string out(static_cast<std::size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), out.data(), n, nullptr,
                      nullptr);
  return out;
}

std::wstring to_wide(const std::string& s) {
  if (s.empty()) return {};
  int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), out.data(), n);
  return out;
}

std::string last_error_text(DWORD code = GetLastError()) {
  wchar_t* buf = nullptr;
  FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&buf), 0, nullptr);
  std::wstring text = buf ? buf : L"";
  if (buf) LocalFree(buf);
  while (!text.empty() && (text.back() == L'\n' || text.back() == L'\r')) text.pop_back();
  return to_utf8(text) + " (error " + std::to_string(code) + ")";
}

std::wstring module_path() {
  std::wstring path(MAX_PATH, L'\0');
  for (;;) {
    DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (n < path.size()) {
      path.resize(n);
      return path;
    }
    path.resize(path.size() * 2);
  }
}

// Quoting for CreateProcess-style command lines (CommandLineToArgvW's rules).
std::wstring quote_arg(const std::wstring& a) {
  if (!a.empty() && a.find_first_of(L" \t\"") == std::wstring::npos) return a;
  std::wstring out = L"\"";
  std::size_t backslashes = 0;
  for (wchar_t c : a) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"')
      out.append(backslashes * 2 + 1, L'\\');
    else
      out.append(backslashes, L'\\');
    backslashes = 0;
    out += c;
  }
  out.append(backslashes * 2, L'\\');
  return out + L"\"";
}

std::wstring default_log_path(const std::wstring& name) {
  wchar_t buf[MAX_PATH];
  DWORD n = GetEnvironmentVariableW(L"ProgramData", buf, MAX_PATH);
  std::wstring base = (n > 0 && n < MAX_PATH) ? std::wstring(buf, n) : L"C:\\ProgramData";
  return base + L"\\" + name + L"\\" + name + L".log";
}

// Points standard error (the daemon's log) at `path`, appending. The daemon's logger writes to
// the Win32 standard error handle (daemon/logging.cpp), which is set last, to the file itself,
// whatever the C runtime did. The C runtime's descriptor 2 and stderr stream (a few messages of
// the host print there) follow where the runtime lets them: a process started without standard
// handles has stderr on descriptor -2, which the UCRT documents freopen for, and which msvcrt
// (mingw-w64's runtime) keeps, at least under wine.
bool redirect_stderr(const std::wstring& path) {
  HANDLE fh = CreateFileW(path.c_str(), FILE_APPEND_DATA,
                          FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                          OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (fh == INVALID_HANDLE_VALUE) return false;
  // The descriptor owns `fh` from now on and is never closed: the handle stays valid.
  int fd = _open_osfhandle(reinterpret_cast<intptr_t>(fh), _O_APPEND | _O_WRONLY | _O_BINARY);
  if (fd >= 0 && fd != 2) _dup2(fd, 2);
  if (_fileno(stderr) != 2) _wfreopen(path.c_str(), L"a", stderr);
  SetStdHandle(STD_ERROR_HANDLE, fh);
  return true;
}

std::wstring event_log_key(const std::wstring& name) {
  return L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" + name;
}

const char* state_name(DWORD s) {
  switch (s) {
    case SERVICE_STOPPED:
      return "STOPPED";
    case SERVICE_START_PENDING:
      return "START_PENDING";
    case SERVICE_STOP_PENDING:
      return "STOP_PENDING";
    case SERVICE_RUNNING:
      return "RUNNING";
    case SERVICE_CONTINUE_PENDING:
      return "CONTINUE_PENDING";
    case SERVICE_PAUSE_PENDING:
      return "PAUSE_PENDING";
    case SERVICE_PAUSED:
      return "PAUSED";
  }
  return "UNKNOWN";
}

struct ScHandle {
  SC_HANDLE h = nullptr;
  explicit ScHandle(SC_HANDLE v) : h(v) {}
  ~ScHandle() {
    if (h) CloseServiceHandle(h);
  }
  ScHandle(const ScHandle&) = delete;
  ScHandle& operator=(const ScHandle&) = delete;
  explicit operator bool() const { return h != nullptr; }
};

// The one service this process hosts; the SCM's callbacks carry no user pointer to
// ServiceMain, so it is reached through a global.
class Host final : public ServiceContext {
 public:
  Host(std::wstring name, const ServiceBody& body, std::vector<std::string> args)
      : name_(std::move(name)), body_(body), args_(std::move(args)) {}
  ~Host() override {
    if (event_source_) DeregisterEventSource(event_source_);
  }

  void report_running() override { set_state(SERVICE_RUNNING); }
  void report_stopping() override { set_state(SERVICE_STOP_PENDING, 0, 10000); }
  void on_stop(std::function<void()> fn) override {
    bool already;
    {
      std::lock_guard lk(mu_);
      stop_fn_ = std::move(fn);
      already = stop_requested_;
    }
    // A stop control that arrived while the body was still starting is not lost.
    if (already) request_stop();
  }
  void on_reload(std::function<void()> fn) override {
    std::lock_guard lk(mu_);
    reload_fn_ = std::move(fn);
  }
  using ServiceContext::event;
  void event(EventId id, const std::string& utf8_text) override {
    if (!event_source_) event_source_ = RegisterEventSourceW(nullptr, name_.c_str());
    if (!event_source_) return;
    EventType type = event_type(id);
    WORD t = type == EventType::error     ? EVENTLOG_ERROR_TYPE
             : type == EventType::warning ? EVENTLOG_WARNING_TYPE
                                          : EVENTLOG_INFORMATION_TYPE;
    std::wstring text = to_wide(utf8_text);
    const wchar_t* strings[] = {text.c_str()};
    // The message (windows-service/messages.mc) is looked up by its full identifier.
    ReportEventW(event_source_, t, 0, message_id(id), nullptr, 1, 0, strings, nullptr);
  }
  bool is_service() const override { return service_; }

  void request_stop() {
    std::function<void()> fn;
    {
      std::lock_guard lk(mu_);
      stop_requested_ = true;
      fn = stop_fn_;
    }
    if (fn) fn();
  }
  void request_reload() {
    std::function<void()> fn;
    {
      std::lock_guard lk(mu_);
      fn = reload_fn_;
    }
    if (fn) fn();
  }

  void set_state(DWORD state, DWORD exit_code = 0, DWORD wait_hint = 0) {
    std::lock_guard lk(mu_);
    state_ = state;
    if (!handle_) return;
    SERVICE_STATUS st{};
    st.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    st.dwCurrentState = state;
    // Controls are accepted only while running: a stop during start is remembered by on_stop,
    // and a stop during STOP_PENDING has nothing left to do.
    st.dwControlsAccepted =
        state == SERVICE_RUNNING
            ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE
            : 0;
    if (state == SERVICE_START_PENDING) st.dwControlsAccepted = SERVICE_ACCEPT_STOP;
    if (exit_code != 0) {
      st.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
      st.dwServiceSpecificExitCode = exit_code;
    }
    bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
    st.dwCheckPoint = pending ? ++checkpoint_ : 0;
    st.dwWaitHint = pending ? (wait_hint ? wait_hint : 30000) : 0;
    SetServiceStatus(handle_, &st);
  }
  DWORD state() {
    std::lock_guard lk(mu_);
    return state_;
  }

  static DWORD WINAPI control(DWORD code, DWORD, LPVOID, LPVOID ctx) {
    auto* self = static_cast<Host*>(ctx);
    switch (code) {
      case SERVICE_CONTROL_STOP:
      case SERVICE_CONTROL_SHUTDOWN:
        self->event(EventId::stop_requested,
                    code == SERVICE_CONTROL_STOP ? "stop requested" : "system shutdown");
        self->set_state(SERVICE_STOP_PENDING, 0, 10000);
        self->request_stop();
        return NO_ERROR;
      case SERVICE_CONTROL_PARAMCHANGE:
      case kReloadControl:
        self->request_reload();
        return NO_ERROR;
      case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
      default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
  }

  static void WINAPI service_main(DWORD, LPWSTR*);
  static BOOL WINAPI console_control(DWORD type);

  int run_body() {
    try {
      return body_(*this, args_);
    } catch (const std::exception& e) {
      event(EventId::failed, std::string("unexpected error: ") + e.what());
      std::fprintf(stderr, "kscprobe: unexpected error: %s\n", e.what());
      return 1;
    }
  }

  std::wstring name_;
  const ServiceBody& body_;
  std::vector<std::string> args_;
  SERVICE_STATUS_HANDLE handle_ = nullptr;
  bool service_ = false;
  int exit_code_ = 0;

 private:
  std::mutex mu_;
  std::function<void()> stop_fn_, reload_fn_;
  bool stop_requested_ = false;
  DWORD state_ = SERVICE_STOPPED;
  DWORD checkpoint_ = 0;
  HANDLE event_source_ = nullptr;
};

Host* g_host = nullptr;

void WINAPI Host::service_main(DWORD, LPWSTR*) {
  Host& h = *g_host;
  h.service_ = true;
  h.handle_ = RegisterServiceCtrlHandlerExW(h.name_.c_str(), &Host::control, &h);
  if (!h.handle_) {
    h.exit_code_ = 1;
    return;
  }
  h.set_state(SERVICE_START_PENDING);
  // A service has no console: its standard error (every log line) goes to the log file.
  auto log_path = flag_value(h.args_, "--log.file");
  std::wstring path = log_path ? to_wide(*log_path) : default_log_path(h.name_);
  std::wstring dir = path.substr(0, path.find_last_of(L"\\/"));
  CreateDirectoryW(dir.c_str(), nullptr);
  if (!redirect_stderr(path)) {
    DWORD err = GetLastError();
    h.event(EventId::log_file, to_utf8(path) + ": " + last_error_text(err));
  }
  h.event(EventType::info, "starting; log file " + to_utf8(path));
  h.exit_code_ = h.run_body();
  if (h.exit_code_)
    h.event(EventId::failed, "exit code " + std::to_string(h.exit_code_));
  else
    h.event(EventId::stopped, "exit code 0");
  std::fflush(stderr);
  h.set_state(SERVICE_STOPPED, static_cast<DWORD>(h.exit_code_));
}

BOOL WINAPI Host::console_control(DWORD type) {
  if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT || type == CTRL_CLOSE_EVENT) {
    if (g_host) g_host->request_stop();
    return TRUE;
  }
  return FALSE;
}

std::vector<std::wstring> wide_args() {
  int argc = 0;
  wchar_t** argv = CommandLineToArgvW(GetCommandLineW(), &argc);
  std::vector<std::wstring> out;
  for (int i = 0; i < argc; ++i) out.emplace_back(argv[i]);
  LocalFree(argv);
  return out;
}

// Polls the service until it reaches `want` (or leaves the pending state towards something
// else); returns the last state seen.
DWORD wait_state(SC_HANDLE svc, DWORD want, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  SERVICE_STATUS_PROCESS st{};
  DWORD needed = 0;
  for (;;) {
    if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, reinterpret_cast<LPBYTE>(&st), sizeof st,
                              &needed))
      return SERVICE_STOPPED;
    if (st.dwCurrentState == want) return want;
    bool pending =
        st.dwCurrentState == SERVICE_START_PENDING || st.dwCurrentState == SERVICE_STOP_PENDING;
    if (!pending || std::chrono::steady_clock::now() > end) return st.dwCurrentState;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int install(const ServiceInfo& info, const std::vector<std::wstring>& flags) {
  // The service starts in %SystemRoot%\System32: a relative config path must become absolute.
  std::wstring cmd = quote_arg(module_path()) + L" service run";
  std::wstring account = L"NT AUTHORITY\\LocalService";
  for (const auto& f : flags) {
    std::wstring arg = f;
    const std::wstring cfg = L"--config.file=", acct = L"--service.account=";
    if (arg.rfind(acct, 0) == 0) {
      account = arg.substr(acct.size());
      continue;
    }
    if (arg.rfind(cfg, 0) == 0) {
      wchar_t full[MAX_PATH];
      DWORD n = GetFullPathNameW(arg.substr(cfg.size()).c_str(), MAX_PATH, full, nullptr);
      if (n > 0 && n < MAX_PATH) arg = cfg + full;
    }
    cmd += L" " + quote_arg(arg);
  }
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE));
  if (!scm) {
    std::fprintf(stderr, "kscprobe: cannot open the service manager (run as administrator): %s\n",
                 last_error_text().c_str());
    return 1;
  }
  bool local_system = account.empty() || account == L"LocalSystem";
  ScHandle svc(CreateServiceW(
      scm.h, info.name.c_str(), info.display_name.c_str(), SERVICE_ALL_ACCESS,
      SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, cmd.c_str(), nullptr,
      nullptr, nullptr, local_system ? nullptr : account.c_str(), local_system ? nullptr : L""));
  if (!svc) {
    std::fprintf(stderr, "kscprobe: cannot create the service: %s\n", last_error_text().c_str());
    return 1;
  }
  std::wstring desc = info.description;
  SERVICE_DESCRIPTIONW d{desc.data()};
  ChangeServiceConfig2W(svc.h, SERVICE_CONFIG_DESCRIPTION, &d);
  // Restart after a crash or a non-zero exit, like systemd's Restart=on-failure.
  SC_ACTION actions[3] = {
      {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 30000}};
  SERVICE_FAILURE_ACTIONSW fa{};
  fa.dwResetPeriod = 86400;
  fa.cActions = 3;
  fa.lpsaActions = actions;
  if (!ChangeServiceConfig2W(svc.h, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
    std::fprintf(stderr, "kscprobe: warning: no restart-on-failure policy: %s\n",
                 last_error_text().c_str());
  SERVICE_FAILURE_ACTIONS_FLAG flag{TRUE};
  ChangeServiceConfig2W(svc.h, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag);

  // Event Log source, so Event Viewer attributes the entries to the service.
  HKEY key = nullptr;
  if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, event_log_key(info.name).c_str(), 0, nullptr, 0,
                      KEY_SET_VALUE, nullptr, &key, nullptr) == ERROR_SUCCESS) {
    std::wstring exe = module_path();
    RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ,
                   reinterpret_cast<const BYTE*>(exe.c_str()),
                   static_cast<DWORD>((exe.size() + 1) * sizeof(wchar_t)));
    DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
    RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, reinterpret_cast<const BYTE*>(&types),
                   sizeof types);
    RegCloseKey(key);
  }
  std::wstring log_dir = default_log_path(info.name);
  log_dir = log_dir.substr(0, log_dir.find_last_of(L'\\'));
  CreateDirectoryW(log_dir.c_str(), nullptr);
  std::printf("installed service %s: %s\n", to_utf8(info.name).c_str(), to_utf8(cmd).c_str());
  return 0;
}

int uninstall(const ServiceInfo& info) {
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  ScHandle svc(
      scm ? OpenServiceW(scm.h, info.name.c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE)
          : nullptr);
  if (!svc) {
    std::fprintf(stderr, "kscprobe: cannot open the service: %s\n", last_error_text().c_str());
    return 1;
  }
  SERVICE_STATUS st{};
  if (ControlService(svc.h, SERVICE_CONTROL_STOP, &st))
    wait_state(svc.h, SERVICE_STOPPED, std::chrono::seconds(30));
  if (!DeleteService(svc.h)) {
    std::fprintf(stderr, "kscprobe: cannot delete the service: %s\n", last_error_text().c_str());
    return 1;
  }
  RegDeleteKeyW(HKEY_LOCAL_MACHINE, event_log_key(info.name).c_str());
  std::printf("uninstalled service %s\n", to_utf8(info.name).c_str());
  return 0;
}

int control(const ServiceInfo& info, const std::wstring& verb) {
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  ScHandle svc(scm ? OpenServiceW(scm.h, info.name.c_str(),
                                  SERVICE_START | SERVICE_STOP | SERVICE_QUERY_STATUS |
                                      SERVICE_PAUSE_CONTINUE | SERVICE_USER_DEFINED_CONTROL)
                   : nullptr);
  if (!svc) {
    std::fprintf(stderr, "kscprobe: cannot open the service: %s\n", last_error_text().c_str());
    return 1;
  }
  DWORD want = SERVICE_RUNNING;
  SERVICE_STATUS st{};
  if (verb == L"start") {
    if (!StartServiceW(svc.h, 0, nullptr)) {
      std::fprintf(stderr, "kscprobe: cannot start: %s\n", last_error_text().c_str());
      return 1;
    }
  } else if (verb == L"stop") {
    want = SERVICE_STOPPED;
    if (!ControlService(svc.h, SERVICE_CONTROL_STOP, &st)) {
      std::fprintf(stderr, "kscprobe: cannot stop: %s\n", last_error_text().c_str());
      return 1;
    }
  } else if (verb == L"reload") {
    if (!ControlService(svc.h, kReloadControl, &st)) {
      std::fprintf(stderr, "kscprobe: cannot reload: %s\n", last_error_text().c_str());
      return 1;
    }
  }
  DWORD got = verb == L"status" || verb == L"reload"
                  ? wait_state(svc.h, SERVICE_RUNNING, std::chrono::seconds(0))
                  : wait_state(svc.h, want, std::chrono::seconds(30));
  std::printf("%s\n", state_name(got));
  return got == want ? 0 : 1;
}

}  // namespace

std::vector<std::string> utf8_args() {
  std::vector<std::string> out;
  for (const auto& a : wide_args()) out.push_back(to_utf8(a));
  return out;
}

std::optional<std::string> flag_value(const std::vector<std::string>& args,
                                      const std::string& key) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].rfind(key + "=", 0) == 0) return args[i].substr(key.size() + 1);
    if (args[i] == key && i + 1 < args.size()) return args[i + 1];
  }
  return std::nullopt;
}

int run_as_service(const std::wstring& name, const ServiceBody& body,
                   const std::vector<std::string>& args) {
  // Never destroyed: reporting STOPPED lets the dispatcher return here while the service thread
  // is still on its way out of ServiceMain (and holding the host's lock), and the process ends
  // right after anyway.
  Host& host = *new Host(name, body, args);
  g_host = &host;
  std::wstring n = name;
  SERVICE_TABLE_ENTRYW table[] = {{n.data(), &Host::service_main}, {nullptr, nullptr}};
  int code;
  if (StartServiceCtrlDispatcherW(table)) {
    code = host.exit_code_;
  } else if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
    // Started by hand: run in the console, Ctrl-C standing in for the stop control.
    SetConsoleCtrlHandler(&Host::console_control, TRUE);
    code = host.run_body();
    SetConsoleCtrlHandler(&Host::console_control, FALSE);
  } else {
    std::fprintf(stderr, "kscprobe: service dispatcher failed: %s\n", last_error_text().c_str());
    code = 1;
  }
  return code;
}

std::optional<int> handle_command_line(const ServiceInfo& info, const ServiceBody& body) {
  auto argv = wide_args();
  if (argv.size() < 2 || argv[1] != L"service") return std::nullopt;
  std::wstring verb = argv.size() > 2 ? argv[2] : L"";
  std::vector<std::wstring> rest(argv.begin() + std::min<std::size_t>(3, argv.size()), argv.end());
  if (verb == L"install") return install(info, rest);
  if (verb == L"uninstall") return uninstall(info);
  if (verb == L"start" || verb == L"stop" || verb == L"status" || verb == L"reload")
    return control(info, verb);
  if (verb == L"run") {
    std::vector<std::string> args;
    for (const auto& a : rest) args.push_back(to_utf8(a));
    return run_as_service(info.name, body, args);
  }
  std::fprintf(stderr,
               "usage: kscprobe service install [--config.file=FILE] [--web.listen-address=ADDR]"
               " [--log.file=FILE] [--service.account=ACCOUNT]\n"
               "       kscprobe service uninstall|start|stop|status|reload\n"
               "       kscprobe service run [flags]   (what the service manager starts)\n");
  return 2;
}

}  // namespace kscprobe::winsvc
