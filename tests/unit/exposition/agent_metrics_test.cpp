// The server's side of discovered agents in /metrics (daemon/exposition/metrics_renderer.cpp):
// the kscprobe_ksc_* families per detail level, and kscprobe_agent_diagnosis joined from the
// result table and the sections' agent lists, line by line.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "daemon/exposition/metrics_renderer.hpp"
#include "daemon/runtime/result_table.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/plan_builder.hpp"

namespace kscprobe {
namespace {

constexpr double kNow = 1'800'000'000;
constexpr std::int64_t kFresh = 1'800'000'000 - 300;     // 5 minutes ago
constexpr std::int64_t kStale = 1'800'000'000 - 86'400;  // a day ago

using TargetLabels = std::vector<std::pair<std::string, std::string>>;

TargetLabels discovered(std::string id, std::string server = "ksc01") {
  return {{"ksc_host_id", std::move(id)}, {"ksc_server", std::move(server)}};
}

// Targets: a stale agent whose ports are refused, a fresh one, one that never connected (not
// probed yet), a stale DP that answers ICMP, and a configured target that shares a discovered
// name but is not KSC's.
std::shared_ptr<Plan> make_plan() {
  test::PlanBuilder b;
  auto agent_ports = [&b]() -> test::PlanBuilder& {
    return b.check("signal_udp", Transport::udp, 15000)
        .check("multicast_udp", Transport::udp, 15001);
  };
  b.target("PC-stale", Role::agent, "10.0.0.1", discovered("id-1"));
  agent_ports();
  b.target("PC-fresh", Role::agent, "10.0.0.2", discovered("id-2"));
  agent_ports();
  b.target("PC-never", Role::agent, "10.0.0.3", discovered("id-3"));
  agent_ports();
  b.target("DP-1", Role::distribution_point, "10.0.0.4", discovered("id-4"));
  agent_ports().check("icmp_echo", Transport::icmp, 0);
  b.target("PC-other", Role::agent, "10.0.0.5", {{"site", "lyon"}});
  agent_ports();
  return b.build();
}

ksc::AgentView view(std::string target, std::optional<std::int64_t> connected,
                    std::optional<std::int64_t> visible, bool running) {
  return ksc::AgentView{std::move(target), connected, visible, running};
}

std::vector<ksc::AgentSection> sections() {
  ksc::AgentSection s;
  s.name = "ksc01";
  s.stale_after = std::chrono::hours(2);
  s.agents = std::make_shared<const std::vector<ksc::AgentView>>(std::vector<ksc::AgentView>{
      view("DP-1", kStale, kStale + 60, true),
      view("PC-fresh", kFresh, kFresh + 1, true),
      view("PC-never", std::nullopt, std::nullopt, false),
      view("PC-other", kStale, std::nullopt, false),
      view("PC-stale", kStale, kFresh, false),
  });
  return {s};
}

ResultTable probed_table(std::shared_ptr<Plan> plan) {
  ResultTable t(plan);
  auto find = [&](std::string_view target, std::string_view check) {
    for (std::uint32_t i = 0; i < plan->checks.size(); ++i)
      if (plan->target_of(plan->checks[i]).name == target && plan->checks[i].check == check)
        return i;
    ADD_FAILURE() << target << " " << check;
    return std::uint32_t{0};
  };
  ProbeResult silent;
  silent.success = true;  // UDP: no answer, no refusal
  ProbeResult echo;
  echo.success = true;
  const ProbeResult refused = ProbeResult::failure(Reason::refused, "port unreachable");
  t.record(find("PC-stale", "signal_udp"), refused, kNow - 10);
  t.record(find("PC-stale", "multicast_udp"), refused, kNow - 10);
  t.record(find("PC-fresh", "signal_udp"), silent, kNow - 10);
  t.record(find("PC-fresh", "multicast_udp"), silent, kNow - 10);
  t.record(find("DP-1", "signal_udp"), silent, kNow - 10);
  t.record(find("DP-1", "icmp_echo"), echo, kNow - 10);
  t.record(find("PC-other", "signal_udp"), refused, kNow - 10);
  return t;
}

std::string render(const ResultTable& table, std::vector<ksc::AgentSection> agents) {
  MetricsRenderer renderer;
  MetricsRenderer::Source src;
  src.table = &table;
  src.agents = std::move(agents);
  src.now = kNow;
  std::string out;
  renderer.render(src, out);
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string n(std::int64_t v) { return std::to_string(v); }

TEST(AgentMetrics, FullDetailWritesTheServersViewAndDiagnosesStaleAgents) {
  auto plan = make_plan();
  ResultTable table = probed_table(plan);
  const std::string text = render(table, sections());
  std::string malformed;
  test::parse_samples(text, &malformed);
  EXPECT_EQ(malformed, "");

  const std::string stale =
      "target=\"PC-stale\",role=\"agent\",ksc_host_id=\"id-1\","
      "ksc_server=\"ksc01\"";
  const std::string fresh =
      "target=\"PC-fresh\",role=\"agent\",ksc_host_id=\"id-2\","
      "ksc_server=\"ksc01\"";
  const std::string never =
      "target=\"PC-never\",role=\"agent\",ksc_host_id=\"id-3\","
      "ksc_server=\"ksc01\"";
  const std::string dp =
      "target=\"DP-1\",role=\"distribution_point\",ksc_host_id=\"id-4\","
      "ksc_server=\"ksc01\"";
  EXPECT_EQ(sorted(test::sample_lines(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds")),
            sorted({
                "kscprobe_ksc_agent_last_connected_timestamp_seconds{" + stale + "} " + n(kStale),
                "kscprobe_ksc_agent_last_connected_timestamp_seconds{" + fresh + "} " + n(kFresh),
                "kscprobe_ksc_agent_last_connected_timestamp_seconds{" + dp + "} " + n(kStale),
            }));  // PC-never: KSC has none; PC-other: not KSC's target
  EXPECT_EQ(sorted(test::sample_lines(text, "kscprobe_ksc_host_last_visible_timestamp_seconds")),
            sorted({
                "kscprobe_ksc_host_last_visible_timestamp_seconds{" + stale + "} " + n(kFresh),
                "kscprobe_ksc_host_last_visible_timestamp_seconds{" + fresh + "} " + n(kFresh + 1),
                "kscprobe_ksc_host_last_visible_timestamp_seconds{" + dp + "} " + n(kStale + 60),
            }));
  EXPECT_EQ(sorted(test::sample_lines(text, "kscprobe_ksc_agent_running")),
            sorted({
                "kscprobe_ksc_agent_running{" + stale + "} 0",
                "kscprobe_ksc_agent_running{" + fresh + "} 1",
                "kscprobe_ksc_agent_running{" + never + "} 0",
                "kscprobe_ksc_agent_running{" + dp + "} 1",
            }));
  EXPECT_EQ(sorted(test::sample_lines(text, "kscprobe_agent_diagnosis")),
            sorted({
                "kscprobe_agent_diagnosis{" + stale + ",diagnosis=\"agent_stopped\"} 1",
                "kscprobe_agent_diagnosis{" + never + ",diagnosis=\"unknown\"} 1",
                "kscprobe_agent_diagnosis{" + dp + ",diagnosis=\"agent_cannot_reach_server\"} 1",
            }));  // PC-fresh connected 5 minutes ago
  EXPECT_NE(text.find("# TYPE kscprobe_agent_diagnosis gauge\n"), std::string::npos);
}

// Below full detail, the last connection stays for the agents that stopped connecting (the stale
// agents' table shows it beside their diagnosis); basic keeps every last connection.
TEST(AgentMetrics, BasicKeepsTheLastConnectionAndAggregateOnlyTheStaleAgents) {
  auto targets_of = [](const std::string& text, const std::string& family) {
    std::vector<std::string> out;
    for (const auto& s : test::samples_of(text, family)) out.push_back(s.label("target"));
    return sorted(out);
  };
  const std::vector<std::string> stale_seen = {"DP-1", "PC-stale"};  // PC-never: KSC has none
  auto plan = make_plan();
  plan->metrics.detail.fill(Detail::basic);
  ResultTable basic_table = probed_table(plan);
  std::string text = render(basic_table, sections());
  EXPECT_EQ(targets_of(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds"),
            (std::vector<std::string>{"DP-1", "PC-fresh", "PC-stale"}));
  EXPECT_TRUE(test::sample_lines(text, "kscprobe_ksc_host_last_visible_timestamp_seconds").empty());
  EXPECT_TRUE(test::sample_lines(text, "kscprobe_ksc_agent_running").empty());
  EXPECT_EQ(test::sample_lines(text, "kscprobe_agent_diagnosis").size(), 3u);

  plan = make_plan();
  plan->metrics.detail.fill(Detail::aggregate);
  ResultTable aggregate_table = probed_table(plan);
  text = render(aggregate_table, sections());
  EXPECT_EQ(targets_of(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds"), stale_seen);
  EXPECT_EQ(test::sample(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds",
                         {{"target", "PC-stale"}}),
            static_cast<double>(kStale));
  EXPECT_TRUE(test::sample_lines(text, "kscprobe_ksc_host_last_visible_timestamp_seconds").empty());
  EXPECT_TRUE(test::sample_lines(text, "kscprobe_ksc_agent_running").empty());
  EXPECT_EQ(test::samples_of(text, "kscprobe_agent_diagnosis").size(), 3u);
  EXPECT_EQ(test::sample(text, "kscprobe_agent_diagnosis", {{"target", "PC-stale"}}), 1.0);
  EXPECT_EQ(test::samples_of(text, "kscprobe_agent_diagnosis", {{"target", "PC-stale"}})
                .at(0)
                .label("diagnosis"),
            "agent_stopped");
}

TEST(AgentMetrics, NothingWithoutSectionsOrForAStaleSection) {
  auto plan = make_plan();
  ResultTable table = probed_table(plan);
  std::string text = render(table, {});
  EXPECT_EQ(text.find("kscprobe_ksc_"), std::string::npos);
  EXPECT_EQ(text.find("kscprobe_agent_diagnosis"), std::string::npos);

  // The section's last good discovery is old: the timestamps still show, no diagnosis.
  auto old = sections();
  old[0].stale = true;
  text = render(table, old);
  EXPECT_EQ(test::sample_lines(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds").size(),
            3u);
  EXPECT_TRUE(test::sample_lines(text, "kscprobe_agent_diagnosis").empty());

  // Another server's section does not join this server's targets.
  auto other = sections();
  other[0].name = "ksc02";
  text = render(table, other);
  EXPECT_EQ(text.find("kscprobe_ksc_"), std::string::npos);
}

TEST(AgentMetrics, ANewListIsJoinedAgainByTheSameRenderer) {
  auto plan = make_plan();
  ResultTable table = probed_table(plan);
  MetricsRenderer renderer;
  MetricsRenderer::Source src;
  src.table = &table;
  src.agents = sections();
  src.now = kNow;
  std::string text;
  renderer.render(src, text);
  ASSERT_EQ(test::samples_of(text, "kscprobe_agent_diagnosis", {{"target", "PC-stale"}}).size(),
            1u);
  // The next discovery: PC-stale connected again, and KSC no longer lists DP-1.
  auto next = sections();
  auto list = *next[0].agents;
  list.erase(list.begin());
  list.back().last_agent_connected = kFresh;
  next[0].agents = std::make_shared<const std::vector<ksc::AgentView>>(list);
  src.agents = next;
  text.clear();
  renderer.render(src, text);
  EXPECT_TRUE(test::samples_of(text, "kscprobe_agent_diagnosis", {{"target", "PC-stale"}}).empty());
  EXPECT_TRUE(test::samples_of(text, "kscprobe_ksc_agent_running", {{"target", "DP-1"}}).empty());
  EXPECT_EQ(test::sample(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds",
                         {{"target", "PC-stale"}}),
            static_cast<double>(kFresh));
}

}  // namespace
}  // namespace kscprobe
