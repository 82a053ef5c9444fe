// The renderer of /metrics (and of the textfile and Pushgateway outputs): families, labels,
// detail levels, failure info, and its renders in pieces.
#include "daemon/exposition/metrics_renderer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>

#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler_core.hpp"
#include "tests/support/exposition.hpp"
#include "tests/unit/exposition/table_fixture.hpp"

using namespace kscprobe;
using test::make_plan;
using test::ok_tls;
using test::render;

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
  // The two failing agents say why.
  EXPECT_EQ(count(text, "kscprobe_probe_failure_info{target=\"pc-"), 2u) << text;
  // Nothing else per agent.
  EXPECT_EQ(count(text, "{target=\"pc-"), 8u) << text;
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
  // pc-1 (refused) and pc-2 (unreachable) are failing: named once each, with the reason; pc-0
  // is not named at all.
  EXPECT_NE(text.find("kscprobe_probe_failure_info{target=\"pc-1\""), std::string::npos) << text;
  EXPECT_NE(text.find("kscprobe_probe_failure_info{target=\"pc-2\""), std::string::npos);
  EXPECT_EQ(count(text, "{target=\"pc-"), 2u) << text;
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
    EXPECT_EQ(test::parse_line(line, nullptr), test::LineKind::sample) << line;
  }
}

namespace {

// Lines of one family in a render (the samples only).
std::vector<std::string> samples_of(const std::string& text, const std::string& family) {
  return test::sample_lines(text, family);
}

std::string failure_line(const std::string& target, const std::string& site,
                         const std::string& reason) {
  return "kscprobe_probe_failure_info{target=\"" + target +
         "\",role=\"agent\",check=\"signal_udp\",port=\"15000\",transport=\"udp\",site=\"" + site +
         "\",reason=\"" + reason + "\"} 1";
}

class FailureInfo : public ::testing::TestWithParam<Detail> {};

}  // namespace

// The reason of a failing check is named at every detail level, follows the failure as it
// changes, and leaves with the failure: at success, and when a reload drops the check.
TEST_P(FailureInfo, NamesTheReasonWhileTheCheckFails) {
  auto plan = estate_plan(GetParam(), {"site"});
  ResultTable t(plan);
  ProbeResult ok;
  ok.success = true;
  // Before any probe: nothing. A healthy estate: nothing either.
  EXPECT_TRUE(samples_of(render(t), "kscprobe_probe_failure_info").empty());
  for (std::uint32_t i = 0; i < 4; ++i) t.record(i, ok, 100);
  EXPECT_TRUE(samples_of(render(t), "kscprobe_probe_failure_info").empty());

  // One refused, one timed out, one unreachable agent.
  t.record(1, ProbeResult::failure(Reason::refused, "port unreachable"), 130);
  t.record(2, ProbeResult::failure(Reason::timeout, "no answer"), 130);
  t.record(3, ProbeResult::failure(Reason::unreachable, "host unreachable"), 130);
  std::string text = render(t);
  auto lines = samples_of(text, "kscprobe_probe_failure_info");
  EXPECT_EQ(lines, (std::vector<std::string>{failure_line("pc-0", "paris", "refused"),
                                             failure_line("pc-1", "paris", "timeout"),
                                             failure_line("pc-2", "lyon", "unreachable")}))
      << text;

  // The failure changes: so does the reason, still one series for the check.
  t.record(1, ProbeResult::failure(Reason::unreachable, "admin prohibited"), 160);
  lines = samples_of(render(t), "kscprobe_probe_failure_info");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], failure_line("pc-0", "paris", "unreachable"));

  // Success removes it.
  t.record(1, ok, 190);
  lines = samples_of(render(t), "kscprobe_probe_failure_info");
  EXPECT_EQ(lines, (std::vector<std::string>{failure_line("pc-1", "paris", "timeout"),
                                             failure_line("pc-2", "lyon", "unreachable")}));

  // A reload that drops pc-2's check (and keeps the others) drops its series.
  auto smaller = std::make_shared<Plan>(*plan);
  smaller->checks.pop_back();
  std::vector<std::uint32_t> map;
  ResultTable reloaded = ResultTable::carry_over(smaller, t, &map);
  lines = samples_of(render(reloaded), "kscprobe_probe_failure_info");
  EXPECT_EQ(lines, (std::vector<std::string>{failure_line("pc-1", "paris", "timeout")}));
}

INSTANTIATE_TEST_SUITE_P(Detail, FailureInfo,
                         ::testing::Values(Detail::full, Detail::basic, Detail::aggregate),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// A failure a prober left without a reason is still named (as a protocol failure).
TEST(FailureInfo, AFailureWithoutAReasonIsStillNamed) {
  ResultTable t(estate_plan(Detail::aggregate, {}));
  ProbeResult bad;
  bad.success = false;
  t.record(1, bad, 100);
  auto lines = samples_of(render(t), "kscprobe_probe_failure_info");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("reason=\"protocol\""), std::string::npos) << lines[0];
  EXPECT_EQ(t.state(1).failures(static_cast<int>(Reason::protocol)), 1u);
}

// A target without a value for a label carries no such label, per check and in aggregates.
TEST(MetricsRenderer, AnEmptyLabelIsNoLabel) {
  auto plan = estate_plan(Detail::aggregate, {"site"});
  plan->targets[3].labels.clear();           // pc-2 has no site
  plan->targets[2].labels = {{"site", ""}};  // pc-1 has an empty one
  ResultTable t(plan);
  t.record(2, ProbeResult::failure(Reason::refused, "refused"), 100);
  t.record(3, ProbeResult::failure(Reason::timeout, "timeout"), 100);
  std::string text = render(t);
  EXPECT_EQ(text.find("site=\"\""), std::string::npos) << text;
  EXPECT_NE(text.find("kscprobe_aggregate_checks{role=\"agent\",check=\"signal_udp\","
                      "transport=\"udp\",state=\"unknown\"} 0"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("kscprobe_probe_failure_info{target=\"pc-1\",role=\"agent\","
                "check=\"signal_udp\",port=\"15000\",transport=\"udp\",reason=\"refused\"} 1"),
      std::string::npos)
      << text;
}

// A render handed on in pieces is the same text, cut between lines, no piece held much past
// the size asked for.
TEST(MetricsRenderer, ChunksJoinIntoTheSameText) {
  ResultTable t(estate_plan(Detail::full, {"site"}));
  record_estate(t);
  const std::string whole = render(t);
  MetricsRenderer renderer;
  std::vector<std::string> pieces;
  MetricsRenderer::Chunks chunks;
  chunks.bytes = 256;
  chunks.flush = [&](std::string& text) {
    pieces.push_back(text);
    text.clear();
  };
  std::string rest;
  renderer.render({&t, nullptr}, rest, &chunks);
  ASSERT_GT(pieces.size(), 3u);
  std::string joined;
  for (const auto& p : pieces) {
    EXPECT_GE(p.size(), 256u);
    EXPECT_LT(p.size(), 256u + 400u);  // one sample line past the mark at most
    EXPECT_EQ(p.back(), '\n');
    joined += p;
  }
  joined += rest;
  EXPECT_EQ(joined, whole);
}

// The coroutine render waits for its consumer at every piece when asked to (the event loop runs
// meanwhile), writes the same text, and gives up when a reload replaces the plan during a wait.
TEST(MetricsRenderer, AsyncRenderWaitsForItsConsumerAndGivesUpOnAReload) {
  auto plan = estate_plan(Detail::full, {"site"});
  ResultTable t(plan);
  record_estate(t);
  const std::string whole = render(t);

  MetricsRenderer renderer;
  MetricsRenderer::Chunks chunks;
  chunks.bytes = 256;
  std::string joined, rest;
  chunks.flush = [&](std::string& text) {
    joined += text;
    text.clear();
  };
  chunks.behind = [] { return true; };
  int waits = 0;
  chunks.drain = [&]() -> boost::asio::awaitable<void> {
    ++waits;
    co_return;
  };
  auto run = [&] {
    boost::asio::io_context io;
    std::optional<bool> result;
    boost::asio::co_spawn(io, renderer.render_async({&t, nullptr}, rest, &chunks),
                          [&](std::exception_ptr e, bool whole_render) {
                            EXPECT_FALSE(e);
                            result = whole_render;
                          });
    io.run();
    return result;
  };
  EXPECT_EQ(run(), std::optional<bool>(true));
  EXPECT_GT(waits, 3);
  EXPECT_EQ(joined + rest, whole);

  // A reload during the first wait: the rest would describe another plan.
  joined.clear();
  rest.clear();
  auto smaller = std::make_shared<Plan>(*plan);
  smaller->checks.pop_back();
  chunks.drain = [&]() -> boost::asio::awaitable<void> {
    std::vector<std::uint32_t> map;
    t = ResultTable::carry_over(smaller, t, &map);
    co_return;
  };
  EXPECT_EQ(run(), std::optional<bool>(false));
}

// The golden exposition: a fixed plan at every detail level of interest and fixed results
// render to exactly tests/unit/exposition/golden/metrics.prom, so any change of a family, a
// label, an order or a number shows in review as a change of that file. After a change made on
// purpose: KSCPROBE_UPDATE_GOLDEN=1 ctest -R GoldenExposition writes the file again.
// A check at aggregate detail keeps no label set between scrapes: it is written while the check
// fails, and must read exactly as the set the same check has at basic detail.
TEST(MetricsRenderer, AFailingCheckAtAggregateDetailIsNamedAsAtBasic) {
  auto line_of = [](const std::string& text, const std::string& start) {
    const auto at = text.find(start);
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  ResultTable basic(estate_plan(Detail::basic, {"site"}));
  ResultTable aggregate(estate_plan(Detail::aggregate, {"site"}));
  record_estate(basic);
  record_estate(aggregate);
  const std::string b = render(basic), a = render(aggregate);
  for (const char* start : {"kscprobe_probe_failure_info{target=\"pc-1\"",
                            "kscprobe_probe_failure_info{target=\"pc-2\""}) {
    SCOPED_TRACE(start);
    const std::string line = line_of(a, start);
    EXPECT_NE(line.find(",site=\""), std::string::npos) << a;
    EXPECT_EQ(line, line_of(b, start));
  }
  // Back up, a check is no longer named: the output follows what is wrong.
  ProbeResult ok;
  ok.success = true;
  aggregate.record(2, ok, 200);
  const std::string after = render(aggregate);
  EXPECT_EQ(after.find("{target=\"pc-1\""), std::string::npos) << after;
  EXPECT_NE(after.find("kscprobe_probe_failure_info{target=\"pc-2\""), std::string::npos) << after;
}

TEST(MetricsRenderer, GoldenExposition) {
  auto plan = test::PlanBuilder()
                  .target("ksc01", Role::server, "10.0.0.1", {{"site", "paris"}})
                  .check("agents_tls", Transport::tls, 13000)
                  .check("shutdown_udp", Transport::udp, 13000)
                  .check("metrics_https", Transport::https, 13296)
                  .target("dp-lyon", Role::distribution_point, "10.0.1.1", {{"site", "lyon"}})
                  .check("agents_tls", Transport::tls, 13000)
                  .check("icmp_echo", Transport::icmp, 0)
                  .target("pc-1", Role::agent, "10.0.1.2", {{"site", "lyon"}})
                  .check("signal_udp", Transport::udp, 15000)
                  .target("pc-2", Role::agent, "10.0.1.3", {{"site", "lyon"}})
                  .check("signal_udp", Transport::udp, 15000)
                  .build();
  plan->metrics.detail[static_cast<int>(Role::agent)] = Detail::basic;
  plan->metrics.aggregate_labels = {"site"};
  ResultTable t(plan);
  t.record(0, ok_tls(), 1800000000);
  t.record(1, ProbeResult::failure(Reason::refused, "ICMP port unreachable"), 1800000001);
  ProbeResult https = ok_tls();
  https.http_status = 200;
  https.set_phase(Phase::request, 0.010);
  https.duration = 0.014;
  t.record(2, https, 1800000002);
  t.record(2, ProbeResult::failure(Reason::http_status, "HTTP 503"), 1800000032);
  t.record(3, ProbeResult::failure(Reason::timeout, "no reply within 5s during tls"), 1800000003);
  ProbeResult echo;
  echo.success = true;
  echo.duration = 0.0007;
  t.record(4, echo, 1800000004);
  ProbeResult silent;
  silent.success = true;
  silent.duration = 1.0;
  silent.detail = "no reply: open|filtered";
  t.record(5, silent, 1800000005);
  // pc-2's check has not been probed yet: pending.
  const std::string text = render(t);

  const std::string path =
      std::string(KSCPROBE_SOURCE_DIR) + "/tests/unit/exposition/golden/metrics.prom";
  if (std::getenv("KSCPROBE_UPDATE_GOLDEN")) std::ofstream(path, std::ios::binary) << text;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path << " is missing: KSCPROBE_UPDATE_GOLDEN=1 writes it";
  const std::string expected((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  // Line by line first, for a readable failure; then the whole text.
  std::istringstream got_lines(text), want_lines(expected);
  std::string got, want;
  for (int line = 1; std::getline(want_lines, want); ++line) {
    ASSERT_TRUE(std::getline(got_lines, got)) << "the render ends before line " << line;
    ASSERT_EQ(got, want) << "line " << line << " of " << path;
  }
  EXPECT_FALSE(std::getline(got_lines, got)) << "the render has more lines: " << got;
  EXPECT_EQ(text, expected);
}
