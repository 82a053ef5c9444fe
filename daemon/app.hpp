#pragma once
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/compose.hpp"
#include "config/config.hpp"
#include "config/plan.hpp"
#include "daemon/metric_outputs.hpp"
#include "daemon/plan_composer.hpp"

namespace kscprobe {

/// Hooks for service managers (systemd notify, Windows service control). Each is optional and
/// runs on the event loop's thread.
struct LifecycleHooks {
  std::function<void()> ready;            ///< listener up and the first plan scheduled
  std::function<void()> reloading;        ///< a reload starts
  std::function<void(bool ok)> reloaded;  ///< a reload ended (ok: new plan running)
  std::function<void()> stopping;         ///< shutdown begins
  /// Called every `heartbeat_interval` from the loop itself, so a stuck loop stops calling it
  /// (systemd's watchdog). Zero: never.
  std::function<void()> heartbeat;
  std::chrono::milliseconds heartbeat_interval{0};
};

struct AppOptions {
  /// Path of the TOML file; re-read on every reload. Empty when config_text is used.
  std::string config_file;
  /// In-memory TOML (demo mode); `config_name` names it in messages.
  std::string config_text;
  std::string config_name = "demo.toml";
  /// exporter-toolkit web configuration (YAML); when set it replaces the file's [web] section.
  std::string web_config_file;
  std::string listen_address = ":9851";
  /// An already listening TCP socket to serve on instead of binding listen_address (socket
  /// activation). -1: none.
  int listen_fd = -1;
  LifecycleHooks hooks;
  /// Textfile and Pushgateway outputs (off unless a path / URL is set).
  MetricOutputOptions outputs;
  /// Every probe result is logged at debug level when set.
  bool log_probes = false;
  /// --shard, overriding the file's [daemon] shard.
  std::optional<Shard> shard;
  /// The open-file limit the budgets must fit (daemon/runtime/open_files.hpp); 0: the process's
  /// own, after raising its soft limit to the hard one.
  unsigned long long open_file_limit = 0;
};

/// The daemon: event loop users, scheduler, result table, HTTP endpoint, signals, reload (the
/// parts are put together in app.cpp; composing the plan is PlanComposer's).
class App {
 public:
  App(boost::asio::io_context& io, AppOptions options);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  /// Loads the config, binds the listener and starts probing. On failure prints every error
  /// and returns false (nothing keeps running).
  bool start();
  /// Re-reads the config. A valid one is swapped in (unchanged checks keep their state); an
  /// invalid one is logged with its errors and the running plan stays. Returns success.
  bool reload();
  /// Stops the listener, cancels probes in flight, then stops the io_context (within ~1 s).
  /// Safe to call from any thread.
  void stop();
  /// Requests a reload from any thread (e.g. a service control handler).
  void request_reload();

  /// "host:port" of the HTTP listener.
  std::string listen_address() const;
  /// The running plan (never null after a successful start()).
  std::shared_ptr<const Plan> plan() const;
  /// /metrics text, as served.
  std::string render_metrics() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The configuration sources of `options` (file or text, --web.config.file, --shard), for
/// compose (config/compose.hpp): the daemon's start and reload, load_plan and --config.check.
ConfigSources config_sources(const AppOptions& options);

/// load_plan (daemon/plan_composer.hpp) of the configuration sources of `options`: --once.
LoadedPlan load_plan(const AppOptions& options, boost::asio::io_context* io = nullptr);

}  // namespace kscprobe
