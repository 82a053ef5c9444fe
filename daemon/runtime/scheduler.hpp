#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <list>
#include <memory>
#include <optional>

#include "collectors/probe_result.hpp"
#include "config/plan.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler_core.hpp"

namespace kscprobe {

/// Drives SchedulerCore with one steady_timer on the event loop and launches probes.
class Scheduler {
 public:
  using Done = std::function<void(ProbeResult)>;
  /// Starts a probe of `spec`; must call `done` exactly once, later (never inline), and stop
  /// soon after `slot` receives a cancellation. `spec` stays alive until `done` is called.
  using Launcher =
      std::function<void(const CheckSpec& spec, boost::asio::cancellation_slot slot, Done done)>;
  /// A probe of check `index` of the current plan finished.
  using OnResult = std::function<void(std::uint32_t index, const ProbeResult& result)>;

  Scheduler(boost::asio::any_io_executor ex, Launcher launch, OnResult on_result);
  ~Scheduler();

  /// Installs a plan. `old_to_new` maps indices of the previous plan to the new one (kOrphan
  /// where the check is gone) so probes in flight across a reload land in the right place.
  /// `budgets`: the in-flight budgets to use instead of the plan's (plan_budgets), e.g. clamped
  /// to the open-file limit.
  void set_plan(std::shared_ptr<const Plan> plan, const std::vector<std::uint32_t>& old_to_new,
                std::optional<SchedulerCore::Budgets> budgets = std::nullopt);
  /// The budgets the plan's [daemon] section asks for, per lane, the quiet lane's default
  /// (SchedulerCore::default_quiet_budget of the plan's connection checks) resolved.
  static SchedulerCore::Budgets plan_budgets(const Plan& plan);
  /// The budgets in force.
  const SchedulerCore::Budgets& budgets() const { return budgets_; }
  /// Stops scheduling and cancels every probe in flight.
  void stop();

  unsigned in_flight() const { return static_cast<unsigned>(flights_.size()); }
  unsigned in_flight(Lane lane) const { return core_.in_flight(lane); }
  std::size_t queued() const { return core_.queued(); }
  std::size_t queued(Lane lane) const { return core_.queued(lane); }
  std::uint64_t skipped() const { return core_.skipped(); }
  /// Seconds the longest-waiting due probe of `lane` has waited for a slot so far (0: none
  /// waits): lateness where it happens, before the probe starts and the lag histogram sees it.
  double oldest_wait_seconds(Lane lane) const;
  /// Checks waiting for a slot for at least their own interval (a round missed).
  std::size_t overdue_checks() const { return core_.overdue(steady_ms()); }
  /// A due probe that waits longer than this for a slot means the plan is not probed as written.
  static constexpr double kBehindSeconds = 10;
  std::uint64_t started() const { return started_; }
  /// Lag between a check's due time and its start, in seconds.
  const HistogramData& lag() const { return lag_; }
  std::int64_t last_scheduled_ms() const { return last_tick_ms_; }

  /// The budget lane of a transport's probes (quiet is decided per check at run time).
  static Lane lane_for(Transport t);

  static std::int64_t steady_ms();
  static std::int64_t wall_ms();

 private:
  struct Flight {
    std::uint32_t index;
    Lane lane;
    std::shared_ptr<const Plan> plan;
    boost::asio::cancellation_signal signal;
  };
  void arm();
  void on_timer();
  void launch(const std::vector<SchedulerCore::Start>& starts);
  void finished(std::list<Flight>::iterator it, ProbeResult r);

  boost::asio::any_io_executor ex_;
  Launcher launcher_;
  OnResult on_result_;
  boost::asio::steady_timer timer_;
  SchedulerCore core_{1};
  SchedulerCore::Budgets budgets_{};
  std::shared_ptr<const Plan> plan_;
  std::list<Flight> flights_;
  HistogramData lag_;
  std::uint64_t started_ = 0;
  std::int64_t armed_for_ = SchedulerCore::kNever;
  std::int64_t last_tick_ms_ = 0;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace kscprobe
