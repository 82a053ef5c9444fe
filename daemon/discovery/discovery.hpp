#pragma once
// The runtime side of discovery: one refresh loop per `[[ksc]]` section, on the event loop. Each
// loop reads the section's password, logs in, reads the estate (ksc_inventory), turns it into
// targets and keeps the last good ones; it runs again every `refresh`, or sooner with a backoff
// after a failure, which keeps the last good targets. The daemon composes its plan with
// target_lists() (config/compose.hpp) and composes again when on_change says they changed.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/compose.hpp"
#include "config/config.hpp"
#include "config/ksc.hpp"
#include "daemon/discovery/agent_view.hpp"
#include "daemon/discovery/discovery_status.hpp"
#include "daemon/discovery/ksc_client.hpp"
#include "daemon/discovery/ksc_inventory.hpp"

namespace kscprobe::ksc {

/// Stops one run from outside (shutdown, a section removed by a reload): cancel() closes the
/// run's connection at once and the run ends with an error. Shared by the run and its owner; one
/// per run.
class RunCancel {
 public:
  void cancel();
  bool cancelled() const { return cancelled_; }
  /// cancel(), recorded as the run's time limit.
  void time_out();
  bool timed_out() const { return timed_out_; }
  /// The run's client, while it has one (run_discovery sets and clears it).
  void attach(Client* client) { client_ = client; }

 private:
  bool cancelled_ = false;
  bool timed_out_ = false;
  Client* client_ = nullptr;
};

/// What one run of a section made.
struct RunResult {
  Error error;  // kind none: success
  // On success: the targets (to_targets: sorted by name), what made none (the inventory's
  // reasons and to_targets'), the server's numeric statistics.
  std::vector<DiscoveredTarget> targets;
  std::vector<AgentView> agents;  // the server's view of each target, in the same order
  TargetStats stats;
  std::map<std::string, std::size_t> skipped;
  std::vector<Statistic> statistics;
  std::string statistics_error;
  std::size_t listed = 0;  // devices the server listed
  std::chrono::steady_clock::duration took{};
};

/**
 * One discovery of `source`, start to end: reads the password (read_ksc_password; its failure is
 * an ErrorKind::password error naming the file or variable), opens a Client on `executor`, runs
 * discover, closes the client and makes the targets. The whole run is bounded by `run_timeout`
 * (besides each request's limits.request_timeout): past it, the run is cancelled and fails with
 * ErrorKind::timeout. `cancel`, when given, stops it from outside. Never throws for I/O.
 */
boost::asio::awaitable<RunResult> run_discovery(boost::asio::any_io_executor executor,
                                                KscSource source,
                                                std::chrono::steady_clock::duration run_timeout,
                                                std::shared_ptr<RunCancel> cancel = {});

/// Whether two sections read the same server the same way and make the same targets (every
/// setting but the position in the file): a reload keeps the loop of such a section.
bool same_settings(const KscSource& a, const KscSource& b);

/// Whether two target lists are the same (name, role, address, labels), element by element.
bool same_targets(const std::vector<DiscoveredTarget>& a, const std::vector<DiscoveredTarget>& b);

/**
 * The refresh loops of every section. Event loop only: every member function must be called on
 * `executor`'s thread (single-threaded), and the loops run there as coroutines, so a refresh
 * never blocks probing beyond one step of a coroutine (the password file is a read of at most
 * 4 KiB; the JSON of one answer, at most limits.max_body_bytes, is parsed in one step).
 */
class Discovery {
 public:
  struct Options {
    /// The first retry after a failed run; each further failure doubles it, up to the
    /// section's refresh.
    std::chrono::steady_clock::duration first_retry = std::chrono::seconds(10);
    /// A whole run (every request of it) must end within this.
    std::chrono::steady_clock::duration run_timeout = std::chrono::minutes(10);
    /// Wall clock for last_success_unix (tests may fix it).
    std::function<double()> wall_clock;
    /// Told of each run's outcome: a success ("discovered N targets ..."), a failure (its
    /// message, never the password), a recovery. `warning` is true for failures.
    std::function<void(bool warning, const std::string& line)> log;
  };

  Discovery(boost::asio::any_io_executor executor, Options options);
  ~Discovery();  // stop()
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  /**
   * Installs the sections (at start, and at each reload). A section (by name) whose settings did
   * not change (same_settings) keeps its loop, its last result and its timing; a changed one
   * starts again with no targets and runs at once; a removed one stops (its run in flight is
   * cancelled) and its targets leave; a new one runs at once. Returns whether the targets changed
   * (a removed or restarted section had targets); on_change is not called for that, as the
   * caller composes its plan after a reload anyway. Sections must have unique names (a later
   * one of the same name is ignored).
   */
  bool set_sources(std::vector<KscSource> sources);

  /// Every section's targets in use (of its last successful run), in the order of the
  /// sections, each sorted by name, as views of each section's list (no copy): what the daemon
  /// composes with. Names may clash between sections and with the configuration: compose keeps
  /// the first. Valid until the next run finishes or set_sources/stop is called.
  DiscoveredTargets target_lists() const;
  /// How many targets target_lists() holds.
  std::size_t target_count() const;

  /// One snapshot per section, in the order of the sections.
  std::vector<DiscoveryStatus> status() const;

  /// The server's view of the targets in use, one entry per section (in the order of the
  /// sections; a section with no successful run yet has no list). Cheap: the lists are shared,
  /// not copied, and a refresh replaces a section's list rather than editing it.
  std::vector<AgentSection> agent_sections() const;

  /// Whether every section has finished a run (success or failure) since it (re)started: what
  /// --once waits for before it composes.
  bool settled() const;

  /// Called on the loop after a run changed the targets (a success with another target list than
  /// the one in use). It may call set_sources() or stop().
  std::function<void()> on_change;
  /// Called on the loop after every run (success or failure), after on_change when both apply.
  std::function<void()> on_run;

  /// Stops every loop and cancels the runs in flight; the targets stay as they were. Idempotent.
  void stop();

 private:
  struct Runner;
  static boost::asio::awaitable<void> loop(std::shared_ptr<Runner> runner);
  // Records a run's outcome; returns whether the targets changed and when to run again.
  std::pair<bool, std::chrono::steady_clock::duration> finish_run(Runner& runner, RunResult result);
  std::shared_ptr<Runner> start(KscSource source);
  static void halt(Runner& runner);

  boost::asio::any_io_executor executor_;
  Options options_;
  std::vector<std::shared_ptr<Runner>> runners_;  // in the order of the sections
  bool stopped_ = false;
};

}  // namespace kscprobe::ksc
