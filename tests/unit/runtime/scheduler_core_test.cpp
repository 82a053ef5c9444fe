#include "daemon/runtime/scheduler_core.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

using namespace kscprobe;
using Start = SchedulerCore::Start;

TEST(SchedulerCore, OffsetIsStableAndWithinInterval) {
  for (int i = 0; i < 1000; ++i) {
    std::string key = "agent-" + std::to_string(i) + "/signal_udp";
    auto a = SchedulerCore::offset_for(key, 60000);
    EXPECT_EQ(a, SchedulerCore::offset_for(key, 60000));
    EXPECT_GE(a, 0);
    EXPECT_LT(a, 60000);
  }
}

TEST(SchedulerCore, OffsetsSpreadEvenlyAcrossTheInterval) {
  // 20 000 checks of one interval: each tenth of the interval gets close to a tenth of them.
  std::array<int, 10> bins{};
  for (int i = 0; i < 20000; ++i) {
    auto o = SchedulerCore::offset_for("pc-" + std::to_string(i) + "/signal_udp", 60000);
    ++bins[o / 6000];
  }
  for (int b : bins) {
    EXPECT_GT(b, 1800);
    EXPECT_LT(b, 2200);
  }
}

TEST(SchedulerCore, FirstRunWaitsForThePhaseThenRepeatsEveryInterval) {
  SchedulerCore core(10);
  // Wall clock 10 300 ms, interval 1 s, phase 250 ms: next wall time with that phase is 11 250.
  core.reset({{1000, 250}}, /*now*/ 5000, /*wall*/ 10300);
  EXPECT_EQ(core.next_wake_ms(), 5000 + 950);
  std::vector<Start> starts;
  core.advance(5949, starts);
  EXPECT_TRUE(starts.empty());
  core.advance(5950, starts);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].check, 0u);
  EXPECT_EQ(starts[0].due_ms, 5950);
  EXPECT_EQ(core.next_wake_ms(), 6950);
  starts.clear();
  core.complete(0, Lane::connect, 6000, starts);
  core.advance(6950, starts);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].due_ms, 6950);
}

TEST(SchedulerCore, BudgetLimitsInFlightAndQueuesTheRestInOrder) {
  SchedulerCore core(3);
  std::vector<SchedulerCore::Slot> slots(10, {1000, 0});
  core.reset(slots, 0, 0);
  std::vector<Start> starts;
  core.advance(0, starts);
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(core.in_flight(), 3u);
  EXPECT_EQ(core.queued(), 7u);
  std::vector<std::uint32_t> order;
  for (auto& s : starts) order.push_back(s.check);
  // Finishing probes releases slots one by one; every check starts exactly once.
  for (int round = 0; round < 10 && !starts.empty(); ++round) {
    std::vector<Start> next;
    for (auto& s : starts) core.complete(s.check, Lane::connect, 100 + round, next);
    for (auto& s : next) {
      order.push_back(s.check);
      EXPECT_EQ(s.due_ms, 0);  // lag = now - due is measurable
    }
    EXPECT_LE(core.in_flight(), 3u);
    starts = next;
  }
  std::set<std::uint32_t> unique(order.begin(), order.end());
  EXPECT_EQ(order.size(), 10u);
  EXPECT_EQ(unique.size(), 10u);
  EXPECT_EQ(core.skipped(), 0u);
}

TEST(SchedulerCore, OverrunIsCountedNotRunTwice) {
  SchedulerCore core(5);
  core.reset({{1000, 0}}, 0, 0);
  std::vector<Start> starts;
  core.advance(0, starts);
  ASSERT_EQ(starts.size(), 1u);
  starts.clear();
  core.advance(1000, starts);  // still running
  core.advance(2000, starts);  // still running
  EXPECT_TRUE(starts.empty());
  EXPECT_EQ(core.skipped(), 2u);
  core.complete(0, Lane::connect, 2100, starts);
  core.advance(3000, starts);
  EXPECT_EQ(starts.size(), 1u);
}

TEST(SchedulerCore, SilentChecksHoldingTheBudgetDelayButNeverDropOthers) {
  // Budget 2, 2 checks stuck (never complete) and 4 healthy ones: the healthy ones wait,
  // the stuck ones are skipped on their next rounds, and the queue never grows past the checks.
  SchedulerCore core(2);
  core.reset(std::vector<SchedulerCore::Slot>(6, {1000, 0}), 0, 0);
  std::vector<Start> starts;
  core.advance(0, starts);
  ASSERT_EQ(starts.size(), 2u);
  core.advance(1000, starts);
  EXPECT_EQ(starts.size(), 2u);
  EXPECT_EQ(core.queued(), 4u);
  // All six came due again: two still running, four still waiting; none is queued twice.
  EXPECT_EQ(core.skipped(), 6u);
  EXPECT_EQ(core.queued(), 4u);
  // Once a stuck probe ends (its timeout), the oldest waiting check takes its slot.
  std::vector<Start> next;
  core.complete(starts[0].check, Lane::connect, 1500, next);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].check, 2u);
  EXPECT_EQ(next[0].due_ms, 0);
}

TEST(SchedulerCore, AdoptedProbesCountAgainstTheBudgetAfterReset) {
  SchedulerCore core(2);
  core.reset(std::vector<SchedulerCore::Slot>(3, {1000, 0}), 0, 0);
  core.adopt_running(0, Lane::connect);
  core.adopt_running(SchedulerCore::kOrphan, Lane::connect);
  std::vector<Start> starts;
  core.advance(0, starts);
  EXPECT_TRUE(starts.empty());    // budget full with the two adopted probes
  EXPECT_EQ(core.skipped(), 1u);  // check 0 is still running from the old plan
  core.complete(SchedulerCore::kOrphan, Lane::connect, 10, starts);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].check, 1u);
}

TEST(SchedulerCore, HaltStopsEverything) {
  SchedulerCore core(1);
  core.reset(std::vector<SchedulerCore::Slot>(3, {1000, 0}), 0, 0);
  std::vector<Start> starts;
  core.advance(0, starts);
  core.halt();
  starts.clear();
  core.complete(0, Lane::connect, 1, starts);
  EXPECT_TRUE(starts.empty());
  EXPECT_EQ(core.next_wake_ms(), SchedulerCore::kNever);
}

TEST(SchedulerCore, ProbesOfOneIntervalAreSpreadOverIt) {
  // 600 checks, 60 s interval: no second of the interval starts more than 3x its fair share.
  SchedulerCore core(1000);
  std::vector<SchedulerCore::Slot> slots;
  for (int i = 0; i < 600; ++i)
    slots.push_back({60000, SchedulerCore::offset_for("t" + std::to_string(i) + "/c", 60000)});
  core.reset(slots, 0, 0);
  std::array<int, 60> per_second{};
  std::vector<Start> starts;
  for (std::int64_t now = 0; now < 60000; now += 100) {
    starts.clear();
    core.advance(now, starts);
    for (auto& s : starts) {
      ++per_second[now / 1000];
      std::vector<Start> none;
      core.complete(s.check, Lane::connect, now, none);
    }
  }
  int total = 0;
  for (int n : per_second) {
    total += n;
    EXPECT_LE(n, 30);
  }
  EXPECT_EQ(total, 600);
}

TEST(SchedulerCore, DatagramProbesHaveABudgetOfTheirOwn) {
  // Connection budget 2, datagram budget 100: 50 silent UDP checks waiting for their deadline
  // do not take a connection slot, and 3 TCP checks still run two at a time.
  SchedulerCore core(SchedulerCore::Budgets{2, 100, 1});
  std::vector<SchedulerCore::Slot> slots(50, {1000, 0, Lane::datagram});
  for (int i = 0; i < 3; ++i) slots.push_back({1000, 0, Lane::connect});
  core.reset(slots, 0, 0);
  std::vector<Start> starts;
  core.advance(0, starts);
  EXPECT_EQ(starts.size(), 52u);
  EXPECT_EQ(core.in_flight(Lane::datagram), 50u);
  EXPECT_EQ(core.in_flight(Lane::connect), 2u);
  EXPECT_EQ(core.queued(Lane::connect), 1u);
  EXPECT_EQ(core.queued(), 1u);
  // A TCP probe ends: the waiting TCP check starts, though every UDP probe is still pending.
  std::vector<Start> next;
  core.complete(50, Lane::connect, 10, next);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].check, 52u);
  EXPECT_EQ(next[0].lane, Lane::connect);
}

TEST(SchedulerCore, ChecksWithoutAnswerWaitInTheQuietLaneAndNeverDelayHealthyOnes) {
  // 20 connection checks, budget 4, quiet budget 1. Checks 0..9 belong to offline hosts: after
  // their first (timed out) round they move to the quiet lane, where one at a time holds a slot,
  // and the 10 healthy checks get the whole connection budget at once.
  SchedulerCore core(SchedulerCore::Budgets{4, 10, 1});
  core.reset(std::vector<SchedulerCore::Slot>(20, {10000, 0}), 0, 0);
  for (std::uint32_t i = 0; i < 10; ++i) core.set_quiet(i, true);
  std::vector<Start> starts;
  core.advance(0, starts);
  // One quiet probe (check 0) and four healthy ones (10..13).
  ASSERT_EQ(starts.size(), 5u);
  std::set<std::uint32_t> started;
  for (const auto& s : starts) started.insert(s.check);
  EXPECT_EQ(started, (std::set<std::uint32_t>{0, 10, 11, 12, 13}));
  EXPECT_EQ(core.in_flight(Lane::quiet), 1u);
  EXPECT_EQ(core.queued(Lane::quiet), 9u);
  // Healthy probes answer in 1 ms each: all ten finish while the quiet one still waits.
  std::vector<Start> next;
  for (std::uint32_t c : {10u, 11u, 12u, 13u}) core.complete(c, Lane::connect, 1, next);
  std::vector<Start> more;
  for (const auto& s : next) core.complete(s.check, Lane::connect, 2, more);
  next.insert(next.end(), more.begin(), more.end());
  started.clear();
  for (const auto& s : next) started.insert(s.check);
  EXPECT_EQ(started, (std::set<std::uint32_t>{14, 15, 16, 17, 18, 19}));
  EXPECT_EQ(core.queued(Lane::connect), 0u);
  // A quiet host that answers again goes back to the connection lane for its next round.
  core.set_quiet(0, false);
  EXPECT_EQ(core.lane_of(0), Lane::connect);
  // Datagram checks never move.
  SchedulerCore udp(SchedulerCore::Budgets{1, 1, 1});
  udp.reset({{1000, 0, Lane::datagram}}, 0, 0);
  udp.set_quiet(0, true);
  EXPECT_EQ(udp.lane_of(0), Lane::datagram);
}

TEST(SchedulerCore, ResetOfTwoHundredThousandChecksKeepsEveryPhase) {
  SchedulerCore core(256);
  std::vector<SchedulerCore::Slot> slots;
  for (int i = 0; i < 200000; ++i)
    slots.push_back({60000, SchedulerCore::offset_for("pc-" + std::to_string(i) + "/s", 60000),
                     Lane::datagram});
  core.reset(slots, 0, 0);
  std::vector<Start> starts;
  std::int64_t last_due = -1;
  for (std::int64_t now = 0; now < 60000; ++now) {
    std::size_t before = starts.size();
    core.advance(now, starts);
    for (std::size_t i = before; i < starts.size(); ++i) {
      EXPECT_GE(starts[i].due_ms, last_due);  // started in due order
      last_due = starts[i].due_ms;
      std::vector<Start> none;
      core.complete(starts[i].check, starts[i].lane, now, none);
    }
  }
  EXPECT_EQ(starts.size(), 200000u);
  EXPECT_EQ(core.skipped(), 0u);
}

// The quiet lane's default follows the plan: every connection check silent at once fits, with
// headroom; at least a quarter of the connection budget; bounded.
TEST(SchedulerCore, DefaultQuietBudgetFollowsThePlan) {
  EXPECT_EQ(SchedulerCore::default_quiet_budget(256), 64u);
  EXPECT_EQ(SchedulerCore::default_quiet_budget(256, 10), 64u);  // a small estate: the floor
  // 4 000 checks every second with a 0.5 s timeout: 2 000 in flight if all go silent.
  EXPECT_EQ(SchedulerCore::default_quiet_budget(256, 2000), 2501u);
  EXPECT_EQ(SchedulerCore::default_quiet_budget(256, 1e9), SchedulerCore::kMaxDefaultQuietBudget);
  EXPECT_EQ(SchedulerCore::default_quiet_budget(2, 0), 1u);
}

// The datagram lane's default: every UDP and ICMP check waiting at once fits, with headroom; the
// fixed default at least; bounded (each waiting datagram holds memory).
TEST(SchedulerCore, DefaultDatagramBudgetFollowsThePlan) {
  EXPECT_EQ(SchedulerCore::default_datagram_budget(0), SchedulerCore::kDefaultDatagramBudget);
  // The 100 000-agent estate: 200 000 UDP checks every 60 s, 5 s timeout: 16 667 at once.
  EXPECT_EQ(SchedulerCore::default_datagram_budget(16667), SchedulerCore::kDefaultDatagramBudget);
  // Five times that with the same timeout: 83 334 at once.
  EXPECT_EQ(SchedulerCore::default_datagram_budget(83334), 104169u);
  EXPECT_EQ(SchedulerCore::default_datagram_budget(1e9), SchedulerCore::kMaxDefaultDatagramBudget);
}

// Lateness where it happens: how long the longest-waiting due probe of a lane has waited, and
// the checks that waited a whole interval, while nothing is skipped (issue 19: a queue that
// grows within the interval never shows in kscprobe_scheduler_skipped_total).
TEST(SchedulerCore, OldestWaitingAndOverdueWhileNothingIsSkipped) {
  SchedulerCore core(SchedulerCore::Budgets{1, 10, 1});
  // Four connection checks due at 0 every 10 s, one slot: three wait.
  core.reset(std::vector<SchedulerCore::Slot>(4, {10000, 0}), 0, 0);
  EXPECT_EQ(core.oldest_waiting_due_ms(Lane::connect), SchedulerCore::kNever);
  std::vector<Start> starts;
  core.advance(0, starts);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(core.queued(Lane::connect), 3u);
  EXPECT_EQ(core.oldest_waiting_due_ms(Lane::connect), 0);
  EXPECT_EQ(core.oldest_waiting_due_ms(Lane::datagram), SchedulerCore::kNever);
  EXPECT_EQ(core.overdue(9999), 0u);
  // The running probe takes 9.5 s; the next one starts, two still wait since 0.
  starts.clear();
  core.complete(0, Lane::connect, 9500, starts);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(core.oldest_waiting_due_ms(Lane::connect), 0);
  EXPECT_EQ(core.skipped(), 0u);
  // A whole interval later they are overdue; the next round skips the ones still waiting.
  EXPECT_EQ(core.overdue(10000), 2u);
  starts.clear();
  core.advance(10000, starts);
  EXPECT_GT(core.skipped(), 0u);
  EXPECT_EQ(core.overdue(10000), 2u);
}
