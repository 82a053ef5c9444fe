#include "daemon/runtime/result_table.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <optional>
#include <set>

#include "daemon/exposition/metrics_renderer.hpp"
#include "daemon/runtime/scheduler_core.hpp"
#include "tests/support/exposition.hpp"
#include "tests/unit/exposition/table_fixture.hpp"

using namespace kscprobe;
using test::make_plan;
using test::ok_tls;
using test::render;

TEST(ResultTable, RecordsCountersAndTransitions) {
  ResultTable t(make_plan());
  EXPECT_EQ(t.record(0, ok_tls(), 100), Transition::first_up);
  EXPECT_EQ(t.record(0, ok_tls(), 130), Transition::none);
  EXPECT_EQ(t.record(0, ProbeResult::failure(Reason::refused, "connection refused"), 160),
            Transition::went_down);
  EXPECT_EQ(t.record(0, ProbeResult::failure(Reason::timeout, "timeout"), 190), Transition::none);
  const auto& s = t.state(0);
  EXPECT_EQ(s.probes_total, 4u);
  EXPECT_EQ(s.failures(static_cast<int>(Reason::refused)), 1u);
  EXPECT_EQ(s.failures(static_cast<int>(Reason::timeout)), 1u);
  EXPECT_EQ(s.consecutive_failures, 2u);
  EXPECT_EQ(s.last_success_ts, 130);
  ASSERT_TRUE(s.tls());  // the certificate stays known while the port is down
  EXPECT_EQ(s.tls()->subject, "CN=ksc01");
  EXPECT_EQ(t.record(0, ok_tls(), 220), Transition::went_up);
  EXPECT_EQ(t.state(0).consecutive_failures, 0u);
  EXPECT_EQ(t.latency()[0].second.count, 3u);  // successful probes only
}

// Every silent UDP check says the same detail: the checks share one copy of it, and a success
// with a detail holds no failure counters.
TEST(ResultTable, ChecksThatSayTheSameShareTheirDetail) {
  ResultTable t(make_plan());
  ProbeResult silent;
  silent.success = true;
  silent.detail = "no reply: open|filtered";
  t.record(0, silent, 100);
  t.record(1, silent, 100);
  EXPECT_EQ(t.state(0).last_detail(), "no reply: open|filtered");
  EXPECT_TRUE(t.state(0).detail.same_copy(t.state(1).detail));
  EXPECT_EQ(t.state(1).failures(static_cast<int>(Reason::refused)), 0u);
  t.record(1, ProbeResult::failure(Reason::refused, "port unreachable (ICMP): closed"), 130);
  EXPECT_EQ(t.state(1).last_detail(), "port unreachable (ICMP): closed");
  EXPECT_EQ(t.state(0).last_detail(), "no reply: open|filtered");
  ProbeResult quiet;
  quiet.success = true;
  t.record(1, quiet, 160);
  EXPECT_EQ(t.state(1).last_detail(), "");  // no detail: none kept from before
}

// A probe that failed on this host is no result about the target: the check keeps its last
// verdict, its counters, its failure reason and its timestamps.
TEST(ResultTable, LocalFaultKeepsTheLastVerdict) {
  ResultTable t(make_plan());
  EXPECT_EQ(t.record(0, ProbeResult::local_fault(LocalFault::fd_limit, "too many open files"), 50),
            Transition::none);
  EXPECT_FALSE(t.state(0).has_result);  // still pending
  EXPECT_EQ(t.state(0).probes_total, 0u);

  EXPECT_EQ(t.record(0, ok_tls(), 100), Transition::first_up);
  EXPECT_EQ(t.record(0, ProbeResult::local_fault(LocalFault::port_range, "no local port"), 130),
            Transition::none);
  const CheckState& up = t.state(0);
  EXPECT_TRUE(up.success);
  EXPECT_EQ(up.reason, Reason::none);
  EXPECT_EQ(up.probes_total, 1u);
  EXPECT_EQ(up.consecutive_failures, 0u);
  EXPECT_EQ(up.last_probe_ts, 100);
  EXPECT_EQ(up.last_failure_ts, 0);
  for (int k = 0; k < kReasonCount; ++k) EXPECT_EQ(up.failures(k), 0u);

  t.record(0, ProbeResult::failure(Reason::timeout, "no reply"), 160);
  EXPECT_EQ(t.record(0, ProbeResult::local_fault(LocalFault::buffers, "no buffer space"), 190),
            Transition::none);
  const CheckState& down = t.state(0);
  EXPECT_FALSE(down.success);
  EXPECT_EQ(down.reason, Reason::timeout);
  EXPECT_EQ(down.last_detail(), "no reply");
  EXPECT_EQ(down.consecutive_failures, 1u);
  EXPECT_EQ(down.probes_total, 2u);
  EXPECT_EQ(down.failures(static_cast<int>(Reason::unreachable)), 0u);
  EXPECT_EQ(down.failures(static_cast<int>(Reason::timeout)), 1u);
  // Nor does it show in /metrics as a failure reason.
  const std::string text = render(t);
  EXPECT_EQ(text.find("reason=\"unreachable\""), std::string::npos);
}

TEST(ResultTable, ReloadKeepsStateOfUnchangedChecksOnly) {
  ResultTable old(make_plan());
  old.record(0, ok_tls(), 100);
  old.record(1, ProbeResult::failure(Reason::refused, "refused"), 100);
  // Same plan: both carry over.
  std::vector<std::uint32_t> map;
  ResultTable same = ResultTable::carry_over(make_plan(), old, &map);
  EXPECT_EQ(same.state(0).probes_total, 1u);
  EXPECT_EQ(same.state(1).failures(static_cast<int>(Reason::refused)), 1u);
  EXPECT_EQ(map, (std::vector<std::uint32_t>{0, 1}));
  // The administrator moved the agents port: that check starts afresh, the other keeps state.
  ResultTable moved = ResultTable::carry_over(make_plan(13010), old, &map);
  EXPECT_EQ(moved.state(0).probes_total, 0u);
  EXPECT_EQ(moved.state(1).probes_total, 1u);
  EXPECT_EQ(map[0], SchedulerCore::kOrphan);
  EXPECT_EQ(map[1], 1u);
}
