// The Asio scheduler with a fake prober on a real io_context: budget, cancellation, reload.
#include "daemon/runtime/scheduler.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>

#include "tests/support/plan_builder.hpp"

using namespace kscprobe;
namespace asio = boost::asio;

namespace {

std::shared_ptr<Plan> plan_of(int n, int interval_ms, unsigned budget) {
  test::PlanBuilder b;
  b.plan().daemon.max_in_flight = budget;
  // A connection check: max_in_flight is its lane's budget.
  b.targets("t", n, Role::agent, "127.0.0.1", "agents_tcp", Transport::tcp, 14000,
            Duration(interval_ms), Duration(interval_ms / 2));
  return b.build();
}

/// A prober that "takes" `ms` on a timer and can be cancelled.
struct FakeProber {
  asio::io_context& io;
  int ms;
  unsigned running = 0, max_running = 0, cancelled = 0, completed = 0;
  Scheduler::Launcher launcher() {
    return [this](const CheckSpec&, asio::cancellation_slot slot, Scheduler::Done done) {
      ++running;
      max_running = std::max(max_running, running);
      auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(ms));
      slot.assign([timer](asio::cancellation_type) { timer->cancel(); });
      timer->async_wait([this, timer, done](boost::system::error_code ec) {
        --running;
        ProbeResult r;
        r.success = !ec;
        if (ec) {
          ++cancelled;
          r.reason = Reason::timeout;
        }
        ++completed;
        done(r);
      });
    };
  }
};

}  // namespace

TEST(Scheduler, InFlightBudgetHoldsWhenEveryProbeIsSlow) {
  asio::io_context io;
  FakeProber fake{io, 150};
  std::map<std::uint32_t, int> results;
  Scheduler s(io.get_executor(), fake.launcher(),
              [&](std::uint32_t i, const ProbeResult&) { ++results[i]; });
  s.set_plan(plan_of(40, 400, 4), {});
  io.run_for(std::chrono::milliseconds(1300));
  EXPECT_LE(fake.max_running, 4u);
  EXPECT_EQ(fake.max_running, 4u);  // the budget is used, not just respected
  EXPECT_GT(fake.completed, 4u);
  // Waiting was measured: some probes started late because of the budget.
  EXPECT_GT(s.lag().count, 0u);
  EXPECT_GT(s.lag().sum, 0.0);
}

TEST(Scheduler, StopCancelsProbesInFlightPromptly) {
  asio::io_context io;
  FakeProber fake{io, 60000};  // would take a minute
  int recorded = 0;
  Scheduler s(io.get_executor(), fake.launcher(),
              [&](std::uint32_t, const ProbeResult&) { ++recorded; });
  s.set_plan(plan_of(8, 100, 8), {});
  asio::steady_timer t(io, std::chrono::milliseconds(250));
  t.async_wait([&](boost::system::error_code) { s.stop(); });
  auto start = std::chrono::steady_clock::now();
  io.run_for(std::chrono::seconds(5));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(fake.running, 0u);
  EXPECT_GE(fake.cancelled, 1u);
  EXPECT_EQ(s.in_flight(), 0u);
  EXPECT_EQ(recorded, 0);  // a probe cut short by shutdown is not a failure of the target
  EXPECT_LT(took, std::chrono::seconds(2));  // io ran out of work: nothing left scheduled
}

TEST(Scheduler, ReloadRemapsProbesInFlightAndDropsRemovedChecks) {
  asio::io_context io;
  FakeProber fake{io, 200};
  std::vector<std::pair<std::uint32_t, bool>> results;
  Scheduler s(io.get_executor(), fake.launcher(), [&](std::uint32_t i, const ProbeResult& r) {
    results.push_back({i, r.success});
  });
  auto p1 = plan_of(3, 1000, 10);
  s.set_plan(p1, {});
  // Let the first probes start (each check's phase is within its 1 s interval).
  io.run_for(std::chrono::milliseconds(1050));
  ASSERT_GT(fake.completed + fake.running, 0u);
  unsigned running_before = fake.running;
  results.clear();
  // New plan keeps only check 2, now at index 0.
  auto p2 = plan_of(1, 1000, 10);
  p2->targets[0].name = "t2";
  s.set_plan(p2, {SchedulerCore::kOrphan, SchedulerCore::kOrphan, 0});
  EXPECT_EQ(s.in_flight(), running_before);  // probes in flight still count
  io.run_for(std::chrono::milliseconds(300));
  for (auto& [i, ok] : results) EXPECT_EQ(i, 0u);  // never an index of the old plan
}

namespace {

// The lanes the launches of a check ran in, when every probe ends with `result` at once.
std::vector<Lane> lanes_of_rounds(const ProbeResult& result) {
  asio::io_context io;
  std::vector<Lane> lanes;
  Scheduler* self = nullptr;
  Scheduler s(
      io.get_executor(),
      [&](const CheckSpec&, asio::cancellation_slot, Scheduler::Done done) {
        lanes.push_back(self->in_flight(Lane::quiet) ? Lane::quiet : Lane::connect);
        asio::post(io, [done, result] { done(result); });
      },
      [](std::uint32_t, const ProbeResult&) {});
  self = &s;
  s.set_plan(plan_of(1, 100, 4), {});
  io.run_for(std::chrono::milliseconds(450));
  return lanes;
}

}  // namespace

// A check that got no answer waits in the quiet lane; one whose probe failed on this host (out
// of descriptors) learnt nothing about its target and stays where it was.
TEST(Scheduler, LocalFaultLeavesTheCheckInItsLane) {
  const std::vector<Lane> silent =
      lanes_of_rounds(ProbeResult::failure(Reason::timeout, "no reply"));
  ASSERT_GE(silent.size(), 2u);
  EXPECT_EQ(silent[0], Lane::connect);
  EXPECT_EQ(silent[1], Lane::quiet);

  const std::vector<Lane> local =
      lanes_of_rounds(ProbeResult::local_fault(LocalFault::fd_limit, "too many open files"));
  ASSERT_GE(local.size(), 2u);
  for (Lane lane : local) EXPECT_EQ(lane, Lane::connect);
}

// Budgets given to set_plan (fitted to the open-file limit) replace the plan's.
TEST(Scheduler, GivenBudgetsReplaceThePlans) {
  asio::io_context io;
  FakeProber fake{io, 150};
  Scheduler s(io.get_executor(), fake.launcher(), [](std::uint32_t, const ProbeResult&) {});
  auto plan = plan_of(40, 400, 16);
  EXPECT_EQ(Scheduler::plan_budgets(*plan)[0], 16u);
  s.set_plan(plan, {}, SchedulerCore::Budgets{3, 100, 1});
  EXPECT_EQ(s.budgets()[0], 3u);
  io.run_for(std::chrono::milliseconds(900));
  EXPECT_EQ(fake.max_running, 3u);
}

// The datagram lane's default follows the plan: a plan whose silent UDP checks would outnumber
// the fixed 50 000 gets room for every one of them to wait at once; a written budget stays.
TEST(Scheduler, DatagramBudgetFollowsThePlansRateTimesTimeout) {
  test::PlanBuilder small;
  small.targets("a", 1000, Role::agent, "127.0.0.1", "nagent_udp", Transport::udp, 15000,
                Duration(60000), Duration(5000));
  EXPECT_EQ(Scheduler::plan_budgets(*small.build())[1], SchedulerCore::kDefaultDatagramBudget);

  // 80 000 UDP checks every 10 s waiting up to 7.5 s: 60 000 in flight if every agent is silent.
  test::PlanBuilder big;
  big.targets("a", 80000, Role::agent, "127.0.0.1", "nagent_udp", Transport::udp, 15000,
              Duration(10000), Duration(7500));
  EXPECT_EQ(Scheduler::plan_budgets(*big.build())[1], 75001u);
  big.plan().daemon.max_datagram_in_flight = 1000;
  EXPECT_EQ(Scheduler::plan_budgets(*big.build())[1], 1000u);
}

// Lateness measured while it happens: a budget too small for the plan leaves due probes
// waiting, and the wait of the oldest one grows past whole intervals, skipped or not.
TEST(Scheduler, OldestWaitGrowsWhileTheBudgetCannotKeepUp) {
  asio::io_context io;
  FakeProber fake{io, 150};
  Scheduler s(io.get_executor(), fake.launcher(), [](std::uint32_t, const ProbeResult&) {});
  EXPECT_EQ(s.oldest_wait_seconds(Lane::connect), 0);
  s.set_plan(plan_of(40, 400, 1), {});
  io.run_for(std::chrono::milliseconds(1300));
  // 40 checks every 400 ms, 150 ms each, one at a time: most wait, some for over an interval.
  EXPECT_GT(s.queued(Lane::connect), 0u);
  EXPECT_GT(s.oldest_wait_seconds(Lane::connect), 0.4);
  EXPECT_GT(s.overdue_checks(), 0u);
  EXPECT_EQ(s.oldest_wait_seconds(Lane::datagram), 0);
}
