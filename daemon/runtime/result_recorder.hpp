#pragma once
// What each probe result does: it is recorded into the result table and a change of a check's
// state (down, up again) is logged. The host's own troubles are kept apart: a probe that failed on
// this host (a local fault) is counted and never recorded against its target, and a schedule
// that falls behind is said once when it starts and once when it ends. /-/ready, the status page
// and the self-metrics read the same state from here.
#include <cstdint>
#include <string>
#include <utility>

#include "daemon/runtime/local_faults.hpp"
#include "daemon/runtime/log_sink.hpp"
#include "daemon/runtime/scheduler_core.hpp"

namespace kscprobe {

class ResultTable;
class Scheduler;
struct CheckSpec;
struct OpenFileFit;
struct ProbeResult;

class ResultRecorder {
 public:
  /// `table` and `scheduler` are the daemon's, `fit` the budgets in force against the open-file
  /// limit (its owner updates it at every install); all three outlive the recorder. With
  /// `log_probes`, every result is also logged at debug level.
  ResultRecorder(ResultTable& table, const Scheduler& scheduler, const OpenFileFit& fit,
                 LogSink log, bool log_probes);

  /// A probe of check `index` of the table's plan finished (the scheduler's OnResult).
  void record(std::uint32_t index, const ProbeResult& result);

  /// The kinds of probes failing on this host now, "" when none, once the kinds whose episode
  /// ended are logged.
  std::string local_faults_now();
  /// Whether probes failed on this host within the last LocalFaults::kWindowSeconds.
  bool local_faults_active() const;
  const LocalFaults& local_faults() const { return faults_; }

  /// What limits the schedule while it falls behind, "" when it does not: a due probe has
  /// waited more than Scheduler::kBehindSeconds for a slot of its lane's budget.
  std::string falling_behind() const;
  /// Says once when the schedule starts falling behind, with what limits it, and once when it
  /// has caught up (nothing waits more than a second).
  void watch_lateness();

 private:
  void on_local_fault(const CheckSpec& check, const ProbeResult& result);
  void log_ended_local_faults();
  std::pair<Lane, double> longest_wait() const;

  ResultTable& table_;
  const Scheduler& scheduler_;
  const OpenFileFit& fit_;
  LogSink log_;
  bool log_probes_;
  LocalFaults faults_;
  bool behind_ = false;  // falling behind was logged, and its end not yet
};

}  // namespace kscprobe
