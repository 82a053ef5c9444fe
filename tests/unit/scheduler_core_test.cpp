#include "daemon/scheduler_core.hpp"

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
  core.complete(0, 6000, starts);
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
    for (auto& s : starts) core.complete(s.check, 100 + round, next);
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
  core.complete(0, 2100, starts);
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
  core.complete(starts[0].check, 1500, next);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].check, 2u);
  EXPECT_EQ(next[0].due_ms, 0);
}

TEST(SchedulerCore, AdoptedProbesCountAgainstTheBudgetAfterReset) {
  SchedulerCore core(2);
  core.reset(std::vector<SchedulerCore::Slot>(3, {1000, 0}), 0, 0);
  core.adopt_running(0);
  core.adopt_running(SchedulerCore::kOrphan);
  std::vector<Start> starts;
  core.advance(0, starts);
  EXPECT_TRUE(starts.empty());    // budget full with the two adopted probes
  EXPECT_EQ(core.skipped(), 1u);  // check 0 is still running from the old plan
  core.complete(SchedulerCore::kOrphan, 10, starts);
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
  core.complete(0, 1, starts);
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
      core.complete(s.check, now, none);
    }
  }
  int total = 0;
  for (int n : per_second) {
    total += n;
    EXPECT_LE(n, 30);
  }
  EXPECT_EQ(total, 600);
}
