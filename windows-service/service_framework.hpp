#pragma once
// A generic Windows service host: runs a body function as a service (or in a console when not
// started by the service control manager) and manages the service's registration. Nothing
// here knows about kscprobe's App, so the full MSVC build and the reduced mingw-w64 build
// share it. Only windows-service/ includes windows.h; this header does not.
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kscprobe::winsvc {

enum class EventType { info, warning, error };

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
  virtual void event(EventType type, const std::string& utf8_text) = 0;
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

/// The value of `--key=value` or `--key value` in `args`, if present.
std::optional<std::string> flag_value(const std::vector<std::string>& args, const std::string& key);

}  // namespace kscprobe::winsvc
