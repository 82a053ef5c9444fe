#include "daemon/web/status_page.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "daemon/discovery/agent_view.hpp"
#include "daemon/exposition/metrics_renderer.hpp"
#include "daemon/runtime/result_table.hpp"
#include "platform/platform.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/plan_builder.hpp"

namespace support = kscprobe::test;

using namespace kscprobe;

namespace {

std::shared_ptr<Plan> plan_with(std::vector<std::string> names) {
  support::PlanBuilder b;
  for (auto& name : names)
    b.target(std::move(name), Role::server, "127.0.0.1").check("agents_tls", Transport::tls, 13000);
  return b.build();
}

ProbeResult ok(std::int64_t not_after) {
  ProbeResult r;
  r.success = true;
  r.duration = 0.002;
  TlsInfo t;
  t.not_after = not_after;
  r.tls = t;
  return r;
}

ProbeResult udp_silent() {
  ProbeResult r;
  r.success = true;
  r.udp_reply = false;
  r.duration = 1;
  return r;
}

/// An estate: `targets` targets over roles and sites (every seventh has no site), each with a
/// TCP and a UDP check.
std::shared_ptr<Plan> estate(std::size_t targets) {
  support::PlanBuilder b;
  b.plan().metrics.aggregate_labels = {"site"};
  b.plan().metrics.detail[static_cast<int>(Role::agent)] = Detail::aggregate;
  const Role roles[] = {Role::agent, Role::agent, Role::agent, Role::server,
                        Role::distribution_point};
  const char* sites[] = {"paris", "lyon", "nantes"};
  for (std::size_t i = 0; i < targets; ++i) {
    support::PlanBuilder::Labels labels;
    if (i % 7) labels.push_back({"site", sites[i % 3]});
    labels.push_back({"zone", i % 2 ? "a" : "b"});
    b.target("host-" + std::to_string(i), roles[i % 5],
             "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250), std::move(labels))
        .check("agents_tcp", Transport::tcp, 14000)
        .check("agents_udp", Transport::udp, 15000);
  }
  return b.build();
}

/// Gives the checks of `t` a mix of outcomes, deterministic in the index.
void fill(ResultTable& t, double now) {
  const Reason reasons[] = {Reason::refused, Reason::timeout, Reason::unreachable, Reason::resolve};
  for (std::uint32_t i = 0; i < t.size(); ++i) {
    unsigned h = (i * 2654435761u) >> 7;
    switch (h % 6) {
      case 0:
        break;  // pending
      case 1:
      case 2: {
        for (unsigned k = 0; k <= h % 4; ++k)
          t.record(i, ProbeResult::failure(reasons[(h / 6) % 4], "failed"), now);
        break;
      }
      case 3:
        t.record(i, udp_silent(), now);
        break;
      case 4:
        t.record(i, ok(static_cast<std::int64_t>(now + ((h / 6) % 60) * 86400)), now);
        break;
      default:
        t.record(i, ok(0), now);
    }
  }
}

std::string page(const ResultTable& t, std::string_view query, double now = 1'800'000'000,
                 unsigned* status = nullptr) {
  StatusResponse r = serve_status_page(t, {"1.2.3", "k.toml", true, now}, query);
  if (status)
    *status = r.status;
  else
    EXPECT_EQ(r.status, 200u) << query << ": " << r.body;
  return r.body;
}

/// Rows of the text format: each row's fields.
std::vector<std::vector<std::string>> text_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  bool body = false;
  while (std::getline(in, line)) {
    if (line.rfind("state\t", 0) == 0) {
      body = true;
      continue;
    }
    if (!body) continue;
    std::vector<std::string> f;
    std::size_t start = 0;
    for (;;) {
      std::size_t tab = line.find('\t', start);
      f.push_back(line.substr(start, tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    rows.push_back(f);
  }
  return rows;
}

}  // namespace

TEST(StatusPage, WorstFirstThenPendingThenExpiringThenHealthy) {
  const double now = 1'800'000'000;
  ResultTable t(plan_with({"healthy", "down-long", "pending", "expiring", "down-new", "<b>x</b>"}));
  t.record(0, ok(static_cast<std::int64_t>(now + 300 * 86400)), now - 10);
  for (int i = 0; i < 5; ++i) t.record(1, ProbeResult::failure(Reason::refused, "refused"), now);
  t.record(3, ok(static_cast<std::int64_t>(now + 5 * 86400)), now - 10);
  t.record(4, ProbeResult::failure(Reason::timeout, "no reply within 5s"), now);
  t.record(5, ok(static_cast<std::int64_t>(now + 200 * 86400)), now - 10);
  std::string html = render_status_page(t, {"1.2.3", "k.toml", true, now});
  auto at = [&](const std::string& s) { return html.find("<td>" + s + "</td>"); };
  ASSERT_NE(at("down-long"), std::string::npos);
  EXPECT_LT(at("down-long"), at("down-new"));  // longest failing first
  EXPECT_LT(at("down-new"), at("pending"));
  EXPECT_LT(at("pending"), at("expiring"));
  EXPECT_LT(at("expiring"), at("healthy"));
  EXPECT_NE(html.find("refused (0s ago), 5 in a row"), std::string::npos);
  EXPECT_NE(html.find("(5 days)"), std::string::npos);
  EXPECT_NE(html.find("2 down"), std::string::npos);
  EXPECT_NE(html.find("1 pending"), std::string::npos);
  EXPECT_NE(html.find("1 certificate expires within 30 days"), std::string::npos);
  // Names are escaped: nothing a config or a peer says becomes markup.
  EXPECT_EQ(html.find("<b>x</b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;x&lt;/b&gt;"), std::string::npos);
}

TEST(StatusPage, ShowsAFailedReload) {
  ResultTable t(plan_with({"a"}));
  std::string html = render_status_page(t, {"1", "k.toml", false, 0});
  EXPECT_NE(html.find("last reload FAILED"), std::string::npos);
}

// Probes failing on this host: the summary says so in every format, and only then.
TEST(StatusPage, SaysWhenProbesFailOnThisHost) {
  ResultTable t(plan_with({"a"}));
  StatusPageInfo info{"1", "k.toml", true, 0};
  EXPECT_EQ(render_status_page(t, info).find("local-faults"), std::string::npos);
  info.local_faults = "fd_limit (358 probes)";
  const std::string html = render_status_page(t, info);
  EXPECT_NE(html.find("id=\"local-faults\""), std::string::npos);
  EXPECT_NE(html.find("Probes fail on this host"), std::string::npos);
  EXPECT_NE(html.find("fd_limit (358 probes)"), std::string::npos);
  StatusQuery json;
  json.format = StatusFormat::json;
  EXPECT_NE(render_status_page(t, info, json).find("\"local_faults\":\"fd_limit (358 probes)\""),
            std::string::npos);
  StatusQuery text;
  text.format = StatusFormat::text;
  EXPECT_NE(render_status_page(t, info, text).find("# probes fail on this host: fd_limit"),
            std::string::npos);
}

// Falling behind: said in the summary, in every format, and only then.
TEST(StatusPage, SaysWhenFallingBehind) {
  ResultTable t(plan_with({"a"}));
  StatusPageInfo info{"1", "k.toml", true, 0};
  EXPECT_EQ(render_status_page(t, info).find("falling-behind"), std::string::npos);
  info.falling_behind = "lane quiet: a due probe has waited 34 s for a slot";
  EXPECT_NE(render_status_page(t, info).find("id=\"falling-behind\""), std::string::npos);
  EXPECT_NE(render_status_page(t, info).find("waited 34 s"), std::string::npos);
  StatusQuery json;
  json.format = StatusFormat::json;
  EXPECT_NE(render_status_page(t, info, json).find("\"falling_behind\":\"lane quiet"),
            std::string::npos);
  StatusQuery text;
  text.format = StatusFormat::text;
  EXPECT_NE(render_status_page(t, info, text).find("# falling behind: lane quiet"),
            std::string::npos);
}

// The summary is what /metrics says, counted from the same table: kscprobe_aggregate_checks
// {state=up|unknown|<reason>} summed per role and per site, and one
// kscprobe_probe_failure_info{reason} per down check.
TEST(StatusPage, SummaryEqualsWhatMetricsCounts) {
  const double now = 1'800'000'000;
  ResultTable t(estate(300));
  fill(t, now);
  StatusSummary sum = summarize(t, now);
  MetricsRenderer renderer;
  std::string metrics;
  renderer.render({&t, nullptr}, metrics);

  using Counts = std::map<std::string, std::uint64_t>;  // "<group>/<state>" -> checks
  Counts aggregate, failure_info;
  std::string malformed;
  for (const support::Sample& s : support::parse_samples(metrics, &malformed)) {
    bool agg = s.name == "kscprobe_aggregate_checks";
    bool info = s.name == "kscprobe_probe_failure_info";
    if (!agg && !info) continue;
    auto v = static_cast<std::uint64_t>(s.value);
    std::string state = agg ? s.label("state") : s.label("reason");
    std::string site = s.label("site");
    Counts& c = agg ? aggregate : failure_info;
    c["role=" + s.label("role") + "/" + state] += v;
    c["site=" + site + "/" + state] += v;
    c["all/" + state] += v;
  }
  ASSERT_EQ(malformed, "");
  ASSERT_FALSE(aggregate.empty()) << metrics.substr(0, 2000);

  Counts page;
  auto add = [&](const std::string& group, const StatusCounts& c) {
    if (c.up) page[group + "/up"] = c.up;
    if (c.pending) page[group + "/unknown"] = c.pending;
    for (int r = 1; r < kReasonCount; ++r)
      if (c.down_by_reason[r])
        page[group + "/" + std::string(to_string(static_cast<Reason>(r)))] = c.down_by_reason[r];
    std::uint64_t by_reason = 0;
    for (auto n : c.down_by_reason) by_reason += n;
    EXPECT_EQ(by_reason, c.down) << group;
    EXPECT_EQ(c.up + c.pending + c.down, c.checks) << group;
  };
  add("all", sum.total);
  for (int r = 0; r < kRoleCount; ++r)
    if (sum.roles[r].checks)
      add("role=" + std::string(to_string(static_cast<Role>(r))), sum.roles[r]);
  ASSERT_EQ(sum.labels.size(), 1u);
  EXPECT_EQ(sum.labels[0].values.size(), 4u);  // "", lyon, nantes, paris
  for (const auto& [value, c] : sum.labels[0].values) add("site=" + value, c);
  for (auto it = aggregate.begin(); it != aggregate.end();)
    it = it->second ? std::next(it) : aggregate.erase(it);  // up/unknown are always written
  EXPECT_EQ(page, aggregate);
  Counts down;
  for (const auto& [k, v] : page)
    if (k.find("/up") == std::string::npos && k.find("/unknown") == std::string::npos) down[k] = v;
  ASSERT_FALSE(failure_info.empty());
  EXPECT_EQ(down, failure_info);
  EXPECT_GT(sum.total.down, 0u);
  EXPECT_GT(sum.total.pending, 0u);
  EXPECT_GT(sum.total.udp_silent, 0u);
  EXPECT_GT(sum.total.cert_expiring, 0u);
}

TEST(StatusPage, PagesAreSlicesOfOneOrderAndLinkToEachOther) {
  const double now = 1'800'000'000;
  ResultTable t(estate(60));
  fill(t, now);
  auto all = text_rows(page(t, "format=text&limit=1000"));
  ASSERT_EQ(all.size(), 120u);
  // The order: down (most consecutive failures first), pending, expiring (soonest first), up.
  auto rank = [&](const std::vector<std::string>& r) {
    if (r[0] == "down") return 0;
    if (r[0] == "pending") return 1;
    if (r[11] != "-" && std::stod(r[11]) < now + 30 * 86400) return 2;
    return 3;
  };
  for (std::size_t i = 1; i < all.size(); ++i) {
    EXPECT_LE(rank(all[i - 1]), rank(all[i])) << i;
    if (rank(all[i - 1]) == 0 && rank(all[i]) == 0) {  // the longest failing first
      EXPECT_GE(std::stoul(all[i - 1][8]), std::stoul(all[i][8])) << i;
    }
    if (rank(all[i - 1]) == 2 && rank(all[i]) == 2) {  // the soonest expiry first
      EXPECT_LE(std::stod(all[i - 1][11]), std::stod(all[i][11])) << i;
    }
  }
  std::vector<std::vector<std::string>> paged;
  std::string query = "format=text&limit=7";
  for (int n = 0; n < 30; ++n) {
    std::string text = page(t, query);
    auto rows = text_rows(text);
    paged.insert(paged.end(), rows.begin(), rows.end());
    auto next = text.find("# next /?");
    if (next == std::string::npos) break;
    query = text.substr(next + 9, text.find('\n', next) - next - 9);
    EXPECT_NE(query.find("format=text"), std::string::npos);
    EXPECT_NE(query.find("limit=7"), std::string::npos);
  }
  EXPECT_EQ(paged, all);

  // Previous goes back; filters stay in both links.
  std::string html = page(t, "state=down&label.zone=a&limit=3&offset=6");
  EXPECT_NE(html.find("href=\"/?state=down&amp;label.zone=a&amp;limit=3&amp;offset=3\""),
            std::string::npos);
  EXPECT_NE(html.find("href=\"/?state=down&amp;label.zone=a&amp;limit=3&amp;offset=9\""),
            std::string::npos);
  // Past the end: an empty page that still links back.
  std::string far = page(t, "format=text&offset=5000");
  EXPECT_TRUE(text_rows(far).empty());
  auto prev = far.find("# prev /?");
  ASSERT_NE(prev, std::string::npos) << far;
  std::string back = far.substr(prev + 9, far.find('\n', prev) - prev - 9);
  EXPECT_EQ(back, "format=text");  // the last page with rows: 120 rows, 200 a page
  EXPECT_EQ(text_rows(page(t, back)).size(), 120u);
}

TEST(StatusPage, FiltersSelectTheRowsTheSummaryCounts) {
  const double now = 1'800'000'000;
  ResultTable t(estate(200));
  fill(t, now);
  StatusSummary sum = summarize(t, now);
  auto rows = [&](std::string q) { return text_rows(page(t, "format=text&limit=1000&" + q)); };
  const auto& agent = sum.roles[static_cast<int>(Role::agent)];
  EXPECT_EQ(rows("role=agent").size(), agent.checks);
  EXPECT_EQ(rows("role=agent&state=down").size(), agent.down);
  EXPECT_EQ(rows("role=agent&state=pending").size(), agent.pending);
  EXPECT_EQ(rows("role=agent&state=up").size(), agent.up);
  EXPECT_EQ(rows("role=agent&state=filtered").size(), agent.udp_silent);
  EXPECT_EQ(rows("role=agent&state=expiring").size(), agent.cert_expiring);
  for (int r = 1; r < kReasonCount; ++r) {
    std::string name(to_string(static_cast<Reason>(r)));
    auto got = rows("reason=" + name);
    EXPECT_EQ(got.size(), sum.total.down_by_reason[r]) << name;
    for (const auto& row : got) EXPECT_EQ(row[7], name);
  }
  for (const auto& [value, c] : sum.labels[0].values) {
    if (value.empty()) continue;
    EXPECT_EQ(rows("label.site=" + value).size(), c.checks) << value;
    EXPECT_EQ(rows("site=" + value + "&state=down").size(), c.down) << value;  // plain name
  }
  for (const auto& row : rows("check=agents_udp")) EXPECT_EQ(row[3], "agents_udp");
  EXPECT_EQ(rows("check=agents_udp").size(), 200u);
  // Target: a substring, any case; '+' and %XX decode.
  auto host12 = rows("target=HOST-12");
  EXPECT_EQ(host12.size(), 22u);                    // host-12, host-120..129, two checks each
  EXPECT_EQ(rows("target=%68ost-12+").size(), 0u);  // "host-12 ": no name has a space
  EXPECT_EQ(rows("target=ost%2D199").size(), 2u);
  // Empty values (a submitted form's untouched fields) filter nothing.
  EXPECT_EQ(rows("role=&state=&reason=&check=&target=&label.site=").size(), 400u);
}

TEST(StatusPage, BadQueriesAreAClear400) {
  ResultTable t(estate(10));
  const std::pair<const char*, const char*> cases[] = {
      {"role=laptop", "unknown role 'laptop'"},
      {"state=broken", "unknown state 'broken'"},
      {"reason=none", "unknown reason 'none'"},
      {"format=xml", "unknown format 'xml'"},
      {"limit=1001", "limit must be"},
      {"limit=-1", "limit must be"},
      {"offset=abc", "offset must be"},
      {"offset=99999999999999999999", "offset must be"},
      {"color=red", "unknown query parameter 'color'"},
      {"role=agent&role=server", "given twice"},
      {"site=paris&label.site=lyon", "given twice"},
      {"target=%4", "malformed %-escape"},
      {"target=%zz", "malformed %-escape"},
      {"label.=x", "names no label"},
      {"diagnosis=asleep", "unknown diagnosis 'asleep' (agent_stopped, agent_cannot_reach_server"},
  };
  for (const auto& [q, why] : cases) {
    unsigned status = 0;
    std::string body = page(t, q, 0, &status);
    EXPECT_EQ(status, 400u) << q;
    EXPECT_NE(body.find(why), std::string::npos) << q << ": " << body;
  }
  unsigned status = 0;
  page(t, std::string(5000, 'a'), 0, &status);
  EXPECT_EQ(status, 400u);
  std::string many;
  for (int i = 0; i < 100; ++i) many += "target=&";
  page(t, many, 0, &status);
  EXPECT_EQ(status, 400u);
  // A label some target carries is a filter by its plain name ("zone" is not aggregated).
  page(t, "zone=a", 0, &status);
  EXPECT_EQ(status, 200u);
  EXPECT_EQ(serve_status_page(t, {}, "format=json").content_type, "application/json");
  EXPECT_EQ(serve_status_page(t, {}, "format=text").content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(serve_status_page(t, {}, "").content_type, "text/html; charset=utf-8");
}

TEST(StatusPage, QueryStringsDecodeAndEncode) {
  StatusQuery q;
  q.format = StatusFormat::json;
  q.role = Role::agent;
  q.state = StateFilter::down;
  q.reason = Reason::refused;
  q.check = "x&y";
  q.target = "pc 1";
  q.labels = {{"site", "saint-étienne"}};
  q.diagnosis = exposition::Diagnosis::device_offline;
  q.limit = 50;
  q.offset = 100;
  std::string s = q.to_query_string();
  EXPECT_NE(s.find("diagnosis=device_offline"), std::string::npos);
  StatusQuery back;
  std::string error;
  ASSERT_TRUE(parse_status_query(s.substr(1), nullptr, &back, &error)) << error;
  EXPECT_EQ(back.to_query_string(), s);
  EXPECT_EQ(back.check, "x&y");
  EXPECT_EQ(back.target, "pc 1");
  EXPECT_EQ(back.labels, q.labels);
  EXPECT_EQ(back.diagnosis, q.diagnosis);
  EXPECT_EQ(StatusQuery{}.to_query_string(), "");
}

// JSON for scripts: valid whatever a name or a peer's reply contains, checked by a real parser.
TEST(StatusPage, JsonIsValidAndCarriesSummaryRowsAndPaging) {
  const double now = 1'800'000'000;
  auto plan = plan_with({"quote\"back\\slash", "ctl\x01\ttab\nnl", "bad\xff\xc3(utf8", "é ok"});
  plan->metrics.aggregate_labels = {"site"};
  plan->targets[0].labels = {{"site", "a\"b"}};
  ResultTable t(plan);
  t.record(0, ProbeResult::failure(Reason::refused, "banner \x80\x81 \"x\" </script>"), now);
  t.record(1, ProbeResult::failure(Reason::timeout, std::string("nul\0byte", 8)), now);
  t.record(2, ok(static_cast<std::int64_t>(now + 3 * 86400)), now);
  std::string json = page(t, "format=json&limit=2", now);
  std::string dir = support::temp_dir();
  support::write_file(dir + "/page.json", json);
  std::string out;
  int rc = support::run({"python3", "-c",
                         "import json,sys\n"
                         "d=json.load(open(sys.argv[1],encoding='utf-8'))\n"
                         "s=d['summary']\n"
                         "print(s['total']['checks'],s['total']['down'],"
                         "s['total']['down_by_reason']['refused'],s['total']['pending'],"
                         "s['total']['certificates_expiring'],d['matched'],len(d['checks']),"
                         "d['checks'][0]['target'],d['checks'][0]['reason'],"
                         "d['next'],d['prev'],sorted(s['labels']['site']))",
                         dir + "/page.json"},
                        &out, std::chrono::seconds(30));
  ASSERT_EQ(rc, 0) << out << "\n" << json;
  EXPECT_EQ(out,
            "4 2 1 1 1 4 2 quote\"back\\slash refused /?format=json&limit=2&offset=2 None "
            "['', 'a\"b']\n");
}

// The structural property that makes the page usable at 200 000 checks: its size follows the
// page, not the estate. Prints size and time for the benchmark's reader; asserts no time.
TEST(StatusPage, TwoHundredThousandChecksMakeASmallPage) {
  const double now = 1'800'000'000;
  ResultTable t(estate(100'000));
  fill(t, now);
  ASSERT_EQ(t.size(), 200'000u);
  for (const char* q : {"", "format=json", "format=text", "state=down&site=paris&offset=1000",
                        "limit=1000", "target=host-99"}) {
    auto start = std::chrono::steady_clock::now();
    double cpu = platform::thread_cpu_seconds();
    std::string body = page(t, q, now);
    double cpu_ms = (platform::thread_cpu_seconds() - cpu) * 1000;
    double wall_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("status page for 200000 checks, query '%s': %zu bytes, %.1f ms CPU, %.1f ms\n", q,
                body.size(), cpu_ms, wall_ms);
    EXPECT_LT(body.size(), 2u * 1024 * 1024) << q;
    EXPECT_GT(body.size(), 1000u) << q;
  }
  // A full page holds the default 200 rows.
  EXPECT_EQ(text_rows(page(t, "format=text", now)).size(), 200u);
}

namespace {

// A KSC estate as the daemon holds it: four discovered agents (labels as to_targets gives them)
// with the agent's UDP signal port and ICMP echo, one configured server, and the server's view.
// Probed so that each diagnosis /metrics can reach is reached once:
// - pc-stopped: the device answers ICMP, the agent port is refused: agent_stopped (3 days);
// - pc-offline: nothing answers: device_offline, and it never connected;
// - pc-reach: answers ICMP, the agent port is silent: agent_cannot_reach_server (1 day);
// - pc-fresh: connected 5 minutes ago: not stale, not listed.
constexpr double kKscNow = 1'800'000'000;

struct KscEstate {
  support::PlanBuilder builder;
  std::shared_ptr<Plan> plan = builder.build();
  std::unique_ptr<ResultTable> table;
  StatusPageInfo info{"1.2.3", "k.toml", true, kKscNow, {}, {}};
};

KscEstate ksc_estate() {
  KscEstate e;
  auto add = [&](std::string name, Role role, std::vector<std::pair<std::string, std::string>> l) {
    const auto t = static_cast<std::uint32_t>(e.plan->targets.size());
    e.builder.target(std::move(name), role, "10.0.0." + std::to_string(t + 1), std::move(l))
        .check("signal_udp", Transport::udp, 15000)
        .check("icmp_echo", Transport::icmp, 0);
  };
  auto discovered = [](std::string id, std::string group, std::string site) {
    std::vector<std::pair<std::string, std::string>> l = {
        {"ksc_group", std::move(group)}, {"ksc_host_id", std::move(id)}, {"ksc_server", "ksc01"}};
    if (!site.empty()) l.push_back({"site", std::move(site)});
    return l;
  };
  add("ksc-main", Role::server, {});
  add("pc-fresh", Role::agent, discovered("id-1", "Paris", "paris"));
  add("pc-offline", Role::agent, discovered("id-2", "Lyon", ""));
  add("pc-reach", Role::agent, discovered("id-3", "Paris", "paris"));
  add("pc-stopped", Role::agent, discovered("id-4", "Paris/Floor 2", "paris"));
  e.table = std::make_unique<ResultTable>(e.plan);
  auto find = [&](std::string_view target, std::string_view check) {
    for (std::uint32_t i = 0; i < e.plan->checks.size(); ++i)
      if (e.plan->target_of(e.plan->checks[i]).name == target && e.plan->checks[i].check == check)
        return i;
    ADD_FAILURE() << target;
    return std::uint32_t{0};
  };
  ProbeResult echo;
  echo.success = true;
  ProbeResult silent;
  silent.success = true;  // UDP: no answer, no refusal
  const double at = kKscNow - 10;
  e.table->record(find("pc-stopped", "signal_udp"),
                  ProbeResult::failure(Reason::refused, "ICMP port unreachable"), at);
  e.table->record(find("pc-stopped", "icmp_echo"), echo, at);
  e.table->record(find("pc-offline", "signal_udp"), silent, at);
  e.table->record(find("pc-offline", "icmp_echo"),
                  ProbeResult::failure(Reason::timeout, "no echo reply within 2s"), at);
  e.table->record(find("pc-reach", "signal_udp"), silent, at);
  e.table->record(find("pc-reach", "icmp_echo"), echo, at);
  e.table->record(find("pc-fresh", "icmp_echo"), echo, at);

  ksc::AgentSection section;
  section.name = "ksc01";
  section.stale_after = std::chrono::hours(2);
  const auto t = [](double ago) { return static_cast<std::int64_t>(kKscNow - ago); };
  section.agents = std::make_shared<const std::vector<ksc::AgentView>>(std::vector<ksc::AgentView>{
      {"pc-fresh", t(300), t(60), true},
      {"pc-offline", std::nullopt, std::nullopt, false},
      {"pc-reach", t(86'400), t(3'600), true},
      {"pc-stopped", t(3 * 86'400), t(600), false},
  });
  e.info.agents = {section};

  ksc::DiscoveryStatus ok;
  ok.name = "ksc01";
  ok.ran = true;
  ok.success = true;
  ok.duration_seconds = 0.25;
  ok.last_success_unix = kKscNow - 90;
  ok.targets_by_role = {{Role::agent, 4}};
  ok.targets = 4;
  ok.devices = 6;
  ok.skipped = {{"duplicate_name", 0}, {"no_address", 2}};
  ksc::DiscoveryStatus failing;
  failing.name = "ksc02";
  failing.ran = true;
  failing.success = false;
  failing.error_kind = "unauthorized";
  failing.error = "KSC 10.9.0.1:13299 refused the login of user \"kscprobe\" (HTTP 401)";
  failing.stale = true;
  failing.last_success_unix = kKscNow - 3 * 3600;
  e.info.ksc = {ok, failing};
  return e;
}

std::string page_of(const KscEstate& e, std::string_view query) {
  StatusResponse r = serve_status_page(*e.table, e.info, query);
  EXPECT_EQ(r.status, 200u) << query << ": " << r.body;
  return r.body;
}

// The JSON page read by a real parser, through a Python expression over `d`.
std::string json_eval(const std::string& json, const std::string& expr) {
  support::TempDir dir("status-ksc");
  const std::string path = dir.write("page.json", json);
  std::string out;
  int rc = support::run({"python3", "-c",
                         "import json,sys\nd=json.load(open(sys.argv[1],encoding='utf-8'))\n"
                         "print(" +
                             expr + ")",
                         path},
                        &out, std::chrono::seconds(30));
  EXPECT_EQ(rc, 0) << out << "\n" << json;
  return out;
}

}  // namespace

TEST(StatusPage, KscServersAndTheAgentsThatStoppedConnecting) {
  const KscEstate e = ksc_estate();
  const std::string html = page_of(e, "");
  // KSC servers: the last discovery, devices, targets, skipped, the list's age.
  const auto ksc = html.find("<h2>KSC servers</h2>");
  ASSERT_NE(ksc, std::string::npos) << html;
  EXPECT_NE(html.find(">ok (250.0ms)</td><td>6</td><td>4</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("no_address 2"), std::string::npos);
  EXPECT_NE(html.find("FAILED: unauthorized - KSC 10.9.0.1:13299 refused the login"),
            std::string::npos);
  EXPECT_NE(html.find("3h ago, STALE"), std::string::npos);
  // Agents that stopped connecting: counts per diagnosis, per site (site, else group), then the
  // devices longest silent first.
  const auto agents = html.find("<h2>Agents that stopped connecting</h2>");
  ASSERT_NE(agents, std::string::npos);
  EXPECT_NE(html.find("<span>3 devices</span>"), std::string::npos);
  EXPECT_NE(html.find("1 agent_stopped</a>"), std::string::npos);
  EXPECT_NE(html.find("href=\"/?diagnosis=device_offline\">1 device_offline</a>"),
            std::string::npos);
  EXPECT_NE(html.find("title=\"paris\">paris</span></th><td>2</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("title=\"Lyon\">Lyon</span></th><td>1</td>"), std::string::npos);
  const auto offline = html.find("<tr class=\"agent-device_offline\">");
  const auto stopped = html.find("<tr class=\"agent-agent_stopped\">");
  const auto reach = html.find("<tr class=\"agent-agent_cannot_reach_server\">");
  ASSERT_NE(offline, std::string::npos);
  EXPECT_LT(offline, stopped);  // never connected, then 3 days, then 1 day
  EXPECT_LT(stopped, reach);
  EXPECT_EQ(html.find("<tr class=\"agent-", reach + 1),
            std::string::npos);  // pc-fresh is not listed
  EXPECT_NE(html.find("signal_udp: refused (ICMP port unreachable); icmp_echo: up"),
            std::string::npos);
  EXPECT_NE(html.find("<td>never</td>"), std::string::npos);
  EXPECT_LT(ksc, agents);
  EXPECT_LT(agents, html.find("<h2>Checks</h2>"));
  // The checks table still starts with its worst row (nothing above it looks like a check row).
  EXPECT_EQ(html.find("<tr class=\"row-"), html.find("<tr class=\"row-down\""));
}

// The page diagnoses as /metrics does: the same devices with the same diagnosis.
TEST(StatusPage, AgentDiagnosesAreThoseOfMetrics) {
  const KscEstate e = ksc_estate();
  MetricsRenderer renderer;
  MetricsRenderer::Source src;
  src.table = e.table.get();
  src.agents = e.info.agents;
  src.now = kKscNow;
  std::string metrics;
  renderer.render(src, metrics);
  std::vector<std::string> from_metrics;
  for (const auto& s : support::samples_of(metrics, "kscprobe_agent_diagnosis"))
    from_metrics.push_back(s.label("target") + " " + s.label("diagnosis"));
  std::sort(from_metrics.begin(), from_metrics.end());
  ASSERT_EQ(from_metrics.size(), 3u) << metrics;

  const std::string out = json_eval(
      page_of(e, "format=json"),
      "'\\n'.join(sorted(a['target']+' '+a['diagnosis'] for a in d['agents']['devices']))");
  std::string expected;
  for (const auto& line : from_metrics) expected += line + "\n";
  EXPECT_EQ(out, expected);
}

TEST(StatusPage, KscInJsonAndText) {
  const KscEstate e = ksc_estate();
  const std::string json = page_of(e, "format=json");
  EXPECT_EQ(
      json_eval(json,
                "d['ksc'][0]['success'], d['ksc'][0]['devices'], d['ksc'][0]['skipped'], "
                "d['ksc'][0]['list_age_seconds'], d['ksc'][1]['reason'], d['ksc'][1]['stale'], "
                "d['agents']['stale'], d['agents']['by_diagnosis'], "
                "d['agents']['by_site']['paris']['devices'], "
                "[a['target'] for a in d['agents']['devices']], "
                "d['agents']['devices'][1]['checks'], d['agents']['devices'][0]['last_connected'], "
                "d['agents']['devices'][1]['ksc_group']"),
      "True 6 {'duplicate_name': 0, 'no_address': 2} 90 unauthorized True 3 "
      "{'agent_stopped': 1, 'agent_cannot_reach_server': 1, 'device_offline': 1, 'unknown': 0} "
      "2 ['pc-offline', 'pc-stopped', 'pc-reach'] "
      "[{'check': 'signal_udp', 'state': 'refused', 'detail': 'ICMP port unreachable'}, "
      "{'check': 'icmp_echo', 'state': 'up', 'detail': ''}] None Paris/Floor 2\n");

  const std::string text = page_of(e, "format=text");
  EXPECT_NE(text.find("ksc01\tok\t-\t6\t4\tno_address 2\t90\t0\t-\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ksc02\tfailed\tunauthorized\t0\t0\t-\t10800\t1\tKSC 10.9.0.1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# agents that stopped connecting: 3 agent_stopped=1"), std::string::npos);
  EXPECT_NE(text.find("paris\t2\t1\t1\t0\t0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("agent_stopped\tpc-stopped\tksc01\tParis/Floor 2\t" +
                      std::to_string(static_cast<std::int64_t>(kKscNow - 3 * 86'400)) +
                      "\tsignal_udp: refused (ICMP port unreachable); icmp_echo: up\n"),
            std::string::npos)
      << text;
  // The checks still come last, as text_rows reads them: all 10 checks.
  EXPECT_EQ(text_rows(text).size(), 10u);
}

// diagnosis= narrows the agents listed and the checks to the devices diagnosed so; the counts
// stay whole.
TEST(StatusPage, DiagnosisFilter) {
  const KscEstate e = ksc_estate();
  EXPECT_EQ(
      json_eval(page_of(e, "format=json&diagnosis=agent_stopped"),
                "d['agents']['stale'], d['agents']['matched'], "
                "[a['target'] for a in d['agents']['devices']], d['matched'], "
                "sorted(set(c['target'] for c in d['checks'])), d['summary']['total']['checks']"),
      "3 1 ['pc-stopped'] 2 ['pc-stopped'] 10\n");
  EXPECT_EQ(json_eval(page_of(e, "format=json&diagnosis=unknown"),
                      "d['agents']['matched'], d['matched']"),
            "0 0\n");
  const std::string html = page_of(e, "diagnosis=device_offline");
  EXPECT_NE(html.find("<option selected>device_offline</option>"), std::string::npos);
  EXPECT_NE(html.find("devices 1&ndash;1 of 1 diagnosed device_offline"), std::string::npos);
  // Without KSC there is nothing so diagnosed: an empty page, not an error.
  ResultTable t(plan_with({"a"}));
  EXPECT_EQ(json_eval(page(t, "format=json&diagnosis=agent_stopped"), "d['matched'], d['ksc']"),
            "0 []\n");
}

// At 100 000 discovered agents that all stopped connecting, the page still lists a page of
// them (limit), not the estate; the per-site counts are bounded in HTML like the label values.
TEST(StatusPage, AHundredThousandStaleAgentsMakeASmallPage) {
  support::PlanBuilder b;
  std::vector<ksc::AgentView> views;
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "pc-%06u", i);
    b.target(name, Role::agent, "10.1.0.1",
             {{"ksc_group", "group-" + std::to_string(i % 500)},
              {"ksc_host_id", name},
              {"ksc_server", "ksc01"}})
        .check("signal_udp", Transport::udp, 15000);
    views.push_back({name, static_cast<std::int64_t>(kKscNow - 86'400 - i), std::nullopt, false});
  }
  auto plan = b.build();
  ResultTable table(plan);
  for (std::uint32_t i = 0; i < table.size(); ++i)
    table.record(i, ProbeResult::failure(Reason::refused, "refused"), kKscNow);
  StatusPageInfo info{"1", "k.toml", true, kKscNow, {}, {}};
  ksc::AgentSection section;
  section.name = "ksc01";
  section.stale_after = std::chrono::hours(2);
  section.agents = std::make_shared<const std::vector<ksc::AgentView>>(std::move(views));
  info.agents = {section};
  for (const char* q : {"", "format=json", "format=text", "diagnosis=agent_stopped&limit=1000"}) {
    const double cpu = platform::thread_cpu_seconds();
    StatusResponse r = serve_status_page(table, info, q);
    std::printf("status page for 100000 stale agents, query '%s': %zu bytes, %.1f ms CPU\n", q,
                r.body.size(), (platform::thread_cpu_seconds() - cpu) * 1000);
    EXPECT_EQ(r.status, 200u);
    EXPECT_LT(r.body.size(), 3u * 1024 * 1024) << q;
  }
  const std::string html = serve_status_page(table, info, "").body;
  EXPECT_NE(html.find("<span>100000 devices</span>"), std::string::npos);
  EXPECT_NE(html.find("480 more sites or groups"), std::string::npos);
  // The worst (longest silent) is the last one, and 200 are listed.
  const auto first = html.find("<tr class=\"agent-");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(html.find("pc-099999", first), std::string::npos);
  EXPECT_LT(html.find("pc-099999", first), html.find("pc-099998", first));
  std::size_t rows = 0;
  for (auto at = html.find("<tr class=\"agent-"); at != std::string::npos;
       at = html.find("<tr class=\"agent-", at + 1))
    ++rows;
  EXPECT_EQ(rows, 200u);
}
