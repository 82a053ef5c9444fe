// /metrics shows each check by its Outcome (runtime/outcome.hpp), the definition the status
// page counts by: no kscprobe_probe_success before the first probe, 1 when up, 0 and one
// kscprobe_probe_failure_info{reason} when down.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "daemon/exposition/metrics_renderer.hpp"
#include "daemon/runtime/outcome.hpp"
#include "daemon/runtime/result_table.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/plan_builder.hpp"

using namespace kscprobe;

namespace {

/// 24 targets, one check each (TCP and UDP in turn), and a last probe that cycles through: not
/// probed yet, a UDP reply, a TCP success, a silent UDP port, a TCP failure, a refused UDP port.
ResultTable mixed(Detail detail) {
  test::PlanBuilder b;
  for (int i = 0; i < 24; ++i)
    b.target("t-" + std::to_string(i), Role::agent, "10.0.0." + std::to_string(i + 1))
        .check(i % 2 ? "signal_udp" : "agents_tcp", i % 2 ? Transport::udp : Transport::tcp,
               i % 2 ? 15000 : 14000);
  b.detail(detail);
  ResultTable t(b.build());
  const Reason reasons[] = {Reason::timeout, Reason::unreachable, Reason::reset};
  for (std::uint32_t i = 0; i < t.size(); ++i) {
    ProbeResult ok;
    ok.success = true;
    ok.udp_reply = i % 6 == 1;
    switch (i % 6) {
      case 0:
        break;
      case 1:
      case 2:
      case 3:
        t.record(i, ok, 100);
        break;
      case 4:
        t.record(i, ProbeResult::failure(reasons[i / 6 % 3], "failed"), 100);
        break;
      default:
        t.record(i, ProbeResult::failure(Reason::refused, "ICMP port unreachable"), 100);
    }
  }
  return t;
}

struct Shown {
  std::optional<double> success;
  std::string failure_reason;  // "" without kscprobe_probe_failure_info
};

std::map<std::string, Shown> shown_per_target(const ResultTable& t) {
  MetricsRenderer renderer;
  std::string text;
  renderer.render({&t, nullptr}, text);
  std::map<std::string, Shown> out;
  for (const test::Sample& s : test::samples_of(text, "kscprobe_probe_success"))
    out[s.label("target")].success = s.value;
  for (const test::Sample& s : test::samples_of(text, "kscprobe_probe_failure_info"))
    out[s.label("target")].failure_reason = s.label("reason");
  return out;
}

}  // namespace

TEST(OutcomeInMetrics, EachCheckIsShownByItsOutcome) {
  for (Detail detail : {Detail::full, Detail::basic, Detail::aggregate}) {
    SCOPED_TRACE(std::string(to_string(detail)));
    const ResultTable t = mixed(detail);
    const std::map<std::string, Shown> shown = shown_per_target(t);
    int counted[3] = {};
    for (std::uint32_t i = 0; i < t.size(); ++i) {
      const std::string& name = t.plan().target_of(t.plan().checks[i]).name;
      const auto it = shown.find(name);
      const Shown s = it == shown.end() ? Shown{} : it->second;
      const Outcome o = outcome_of(t.state(i));
      ++counted[static_cast<int>(o)];
      switch (o) {
        case Outcome::pending:
          EXPECT_FALSE(s.success.has_value()) << name;
          EXPECT_EQ(s.failure_reason, "") << name;
          break;
        case Outcome::up:
          // Aggregate detail names failing checks only.
          if (detail == Detail::aggregate)
            EXPECT_FALSE(s.success.has_value()) << name;
          else
            EXPECT_EQ(s.success, 1.0) << name;
          EXPECT_EQ(s.failure_reason, "") << name;
          break;
        case Outcome::down:
          // Aggregate detail names a failing check once, by its reason.
          if (detail == Detail::aggregate)
            EXPECT_FALSE(s.success.has_value()) << name;
          else
            EXPECT_EQ(s.success, 0.0) << name;
          EXPECT_EQ(s.failure_reason, to_string(t.state(i).reason)) << name;
          break;
      }
    }
    EXPECT_EQ(counted[static_cast<int>(Outcome::pending)], 4);
    EXPECT_EQ(counted[static_cast<int>(Outcome::up)], 12);
    EXPECT_EQ(counted[static_cast<int>(Outcome::down)], 8);
  }
}
