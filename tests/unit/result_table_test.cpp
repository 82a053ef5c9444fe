#include "daemon/result_table.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "daemon/metrics_renderer.hpp"
#include "daemon/scheduler_core.hpp"

using namespace kscprobe;

namespace {

std::shared_ptr<Plan> make_plan(std::uint16_t agents_port = 13000) {
  auto p = std::make_shared<Plan>();
  p->targets.push_back({"ksc01", Role::server, "127.0.0.1", {{"site", "paris"}}});
  p->targets.push_back({"pc-1", Role::agent, "127.0.0.2", {}});
  CheckSpec a;
  a.target_index = 0;
  a.check = "agents_tls";
  a.address = "127.0.0.1";
  a.port = agents_port;
  a.transport = Transport::tls;
  a.interval = Duration(30000);
  a.timeout = Duration(5000);
  CheckSpec u = a;
  u.target_index = 1;
  u.check = "signal_udp";
  u.address = "127.0.0.2";
  u.port = 15000;
  u.transport = Transport::udp;
  p->checks = {a, u};
  p->metrics.detail.fill(Detail::full);
  return p;
}

ProbeResult ok_tls() {
  ProbeResult r;
  r.success = true;
  r.duration = 0.004;
  r.set_phase(Phase::resolve, 0);
  r.set_phase(Phase::connect, 0.001);
  r.set_phase(Phase::tls, 0.003);
  TlsInfo t;
  t.version = "TLSv1.3";
  t.fingerprint_sha256 = "ab";
  t.subject = "CN=ksc01";
  t.not_after = 1900000000;
  r.tls = t;
  return r;
}

std::string render(const ResultTable& table) {
  MetricsRenderer renderer;
  std::string out;
  renderer.render({&table, nullptr}, out);
  return out;
}

}  // namespace

TEST(ResultTable, RecordsCountersAndTransitions) {
  ResultTable t(make_plan());
  EXPECT_EQ(t.record(0, ok_tls(), 100), Transition::first_up);
  EXPECT_EQ(t.record(0, ok_tls(), 130), Transition::none);
  EXPECT_EQ(t.record(0, ProbeResult::failure(Reason::refused, "connection refused"), 160),
            Transition::went_down);
  EXPECT_EQ(t.record(0, ProbeResult::failure(Reason::timeout, "timeout"), 190), Transition::none);
  const auto& s = t.state(0);
  EXPECT_EQ(s.probes_total, 4u);
  EXPECT_EQ(s.failures[static_cast<int>(Reason::refused)], 1u);
  EXPECT_EQ(s.failures[static_cast<int>(Reason::timeout)], 1u);
  EXPECT_EQ(s.consecutive_failures, 2u);
  EXPECT_EQ(s.last_success_ts, 130);
  ASSERT_TRUE(s.tls);  // the certificate stays known while the port is down
  EXPECT_EQ(s.tls->subject, "CN=ksc01");
  EXPECT_EQ(t.record(0, ok_tls(), 220), Transition::went_up);
  EXPECT_EQ(t.state(0).consecutive_failures, 0u);
  EXPECT_EQ(t.latency()[0].second.count, 3u);  // successful probes only
}

TEST(ResultTable, ReloadKeepsStateOfUnchangedChecksOnly) {
  ResultTable old(make_plan());
  old.record(0, ok_tls(), 100);
  old.record(1, ProbeResult::failure(Reason::refused, "refused"), 100);
  // Same plan: both carry over.
  std::vector<std::uint32_t> map;
  ResultTable same = ResultTable::carry_over(make_plan(), old, &map);
  EXPECT_EQ(same.state(0).probes_total, 1u);
  EXPECT_EQ(same.state(1).failures[static_cast<int>(Reason::refused)], 1u);
  EXPECT_EQ(map, (std::vector<std::uint32_t>{0, 1}));
  // The administrator moved the agents port: that check starts afresh, the other keeps state.
  ResultTable moved = ResultTable::carry_over(make_plan(13010), old, &map);
  EXPECT_EQ(moved.state(0).probes_total, 0u);
  EXPECT_EQ(moved.state(1).probes_total, 1u);
  EXPECT_EQ(map[0], SchedulerCore::kOrphan);
  EXPECT_EQ(map[1], 1u);
}

TEST(MetricsRenderer, RendersEveryFamilyWithLabels) {
  ResultTable t(make_plan());
  t.record(0, ok_tls(), 100);
  ProbeResult silent;
  silent.success = true;
  silent.duration = 1.0;
  silent.detail = "no reply: open|filtered";
  t.record(1, silent, 100);
  std::string text = render(t);
  const char* expected[] = {
      "kscprobe_probe_success{target=\"ksc01\",role=\"server\",check=\"agents_tls\","
      "port=\"13000\",transport=\"tls\",site=\"paris\"} 1",
      "kscprobe_probe_phase_seconds{target=\"ksc01\",role=\"server\",check=\"agents_tls\","
      "port=\"13000\",transport=\"tls\",site=\"paris\",phase=\"tls\"} 0.003",
      "kscprobe_tls_cert_not_after_timestamp_seconds{target=\"ksc01\",role=\"server\","
      "check=\"agents_tls\",port=\"13000\",transport=\"tls\",site=\"paris\"} 1900000000",
      "fingerprint_sha256=\"ab\",subject=\"CN=ksc01\"} 1",
      "kscprobe_probe_udp_reply{target=\"pc-1\",role=\"agent\",check=\"signal_udp\","
      "port=\"15000\",transport=\"udp\"} 0",
      "kscprobe_probe_latency_seconds_bucket{role=\"server\",check=\"agents_tls\",le=\"0.005\"} 1",
      "kscprobe_probe_latency_seconds_count{role=\"server\",check=\"agents_tls\"} 1",
      "kscprobe_checks{role=\"agent\"} 1",
      "# TYPE kscprobe_probes_total counter",
  };
  for (const char* e : expected) EXPECT_NE(text.find(e), std::string::npos) << e << "\n" << text;
  // No failure yet: no failure series (a reason appears with its first failure).
  EXPECT_EQ(text.find("kscprobe_probe_failures_total{"), std::string::npos);
  t.record(0, ProbeResult::failure(Reason::tls, "handshake failed"), 130);
  text = render(t);
  EXPECT_NE(text.find("reason=\"tls\"} 1"), std::string::npos) << text;
  EXPECT_NE(
      text.find("kscprobe_probe_success{target=\"ksc01\",role=\"server\",check=\"agents_tls\","
                "port=\"13000\",transport=\"tls\",site=\"paris\"} 0"),
      std::string::npos);
}

TEST(MetricsRenderer, NoSuccessSampleBeforeTheFirstProbe) {
  ResultTable t(make_plan());
  std::string text = render(t);
  EXPECT_EQ(text.find("kscprobe_probe_success{"), std::string::npos);
  EXPECT_NE(text.find("kscprobe_probes_total{target=\"ksc01\""), std::string::npos);
  EXPECT_NE(text.find("kscprobe_last_success_timestamp_seconds{target=\"pc-1\""),
            std::string::npos);
}

namespace {

// 3 agents at two sites, each with one UDP check; 1 server (full detail).
std::shared_ptr<Plan> estate_plan(Detail agents, std::vector<std::string> aggregate_labels) {
  auto p = std::make_shared<Plan>();
  p->targets.push_back({"ksc01", Role::server, "127.0.0.1", {{"site", "paris"}}});
  const char* sites[] = {"paris", "paris", "lyon"};
  for (int i = 0; i < 3; ++i)
    p->targets.push_back({"pc-" + std::to_string(i),
                          Role::agent,
                          "127.0.1." + std::to_string(i),
                          {{"site", sites[i]}}});
  CheckSpec server;
  server.target_index = 0;
  server.check = "agents_tcp";
  server.address = "127.0.0.1";
  server.port = 14000;
  p->checks.push_back(server);
  for (std::uint32_t i = 1; i <= 3; ++i) {
    CheckSpec u;
    u.target_index = i;
    u.check = "signal_udp";
    u.address = p->targets[i].address;
    u.port = 15000;
    u.transport = Transport::udp;
    p->checks.push_back(u);
  }
  p->metrics.detail[static_cast<int>(Role::agent)] = agents;
  p->metrics.aggregate_labels = std::move(aggregate_labels);
  return p;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

void record_estate(ResultTable& t) {
  ProbeResult ok;
  ok.success = true;
  t.record(0, ok, 100);
  t.record(1, ok, 100);
  t.record(2, ok, 100);
  t.record(2, ProbeResult::failure(Reason::refused, "port unreachable"), 160);
  t.record(3, ProbeResult::failure(Reason::unreachable, "host unreachable"), 160);
}

}  // namespace

TEST(MetricsRenderer, BasicDetailKeepsSuccessPerCheckAndAggregatesTheRest) {
  ResultTable t(estate_plan(Detail::basic, {"site"}));
  record_estate(t);
  std::string text = render(t);
  // Every agent keeps its success and last success series, named.
  EXPECT_EQ(count(text, "kscprobe_probe_success{target=\"pc-"), 3u) << text;
  EXPECT_EQ(count(text, "kscprobe_last_success_timestamp_seconds{target=\"pc-"), 3u) << text;
  // Nothing else per agent.
  EXPECT_EQ(count(text, "{target=\"pc-"), 6u) << text;
  // Probes are countable by role, check and transport, per site.
  EXPECT_NE(text.find("kscprobe_probes_total{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\",site=\"paris\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kscprobe_probes_total{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\",site=\"lyon\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("kscprobe_probe_failures_total{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\",site=\"paris\",reason=\"refused\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("kscprobe_aggregate_checks{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\",site=\"paris\",state=\"up\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("kscprobe_aggregate_checks{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\",site=\"paris\",state=\"refused\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("kscprobe_aggregate_checks{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\",site=\"lyon\",state=\"unreachable\"} 1"),
            std::string::npos);
  // Checks in full detail are counted per state too (alerts can rely on the sums at any level),
  // but their counters are not summed again.
  EXPECT_NE(text.find("kscprobe_aggregate_checks{role=\"server\",check=\"agents_tcp\","
                      "transport=\"tcp\",site=\"paris\",state=\"up\"} 1"),
            std::string::npos);
  EXPECT_EQ(text.find("kscprobe_probes_total{role=\"server\""), std::string::npos);
  // The server stays in full detail.
  EXPECT_NE(text.find("kscprobe_probes_total{target=\"ksc01\""), std::string::npos);
  EXPECT_NE(text.find("kscprobe_probe_duration_seconds{target=\"ksc01\""), std::string::npos);
}

TEST(MetricsRenderer, AggregateDetailStillNamesFailingChecks) {
  ResultTable t(estate_plan(Detail::aggregate, {}));
  record_estate(t);
  std::string text = render(t);
  // pc-1 (refused) and pc-2 (unreachable) are failing: named with success 0; pc-0 is not.
  EXPECT_NE(text.find("kscprobe_probe_success{target=\"pc-1\""), std::string::npos) << text;
  EXPECT_NE(text.find("kscprobe_probe_success{target=\"pc-2\""), std::string::npos);
  EXPECT_NE(text.find("kscprobe_last_success_timestamp_seconds{target=\"pc-1\""),
            std::string::npos);
  EXPECT_EQ(text.find("{target=\"pc-0\""), std::string::npos);
  // Without aggregate labels, one group per role/check/transport.
  EXPECT_NE(text.find("kscprobe_probes_total{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\"} 4"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kscprobe_aggregate_checks{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\",state=\"refused\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("kscprobe_aggregate_checks{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\",state=\"up\"} 1"),
            std::string::npos);
}

TEST(MetricsRenderer, EveryFamilyIsContiguousAndEveryLineIsWellFormed) {
  ResultTable t(estate_plan(Detail::basic, {"site"}));
  record_estate(t);
  std::string text = render(t);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::set<std::string> finished;
  std::string current;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(finished.insert(name).second) << "family written twice: " << name;
      current = name;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    ASSERT_EQ(line.rfind(current, 0), 0u) << "sample outside its family: " << line;
    auto space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    std::string value = line.substr(space + 1);
    char* parsed_end = nullptr;
    std::strtod(value.c_str(), &parsed_end);
    EXPECT_EQ(*parsed_end, '\0') << line;
  }
}
