#pragma once
// A generic Windows service host: runs a body function as a service (or in a console when not
// started by the service control manager) and manages the service's registration. Nothing
// here knows about kscprobe's App (service_app.cpp does), so kscprobe-selftest.exe links it
// without the daemon. Only windows-service/ includes windows.h; this header does not.
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kscprobe::winsvc {

enum class EventType { info, warning, error };

/// Event Log entries. The numbers and texts are those of windows-service/messages.mc, compiled
/// into the executable's message table; Event Viewer shows the number as the event ID, so they
/// stay stable (alerts may filter on them). The free-text entries put their whole text in %1;
/// the others add it as detail after a fixed sentence.
enum class EventId : unsigned {
  info = 1,               ///< informational, free text
  warning = 2,            ///< warning, free text
  error = 3,              ///< error, free text
  started = 100,          ///< the service is running
  stopped = 101,          ///< the service stopped cleanly
  stop_requested = 102,   ///< a stop or shutdown control arrived
  reloaded = 103,         ///< the configuration was reloaded
  reload_rejected = 104,  ///< warning: a reload found an invalid configuration and kept the old
  start_failed = 105,     ///< error: the service could not start
  failed = 106,           ///< error: the service stopped with an error
  log_file = 107,         ///< warning: the log file cannot be opened
};

/// The severity of each entry (its message's Severity in messages.mc).
constexpr EventType event_type(EventId id) {
  switch (id) {
    case EventId::warning:
    case EventId::reload_rejected:
    case EventId::log_file:
      return EventType::warning;
    case EventId::error:
    case EventId::start_failed:
    case EventId::failed:
      return EventType::error;
    default:
      return EventType::info;
  }
}

/// The full message identifier (severity bits and number), as ReportEvent and FormatMessage take
/// it and as the message compiler numbers it.
constexpr unsigned long message_id(EventId id) {
  unsigned long severity = event_type(id) == EventType::error     ? 3
                           : event_type(id) == EventType::warning ? 2
                                                                  : 1;
  return severity << 30 | static_cast<unsigned long>(id);
}

/// What a service body sees of the service control manager.
class ServiceContext {
 public:
  virtual ~ServiceContext() = default;
  /// The body is serving: START_PENDING becomes RUNNING and stop/reload controls are accepted.
  virtual void report_running() = 0;
  /// The body is shutting down on its own (or after a stop control): STOP_PENDING.
  virtual void report_stopping() = 0;
  /// Called (on the control handler's thread) for STOP, SHUTDOWN and PRESHUTDOWN, or Ctrl-C in
  /// a console. Must only ask the body to stop (e.g. App::stop(), which is thread-safe).
  virtual void on_stop(std::function<void()> fn) = 0;
  /// Called for PARAMCHANGE and for the custom control kReloadControl (`sc control NAME 128`).
  virtual void on_reload(std::function<void()> fn) = 0;
  /// Writes to the Windows Event Log (Application log, source = the service name).
  virtual void event(EventId id, const std::string& utf8_text) = 0;
  /// A free-text entry of the given severity.
  void event(EventType type, const std::string& utf8_text) {
    event(type == EventType::error     ? EventId::error
          : type == EventType::warning ? EventId::warning
                                       : EventId::info,
          utf8_text);
  }
  /// False when running in a console (started by hand, not by the SCM).
  virtual bool is_service() const = 0;
};

/// The body: builds and runs the daemon until it stops; returns the process exit code. Before
/// report_running() the service is START_PENDING; returning before it means start failed.
using ServiceBody = std::function<int(ServiceContext& ctx, const std::vector<std::string>& args)>;

/// A user-defined control code (128..255) that reloads the configuration, like SIGHUP.
constexpr unsigned kReloadControl = 128;

struct ServiceInfo {
  std::wstring name;          ///< service and Event Log source name, e.g. L"kscprobe"
  std::wstring display_name;  ///< shown in services.msc
  std::wstring description;
};

/// Handles `PROGRAM service install [daemon flags...] | uninstall | start | stop | run [flags]`
/// from the process's own (wide) command line. Returns nullopt when argv[1] is not "service",
/// so the caller goes on with its normal command line. `run` is what the SCM starts (install
/// records it); it redirects stderr to the log file (`--log.file=`, default
/// %ProgramData%\<name>\<name>.log) when started as a service and calls `body` with the flags.
std::optional<int> handle_command_line(const ServiceInfo& info, const ServiceBody& body);

/// Runs `body` as the service `name` (or in a console with Ctrl-C as the stop control when
/// the process was not started by the SCM). Returns the body's exit code.
int run_as_service(const std::wstring& name, const ServiceBody& body,
                   const std::vector<std::string>& args);

/// The process's command line (the wide one, so any path works), as UTF-8.
std::vector<std::string> utf8_args();

/// The value of `--key=value` or `--key value` in `args`, if present.
std::optional<std::string> flag_value(const std::vector<std::string>& args, const std::string& key);

}  // namespace kscprobe::winsvc
