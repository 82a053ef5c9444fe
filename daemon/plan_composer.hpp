#pragma once
// Composing a plan and putting it to work, in one place. The daemon's start, a reload (SIGHUP,
// POST /-/reload, the service's control), a change of the target files and a discovery run that
// changed the targets all go through PlanComposer::apply: compose, refuse a configuration with
// errors (the running plan stays), build the web security, install. --once composes through
// load_plan. A new target source belongs here.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/compose.hpp"
#include "config/config.hpp"
#include "config/plan.hpp"

namespace boost::asio {
class io_context;
}

namespace kscprobe {

class HttpServer;
class ProbeEndpoint;
class ResultTable;
class Scheduler;
struct OpenFileFit;
struct WebSecurity;
namespace ksc {
class Discovery;
}

/// What load_plan made: a plan, or the errors that stopped it (CONTRIBUTING.md: a result with
/// positioned errors).
struct LoadedPlan {
  /// Set when `errors` is empty.
  std::shared_ptr<const Plan> plan;
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty() && plan != nullptr; }
};

/// Composes `sources` with their target files into a plan, or returns the errors; a target file
/// error fails too (--once). With `io`, each [[ksc]] section's devices are discovered once first
/// (on `io`), and a section that cannot be read is an error too.
LoadedPlan load_plan(const ConfigSources& sources, boost::asio::io_context* io = nullptr);

class PlanComposer {
 public:
  /// Why a plan is composed: start and reload read the configuration again; a change of the
  /// target files or of the discovered targets composes the last good configuration again.
  enum class Reason { start, reload, target_files, discovery };

  struct Options {
    ConfigSources sources;
    /// The open-file limit the budgets must fit (daemon/runtime/open_files.hpp); 0: the
    /// process's own, after raising its soft limit to the hard one at start.
    unsigned long long open_file_limit = 0;
    /// The metric outputs that run (MetricOutputOptions::count()), a descriptor each.
    unsigned outputs = 0;
  };

  /// What a plan is installed into: the daemon's, outliving the composer.
  struct Targets {
    HttpServer& http;
    ResultTable& table;
    Scheduler& scheduler;
    ProbeEndpoint& probe;
  };

  PlanComposer(boost::asio::io_context& io, Targets targets, Options options);
  ~PlanComposer();
  PlanComposer(const PlanComposer&) = delete;
  PlanComposer& operator=(const PlanComposer&) = delete;

  /// Runs once the new plan's web security is on the listener and before the plan runs; false
  /// stops the apply (at start: the listener could not be bound).
  using Gate = std::function<bool()>;

  /// Composes a plan for `reason` and installs it, carrying over the state of every check that
  /// did not change. A configuration or web configuration with errors is logged (and appended to
  /// `*error_text` when given) and the running plan stays; target file errors are logged and
  /// the files keep their last good targets. Returns whether a new plan runs.
  bool apply(Reason reason, std::string* error_text = nullptr, const Gate& gate = {});
  /// Stops watching the target files and discovering (shutdown).
  void stop();

  /// What messages call the configuration: its file, or the in-memory text's name.
  const std::string& config_name() const;
  /// Whether the last load of the configuration succeeded, and when the last one did.
  bool last_load_ok() const;
  double last_load_success_unix() const;
  /// The budgets in force against the open-file limit.
  const OpenFileFit& fit() const;
  /// The listener's TLS and users in force (after a successful apply).
  const WebSecurity& security() const;
  /// Whether the configuration has [[ksc]] sections; their refresh loops are discovery().
  bool discovers() const;
  const ksc::Discovery& discovery() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kscprobe
