// The outcome of a check's last probe: the one definition that /metrics and the status page
// count by.
#include "daemon/runtime/outcome.hpp"

#include <gtest/gtest.h>

#include "tests/support/plan_builder.hpp"

using namespace kscprobe;

namespace {

ResultTable two_checks() {
  return ResultTable(test::PlanBuilder()
                         .target("ksc01", Role::server, "127.0.0.1")
                         .check("agents_tls", Transport::tls, 13000)
                         .target("pc-1", Role::agent, "127.0.0.2")
                         .check("signal_udp", Transport::udp, 15000)
                         .build());
}

}  // namespace

TEST(Outcome, PendingUntilTheFirstProbeThenTheLastProbeDecides) {
  ResultTable t = two_checks();
  EXPECT_EQ(outcome_of(t.state(0)), Outcome::pending);
  t.record(0, ProbeResult::failure(Reason::timeout, "no answer"), 100);
  EXPECT_EQ(outcome_of(t.state(0)), Outcome::down);
  ProbeResult ok;
  ok.success = true;
  t.record(0, ok, 130);
  EXPECT_EQ(outcome_of(t.state(0)), Outcome::up);
  t.record(0, ProbeResult::failure(Reason::refused, "refused"), 160);
  EXPECT_EQ(outcome_of(t.state(0)), Outcome::down);
  EXPECT_EQ(t.state(0).reason, Reason::refused);
}

// A UDP port that stayed silent (open or filtered) is up, as kscprobe_probe_success says.
TEST(Outcome, ASilentUdpPortIsUp) {
  ResultTable t = two_checks();
  ProbeResult silent;
  silent.success = true;
  silent.udp_reply = false;
  t.record(1, silent, 100);
  EXPECT_EQ(outcome_of(t.state(1)), Outcome::up);
}

// A local fault is no verdict on the target: a pending check stays pending, an up one up.
TEST(Outcome, ALocalFaultChangesNothing) {
  ResultTable t = two_checks();
  ProbeResult local = ProbeResult::failure(Reason::timeout, "EMFILE");
  local.local = LocalFault::fd_limit;
  t.record(0, local, 100);
  EXPECT_EQ(outcome_of(t.state(0)), Outcome::pending);
  ProbeResult ok;
  ok.success = true;
  t.record(0, ok, 130);
  t.record(0, local, 160);
  EXPECT_EQ(outcome_of(t.state(0)), Outcome::up);
}

// Down always comes with a reason to count it under: a failure a prober left unnamed is a
// protocol failure.
TEST(Outcome, DownAlwaysHasAReason) {
  ResultTable t = two_checks();
  ProbeResult bad;
  bad.success = false;
  t.record(0, bad, 100);
  EXPECT_EQ(outcome_of(t.state(0)), Outcome::down);
  EXPECT_EQ(t.state(0).reason, Reason::protocol);
}
