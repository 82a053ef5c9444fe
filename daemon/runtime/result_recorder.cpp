#include "daemon/runtime/result_recorder.hpp"

#include <chrono>

#include "collectors/probe_result.hpp"
#include "config/plan.hpp"
#include "daemon/runtime/open_files.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"

namespace kscprobe {

namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

ResultRecorder::ResultRecorder(ResultTable& table, const Scheduler& scheduler,
                               const OpenFileFit& fit, LogSink log, bool log_probes)
    : table_(table),
      scheduler_(scheduler),
      fit_(fit),
      log_(std::move(log)),
      log_probes_(log_probes) {}

void ResultRecorder::record(std::uint32_t index, const ProbeResult& r) {
  const Plan& plan = table_.plan();
  const CheckSpec& c = plan.checks[index];
  if (r.local != LocalFault::none) {
    on_local_fault(c, r);
    return;
  }
  log_ended_local_faults();
  watch_lateness();
  Transition t = table_.record(index, r, unix_now());
  const PlannedTarget& tgt = plan.target_of(c);
  if (log_probes_ && log_.enabled(LogLevel::debug)) {
    log_.write(LogLevel::debug, "probe",
               {{"target", tgt.name},
                {"check", c.check},
                {"success", r.success ? "1" : "0"},
                {"reason", std::string(to_string(r.reason))},
                {"duration", std::to_string(r.duration)},
                {"detail", r.detail}});
  }
  if (t == Transition::went_down || t == Transition::first_down) {
    log_.write(LogLevel::warn,
               t == Transition::went_down ? "check down" : "check down at first probe",
               {{"target", tgt.name},
                {"check", c.check},
                {"address", c.address},
                {"port", std::to_string(c.port)},
                {"reason", std::string(to_string(r.reason))},
                {"detail", r.detail}});
  } else if (t == Transition::went_up) {
    log_.write(LogLevel::info, "check up",
               {{"target", tgt.name},
                {"check", c.check},
                {"port", std::to_string(c.port)},
                {"detail", r.detail}});
  }
}

/// Counted, logged when a kind starts failing, never recorded against its target.
void ResultRecorder::on_local_fault(const CheckSpec& c, const ProbeResult& r) {
  if (!faults_.note(r.local, steady_now())) return;
  log_.write(LogLevel::error,
             "probes are failing on this host, not on the network; their targets keep "
             "their last verdict",
             {{"kind", std::string(to_string(r.local))},
              {"check", c.check},
              {"address", c.address},
              {"detail", r.detail},
              {"open_files_limit", std::to_string(fit_.limit)},
              {"max_in_flight", std::to_string(scheduler_.budgets()[0])},
              {"what_to_do", std::string(remedy(r.local))}});
}

/// Local faults whose episode ended: said once each.
void ResultRecorder::log_ended_local_faults() {
  for (LocalFault kind : faults_.take_ended(steady_now())) {
    log_.write(LogLevel::info, "probes no longer fail on this host",
               {{"kind", std::string(to_string(kind))},
                {"probes", std::to_string(faults_.in_episode(kind))}});
  }
}

std::string ResultRecorder::local_faults_now() {
  log_ended_local_faults();
  return faults_.describe(steady_now());
}

bool ResultRecorder::local_faults_active() const { return faults_.active(steady_now()); }

/// The lane whose longest-waiting due probe has waited longest for a slot, and how long.
std::pair<Lane, double> ResultRecorder::longest_wait() const {
  std::pair<Lane, double> worst{Lane::connect, 0};
  for (int l = 0; l < kLaneCount; ++l) {
    const double waited = scheduler_.oldest_wait_seconds(static_cast<Lane>(l));
    if (waited > worst.second) worst = {static_cast<Lane>(l), waited};
  }
  return worst;
}

std::string ResultRecorder::falling_behind() const {
  const auto [lane, waited] = longest_wait();
  if (waited <= Scheduler::kBehindSeconds) return "";
  const int l = static_cast<int>(lane);
  return "lane " + std::string(to_string(lane)) + ": a due probe has waited " +
         std::to_string(static_cast<long long>(waited)) + " s for a slot (budget " +
         std::to_string(scheduler_.budgets()[l]) + ", " +
         std::to_string(scheduler_.in_flight(lane)) + " in flight, " +
         std::to_string(scheduler_.queued(lane)) + " queued" +
         (fit_.clamped ? ", budgets lowered to the open-file limit " + std::to_string(fit_.limit)
                       : std::string()) +
         ")";
}

void ResultRecorder::watch_lateness() {
  if (!behind_) {
    const std::string why = falling_behind();
    if (why.empty()) return;
    behind_ = true;
    log_.write(LogLevel::warn,
               "falling behind: due probes wait for a slot, results get older than the interval",
               {{"limit", why},
                {"open_files_limit", std::to_string(fit_.limit)},
                {"what_to_do",
                 "raise the budget of that lane ([daemon] max_in_flight, max_quiet_in_flight, "
                 "max_datagram_in_flight), lower timeouts, lengthen intervals, or shard"}});
  } else if (longest_wait().second < 1) {
    behind_ = false;
    log_.write(LogLevel::info, "caught up: due probes start on time again",
               {{"skipped_total", std::to_string(scheduler_.skipped())}});
  }
}

}  // namespace kscprobe
