#include "daemon/runtime/scheduler_core.hpp"

#include <algorithm>
#include <cmath>

namespace kscprobe {

std::string_view to_string(Lane lane) {
  switch (lane) {
    case Lane::connect:
      return "connect";
    case Lane::datagram:
      return "datagram";
    case Lane::quiet:
      return "quiet";
  }
  return "connect";
}

std::int64_t SchedulerCore::offset_for(std::string_view key, std::int64_t interval_ms) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // Final avalanche so keys differing only in their last characters spread too.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return interval_ms > 0 ? static_cast<std::int64_t>(h % static_cast<std::uint64_t>(interval_ms))
                         : 0;
}

void SchedulerCore::reset(std::vector<Slot> slots, std::int64_t now_ms, std::int64_t wall_ms) {
  slots_ = std::move(slots);
  state_.assign(slots_.size(), State::idle);
  heap_ = {};
  for (auto& w : waiting_) w.clear();
  queued_ = 0;
  std::vector<Due> due;
  due.reserve(slots_.size());
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    const auto& s = slots_[i];
    if (s.interval_ms <= 0) continue;
    // Wait until the wall clock reaches the check's phase within its interval.
    std::int64_t delay = ((s.offset_ms - wall_ms) % s.interval_ms + s.interval_ms) % s.interval_ms;
    due.push_back({now_ms + delay, i});
  }
  // Heapify in one pass: O(n) instead of n pushes, which matters for 200 000 checks on reload.
  heap_ = decltype(heap_)(std::greater<Due>(), std::move(due));
}

void SchedulerCore::adopt_running(std::uint32_t check, Lane lane) {
  ++in_flight_[static_cast<int>(lane)];
  if (check != kOrphan && check < state_.size()) state_[check] = State::running;
}

void SchedulerCore::set_quiet(std::uint32_t check, bool quiet) {
  if (check >= slots_.size()) return;
  Lane& lane = slots_[check].lane;
  if (lane == Lane::datagram) return;
  // A check already waiting stays in the queue it is in; the change applies to its next round.
  lane = quiet ? Lane::quiet : Lane::connect;
}

void SchedulerCore::drain(std::vector<Start>& starts) {
  for (int l = 0; l < kLaneCount; ++l) {
    auto& queue = waiting_[l];
    while (in_flight_[l] < budget_[l] && !queue.empty()) {
      Start s = queue.front();
      queue.pop_front();
      --queued_;
      state_[s.check] = State::running;
      ++in_flight_[l];
      starts.push_back(s);
    }
  }
}

void SchedulerCore::advance(std::int64_t now_ms, std::vector<Start>& starts) {
  while (!heap_.empty() && heap_.top().at <= now_ms) {
    Due d = heap_.top();
    heap_.pop();
    const Slot& slot = slots_[d.check];
    heap_.push({d.at + slot.interval_ms, d.check});
    if (state_[d.check] != State::idle) {
      ++skipped_;  // the previous round has not finished: an overrun, counted
      continue;
    }
    state_[d.check] = State::waiting;
    waiting_[static_cast<int>(slot.lane)].push_back({d.check, d.at, slot.lane});
    ++queued_;
  }
  drain(starts);
}

void SchedulerCore::complete(std::uint32_t check, Lane lane, std::int64_t now_ms,
                             std::vector<Start>& starts) {
  (void)now_ms;
  unsigned& n = in_flight_[static_cast<int>(lane)];
  if (n > 0) --n;
  if (check != kOrphan && check < state_.size() && state_[check] == State::running)
    state_[check] = State::idle;
  drain(starts);
}

std::size_t SchedulerCore::overdue(std::int64_t now_ms) const {
  std::size_t n = 0;
  for (const auto& queue : waiting_) {
    for (const Start& s : queue) {
      const std::int64_t interval = slots_[s.check].interval_ms;
      if (interval > 0 && now_ms - s.due_ms >= interval) ++n;
    }
  }
  return n;
}

std::int64_t SchedulerCore::next_wake_ms() const { return heap_.empty() ? kNever : heap_.top().at; }

unsigned SchedulerCore::default_datagram_budget(double datagram_in_flight) {
  const double wanted =
      std::min<double>(std::ceil(datagram_in_flight * 1.25) + 1, kMaxDefaultDatagramBudget);
  return std::max(kDefaultDatagramBudget, static_cast<unsigned>(wanted));
}

unsigned SchedulerCore::default_quiet_budget(unsigned connect, double silent_in_flight) {
  const unsigned floor = connect / 4 ? connect / 4 : 1;
  const double wanted =
      std::min<double>(std::ceil(silent_in_flight * 1.25) + 1, kMaxDefaultQuietBudget);
  return silent_in_flight > 0 ? std::max(floor, static_cast<unsigned>(wanted)) : floor;
}

}  // namespace kscprobe
