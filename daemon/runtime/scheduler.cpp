#include "daemon/runtime/scheduler.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>

#include "collectors/wake_grid.hpp"

namespace kscprobe {

namespace asio = boost::asio;

Lane Scheduler::lane_for(Transport t) {
  return t == Transport::udp || t == Transport::icmp ? Lane::datagram : Lane::connect;
}

std::int64_t Scheduler::steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t Scheduler::wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Scheduler::Scheduler(asio::any_io_executor ex, Launcher launch, OnResult on_result)
    : ex_(ex), launcher_(std::move(launch)), on_result_(std::move(on_result)), timer_(ex) {}

Scheduler::~Scheduler() {
  *alive_ = false;
  for (auto& f : flights_) f.signal.emit(asio::cancellation_type::terminal);
}

SchedulerCore::Budgets Scheduler::plan_budgets(const Plan& plan) {
  // Probes in flight, per lane, if every target went silent: each check waits timeout out of
  // every interval.
  std::array<double, kLaneCount> silent_in_flight{};
  for (const auto& c : plan.checks) {
    const std::int64_t iv = c.interval.count();
    if (iv > 0)
      silent_in_flight[static_cast<int>(lane_for(c.transport))] +=
          std::min(1.0, static_cast<double>(c.timeout.count()) / iv);
  }
  const DaemonConfig& d = plan.daemon;
  const auto datagram = silent_in_flight[static_cast<int>(Lane::datagram)];
  const auto connect = silent_in_flight[static_cast<int>(Lane::connect)];
  return SchedulerCore::Budgets{
      d.max_in_flight,
      d.max_datagram_in_flight ? d.max_datagram_in_flight
                               : SchedulerCore::default_datagram_budget(datagram),
      d.max_quiet_in_flight ? d.max_quiet_in_flight
                            : SchedulerCore::default_quiet_budget(d.max_in_flight, connect)};
}

void Scheduler::set_plan(std::shared_ptr<const Plan> plan,
                         const std::vector<std::uint32_t>& old_to_new,
                         std::optional<SchedulerCore::Budgets> budgets) {
  plan_ = std::move(plan);
  std::vector<SchedulerCore::Slot> slots;
  slots.reserve(plan_->checks.size());
  for (const auto& c : plan_->checks) {
    std::int64_t iv = c.interval.count();
    slots.push_back(
        {iv, SchedulerCore::offset_for(c.key(plan_->target_of(c)), iv), lane_for(c.transport)});
  }
  budgets_ = budgets ? *budgets : plan_budgets(*plan_);
  SchedulerCore core(budgets_);
  core.reset(std::move(slots), steady_ms(), wall_ms());
  // Probes still running from the previous plan keep their budget slot; the ones whose check
  // survived are remapped so their result is recorded and they are not started twice.
  for (auto& f : flights_) {
    std::uint32_t ni = SchedulerCore::kOrphan;
    if (f.index != SchedulerCore::kOrphan && f.index < old_to_new.size()) ni = old_to_new[f.index];
    f.index = ni;
    core.adopt_running(ni, f.lane);
  }
  core_ = std::move(core);
  armed_for_ = SchedulerCore::kNever;
  if (!stopped_) arm();
}

double Scheduler::oldest_wait_seconds(Lane lane) const {
  const std::int64_t due = core_.oldest_waiting_due_ms(lane);
  if (due == SchedulerCore::kNever) return 0;
  return std::max<std::int64_t>(0, steady_ms() - due) / 1000.0;
}

void Scheduler::stop() {
  stopped_ = true;
  core_.halt();
  timer_.cancel();
  for (auto& f : flights_) f.signal.emit(asio::cancellation_type::terminal);
}

void Scheduler::arm() {
  std::int64_t next = core_.next_wake_ms();
  if (next == SchedulerCore::kNever) return;
  // Checks due within one step of the wake grid start together, in one wake-up of the loop.
  next = on_wake_grid_ms(next);
  if (next == armed_for_) return;
  armed_for_ = next;
  timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::milliseconds(next)));
  timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!*alive || ec || stopped_) return;
    on_timer();
  });
}

void Scheduler::on_timer() {
  armed_for_ = SchedulerCore::kNever;
  std::int64_t now = steady_ms();
  last_tick_ms_ = now;
  std::vector<SchedulerCore::Start> starts;
  core_.advance(now, starts);
  launch(starts);
  arm();
}

void Scheduler::launch(const std::vector<SchedulerCore::Start>& starts) {
  if (starts.empty()) return;
  std::int64_t now = steady_ms();
  for (const auto& s : starts) {
    lag_.observe(static_cast<double>(now - s.due_ms) / 1000.0);
    ++started_;
    auto it = flights_.emplace(flights_.end());
    it->index = s.check;
    it->lane = s.lane;
    it->plan = plan_;
    const CheckSpec& spec = plan_->checks[s.check];
    launcher_(spec, it->signal.slot(), [this, it, alive = alive_](ProbeResult r) {
      if (!*alive) return;
      finished(it, std::move(r));
    });
  }
}

void Scheduler::finished(std::list<Flight>::iterator it, ProbeResult r) {
  std::uint32_t index = it->index;
  Lane lane = it->lane;
  flights_.erase(it);
  // A probe cancelled by stop() says nothing about the target: do not record it.
  if (!stopped_ && index != SchedulerCore::kOrphan) {
    // No answer at all: the next rounds wait in the quiet lane until the target answers again.
    // A local fault says nothing of the target, so the check stays in the lane it is in.
    if (r.local == LocalFault::none) core_.set_quiet(index, r.reason == Reason::timeout);
    if (on_result_) on_result_(index, r);
  }
  std::vector<SchedulerCore::Start> starts;
  core_.complete(index, lane, steady_ms(), starts);
  if (!stopped_) launch(starts);
}

}  // namespace kscprobe
