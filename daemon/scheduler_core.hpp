#pragma once
#include <cstdint>
#include <deque>
#include <limits>
#include <queue>
#include <string_view>
#include <vector>

namespace kscprobe {

/// The scheduling logic without clocks or sockets, so it can be driven by a fake clock in tests.
///
/// Each check is due every `interval_ms` at a stable phase `offset_ms` of the wall clock (due
/// times t satisfy t ≡ offset (mod interval) in unix milliseconds), so checks are spread over
/// their interval and a restart does not bunch them up. At most `max_in_flight` probes run at
/// once; due checks beyond that wait in FIFO order. A check that comes due while its previous
/// probe is still running or waiting is skipped and counted (an overrun), never run twice.
class SchedulerCore {
 public:
  static constexpr std::uint32_t kOrphan = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  struct Slot {
    std::int64_t interval_ms = 0;
    std::int64_t offset_ms = 0;
  };
  struct Start {
    std::uint32_t check = 0;
    std::int64_t due_ms = 0;  // when it should have started; now - due is the lag
  };

  explicit SchedulerCore(unsigned max_in_flight) : max_in_flight_(max_in_flight) {}

  /// Replaces the schedule. Probes already in flight keep counting against the budget.
  void reset(std::vector<Slot> slots, std::int64_t now_ms, std::int64_t wall_ms);
  /// Records that a probe of `check` (or kOrphan) is already running, e.g. across a reload.
  void adopt_running(std::uint32_t check);
  /// Forgets every due and waiting check (shutdown): nothing more will start.
  void halt() {
    heap_ = {};
    waiting_.clear();
  }
  void set_max_in_flight(unsigned n) { max_in_flight_ = n == 0 ? 1 : n; }

  /// Starts due checks (appended to `starts`) within the budget; queues the rest.
  void advance(std::int64_t now_ms, std::vector<Start>& starts);
  /// A probe of `check` (or kOrphan) finished: frees its budget slot, may start waiting checks.
  void complete(std::uint32_t check, std::int64_t now_ms, std::vector<Start>& starts);

  /// Monotonic time of the next due check, or kNever.
  std::int64_t next_wake_ms() const;

  unsigned in_flight() const { return in_flight_; }
  std::size_t queued() const { return waiting_.size(); }
  std::uint64_t skipped() const { return skipped_; }
  std::size_t size() const { return slots_.size(); }

  /// Stable phase in [0, interval) for a check key (FNV-1a), so restarts keep the spread.
  static std::int64_t offset_for(std::string_view key, std::int64_t interval_ms);

 private:
  enum class State : std::uint8_t { idle, waiting, running };
  struct Due {
    std::int64_t at;
    std::uint32_t check;
    bool operator>(const Due& o) const { return at != o.at ? at > o.at : check > o.check; }
  };
  void drain(std::int64_t now_ms, std::vector<Start>& starts);

  unsigned max_in_flight_;
  unsigned in_flight_ = 0;
  std::uint64_t skipped_ = 0;
  std::vector<Slot> slots_;
  std::vector<State> state_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> heap_;
  std::deque<Start> waiting_;
};

}  // namespace kscprobe
