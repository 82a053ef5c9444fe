#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <queue>
#include <string_view>
#include <vector>

namespace kscprobe {

/// The in-flight budget is split in lanes, so one kind of probe cannot starve another.
enum class Lane : std::uint8_t {
  /// TCP, TLS and HTTP(S) probes: each holds a socket and a file descriptor.
  connect,
  /// UDP and ICMP probes: they share a few sockets and cost only a pending entry while they wait
  /// for a reply; silence until the deadline is their usual outcome, so they get a budget of
  /// their own instead of holding connection slots for a whole timeout.
  datagram,
  /// Connection probes of checks whose last probe got no answer at all (offline laptops,
  /// filtered ports): they would hold a slot for the whole timeout, so they wait in a smaller
  /// budget of their own and never delay the checks that answer.
  quiet,
};
inline constexpr int kLaneCount = 3;
std::string_view to_string(Lane lane);

/// The scheduling logic without clocks or sockets, so it can be driven by a fake clock in tests.
///
/// Each check is due every `interval_ms` at a stable phase `offset_ms` of the wall clock (due
/// times t satisfy t ≡ offset (mod interval) in unix milliseconds), so checks are spread over
/// their interval and a restart does not bunch them up. At most `budget[lane]` probes of a lane
/// run at once; due checks beyond that wait in FIFO order per lane. A check that comes due while
/// its previous probe is still running or waiting is skipped and counted (an overrun), never
/// run twice.
class SchedulerCore {
 public:
  static constexpr std::uint32_t kOrphan = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  struct Slot {
    std::int64_t interval_ms = 0;
    std::int64_t offset_ms = 0;
    Lane lane = Lane::connect;  // Lane::datagram, or Lane::connect (quiet is set at run time)
  };
  struct Start {
    std::uint32_t check = 0;
    std::int64_t due_ms = 0;  // when it should have started; now - due is the lag
    Lane lane = Lane::connect;
  };
  using Budgets = std::array<unsigned, kLaneCount>;

  /// Budgets per lane, in Lane's order.
  explicit SchedulerCore(Budgets budgets) { set_budgets(budgets); }
  /// One budget for connections; the other lanes get defaults derived from it.
  explicit SchedulerCore(unsigned max_in_flight)
      : SchedulerCore(
            Budgets{max_in_flight, kDefaultDatagramBudget, default_quiet_budget(max_in_flight)}) {}

  static constexpr unsigned kDefaultDatagramBudget = 50000;
  /// The datagram lane's budget when none is configured: enough for every UDP and ICMP check to
  /// wait at once (`datagram_in_flight`, the sum of timeout / interval over them, with a quarter
  /// of headroom), at least kDefaultDatagramBudget, at most kMaxDefaultDatagramBudget. A plan
  /// whose silent datagrams outnumber a fixed budget would otherwise fall behind by design.
  static unsigned default_datagram_budget(double datagram_in_flight);
  static constexpr unsigned kMaxDefaultDatagramBudget = 250000;
  /// The quiet lane's budget when none is configured: enough for every connection check to be
  /// silent at once (`silent_in_flight`, the sum of timeout / interval over them, with a quarter
  /// of headroom for the starts that share a wake-up), at least a quarter of the connection
  /// budget, at most kMaxDefaultQuietBudget. So a share of hosts going dark never gets their
  /// probes skipped, and the lane still bounds what they hold.
  static unsigned default_quiet_budget(unsigned connect, double silent_in_flight = 0);
  static constexpr unsigned kMaxDefaultQuietBudget = 16384;

  /// Replaces the schedule. Probes already in flight keep counting against the budget.
  void reset(std::vector<Slot> slots, std::int64_t now_ms, std::int64_t wall_ms);
  /// Records that a probe of `check` (or kOrphan) is already running in `lane`, e.g. across a
  /// reload.
  void adopt_running(std::uint32_t check, Lane lane);
  /// Forgets every due and waiting check (shutdown): nothing more will start.
  void halt() {
    heap_ = {};
    for (auto& w : waiting_) w.clear();
    queued_ = 0;
  }
  void set_budgets(Budgets budgets) {
    for (auto& b : budgets) b = b == 0 ? 1 : b;
    budget_ = budgets;
  }
  /// Moves a connection check to the quiet lane (its last probe got no answer) or back. Takes
  /// effect from its next round. Datagram checks stay where they are.
  void set_quiet(std::uint32_t check, bool quiet);

  /// Starts due checks (appended to `starts`) within the budget; queues the rest.
  void advance(std::int64_t now_ms, std::vector<Start>& starts);
  /// A probe of `check` (or kOrphan) that ran in `lane` finished: frees its budget slot, may
  /// start waiting checks.
  void complete(std::uint32_t check, Lane lane, std::int64_t now_ms, std::vector<Start>& starts);

  /// Monotonic time of the next due check, or kNever.
  std::int64_t next_wake_ms() const;

  unsigned in_flight() const { return in_flight_[0] + in_flight_[1] + in_flight_[2]; }
  unsigned in_flight(Lane lane) const { return in_flight_[static_cast<int>(lane)]; }
  std::size_t queued() const { return queued_; }
  std::size_t queued(Lane lane) const { return waiting_[static_cast<int>(lane)].size(); }
  std::uint64_t skipped() const { return skipped_; }
  /// Due time of the probe waiting longest in `lane`'s queue (its front: queues are FIFO in due
  /// order), or kNever when none waits.
  std::int64_t oldest_waiting_due_ms(Lane lane) const {
    const auto& queue = waiting_[static_cast<int>(lane)];
    return queue.empty() ? kNever : queue.front().due_ms;
  }
  /// Checks that have waited for a slot for at least their own interval at `now_ms`: they
  /// missed a whole round. A walk over the queues (a scrape's cost, not a probe's).
  std::size_t overdue(std::int64_t now_ms) const;
  std::size_t size() const { return slots_.size(); }
  Lane lane_of(std::uint32_t check) const { return slots_[check].lane; }

  /// Stable phase in [0, interval) for a check key (FNV-1a), so restarts keep the spread.
  static std::int64_t offset_for(std::string_view key, std::int64_t interval_ms);

 private:
  enum class State : std::uint8_t { idle, waiting, running };
  struct Due {
    std::int64_t at;
    std::uint32_t check;
    bool operator>(const Due& o) const { return at != o.at ? at > o.at : check > o.check; }
  };
  void drain(std::vector<Start>& starts);

  Budgets budget_{};
  std::array<unsigned, kLaneCount> in_flight_{};
  std::uint64_t skipped_ = 0;
  std::size_t queued_ = 0;
  std::vector<Slot> slots_;
  std::vector<State> state_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> heap_;
  std::array<std::deque<Start>, kLaneCount> waiting_;
};

}  // namespace kscprobe
