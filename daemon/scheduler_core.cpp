#include "daemon/scheduler_core.hpp"

namespace kscprobe {

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
  waiting_.clear();
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    const auto& s = slots_[i];
    if (s.interval_ms <= 0) continue;
    // Wait until the wall clock reaches the check's phase within its interval.
    std::int64_t delay = ((s.offset_ms - wall_ms) % s.interval_ms + s.interval_ms) % s.interval_ms;
    heap_.push({now_ms + delay, i});
  }
}

void SchedulerCore::adopt_running(std::uint32_t check) {
  ++in_flight_;
  if (check != kOrphan && check < state_.size()) state_[check] = State::running;
}

void SchedulerCore::drain(std::int64_t now_ms, std::vector<Start>& starts) {
  (void)now_ms;
  while (in_flight_ < max_in_flight_ && !waiting_.empty()) {
    Start s = waiting_.front();
    waiting_.pop_front();
    state_[s.check] = State::running;
    ++in_flight_;
    starts.push_back(s);
  }
}

void SchedulerCore::advance(std::int64_t now_ms, std::vector<Start>& starts) {
  while (!heap_.empty() && heap_.top().at <= now_ms) {
    Due d = heap_.top();
    heap_.pop();
    heap_.push({d.at + slots_[d.check].interval_ms, d.check});
    if (state_[d.check] != State::idle) {
      ++skipped_;  // the previous round has not finished: an overrun, counted
      continue;
    }
    state_[d.check] = State::waiting;
    waiting_.push_back({d.check, d.at});
  }
  drain(now_ms, starts);
}

void SchedulerCore::complete(std::uint32_t check, std::int64_t now_ms, std::vector<Start>& starts) {
  if (in_flight_ > 0) --in_flight_;
  if (check != kOrphan && check < state_.size() && state_[check] == State::running)
    state_[check] = State::idle;
  drain(now_ms, starts);
}

std::int64_t SchedulerCore::next_wake_ms() const { return heap_.empty() ? kNever : heap_.top().at; }

}  // namespace kscprobe
