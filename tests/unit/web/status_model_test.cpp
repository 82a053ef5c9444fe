// The status page's model: what every format writes, selected from the result table once.
#include "daemon/web/status_model.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

#include "daemon/runtime/result_table.hpp"
#include "tests/support/plan_builder.hpp"

using namespace kscprobe;

namespace {

constexpr double kNow = 1'800'000'000;

ProbeResult ok(std::int64_t not_after = 0, bool udp_reply = false) {
  ProbeResult r;
  r.success = true;
  r.udp_reply = udp_reply;
  if (not_after) {
    TlsInfo t;
    t.not_after = not_after;
    r.tls = t;
  }
  return r;
}

std::int64_t in_days(double days) { return static_cast<std::int64_t>(kNow + days * 86400); }

/// Eight targets, one check each, whose last probes give every row state and order.
struct Estate {
  std::shared_ptr<Plan> plan;
  std::unique_ptr<ResultTable> table;
  StatusPageInfo info{"1", "k.toml", true, kNow, {}, {}};
};

Estate estate() {
  Estate e;
  test::PlanBuilder b;
  b.target("up-tls", Role::server, "10.0.0.1", {{"site", "paris"}})
      .check("agents_tls", Transport::tls, 13000)
      .target("down-twice", Role::server, "10.0.0.2", {{"site", "lyon"}})
      .check("agents_tls", Transport::tls, 13000)
      .target("pending", Role::agent, "10.0.0.3", {{"site", "paris"}})
      .check("signal_udp", Transport::udp, 15000)
      .target("expiring-late", Role::server, "10.0.0.4")
      .check("agents_tls", Transport::tls, 13000)
      .target("silent-udp", Role::agent, "10.0.0.5", {{"site", "paris"}})
      .check("signal_udp", Transport::udp, 15000)
      .target("down-once", Role::agent, "10.0.0.6", {{"site", "lyon"}})
      .check("signal_udp", Transport::udp, 15000)
      .target("expiring-soon", Role::server, "10.0.0.7")
      .check("agents_tls", Transport::tls, 13000)
      .target("udp-reply", Role::agent, "10.0.0.8")
      .check("signal_udp", Transport::udp, 15000);
  b.plan().metrics.aggregate_labels = {"site"};
  e.plan = b.build();
  e.table = std::make_unique<ResultTable>(e.plan);
  ResultTable& t = *e.table;
  t.record(0, ok(in_days(300)), kNow);
  t.record(1, ProbeResult::failure(Reason::timeout, "no answer"), kNow);
  t.record(1, ProbeResult::failure(Reason::timeout, "no answer"), kNow);
  t.record(3, ok(in_days(20)), kNow);
  t.record(4, ok(), kNow);
  t.record(5, ProbeResult::failure(Reason::refused, "ICMP port unreachable"), kNow);
  t.record(6, ok(in_days(-2)), kNow);  // expired two days ago
  t.record(7, ok(0, /*udp_reply=*/true), kNow);
  return e;
}

std::vector<std::string> names(const StatusModel& m) {
  std::vector<std::string> out;
  for (const StatusRow& r : m.rows) out.push_back(r.target->name);
  return out;
}

StatusModel model(const Estate& e, const StatusQuery& q) {
  return build_status_model(*e.table, e.info, q);
}

}  // namespace

// The rows: down (longest failing first), pending, certificates expiring (soonest first), the
// rest in plan order; each with the state every format shows.
TEST(StatusModel, RowsAreWorstFirstWithTheirState) {
  const Estate e = estate();
  const StatusQuery q;
  const StatusModel m = model(e, q);
  EXPECT_EQ(m.matched, 8u);
  EXPECT_EQ(names(m),
            (std::vector<std::string>{"down-twice", "down-once", "pending", "expiring-soon",
                                      "expiring-late", "up-tls", "silent-udp", "udp-reply"}));
  std::vector<std::string> states;
  for (const StatusRow& r : m.rows) states.push_back(std::string(to_string(r.shown)));
  EXPECT_EQ(states, (std::vector<std::string>{"down", "down", "pending", "up", "up", "up",
                                              "open_filtered", "up"}));
  const StatusRow& soon = m.rows[3];
  EXPECT_EQ(soon.not_after, in_days(-2));
  EXPECT_DOUBLE_EQ(soon.days_left, -2);
  EXPECT_TRUE(soon.expiring);
  EXPECT_FALSE(m.rows[5].expiring);   // 300 days left
  EXPECT_EQ(m.rows[6].not_after, 0);  // no certificate
  EXPECT_FALSE(m.rows[6].expiring);
  EXPECT_TRUE(m.links.prev.empty());
  EXPECT_TRUE(m.links.next.empty());
}

// The summary counts the whole table whatever the filters keep, and the rows are what the
// filters keep.
TEST(StatusModel, SummaryCountsTheTableRowsFollowTheFilters) {
  const Estate e = estate();
  StatusQuery q;
  q.role = Role::agent;
  q.state = StateFilter::up;
  const StatusModel m = model(e, q);
  EXPECT_EQ(m.summary.total.checks, 8u);
  EXPECT_EQ(m.summary.total.up, 5u);
  EXPECT_EQ(m.summary.total.udp_silent, 1u);
  EXPECT_EQ(m.summary.total.pending, 1u);
  EXPECT_EQ(m.summary.total.down, 2u);
  EXPECT_EQ(m.summary.total.down_by_reason[static_cast<int>(Reason::timeout)], 1u);
  EXPECT_EQ(m.summary.total.down_by_reason[static_cast<int>(Reason::refused)], 1u);
  EXPECT_EQ(m.summary.total.cert_expiring, 2u);
  EXPECT_EQ(m.summary.roles[static_cast<int>(Role::agent)].checks, 4u);
  ASSERT_EQ(m.summary.labels.size(), 1u);
  std::vector<std::string> values;
  for (const auto& [value, counts] : m.summary.labels[0].values) values.push_back(value);
  EXPECT_EQ(values, (std::vector<std::string>{"", "lyon", "paris"}));
  EXPECT_EQ(m.summary.labels[0].values[1].second.down, 2u);
  EXPECT_EQ(names(m), (std::vector<std::string>{"silent-udp", "udp-reply"}));

  q = {};
  q.state = StateFilter::filtered;
  EXPECT_EQ(names(model(e, q)), (std::vector<std::string>{"silent-udp"}));
  q = {};
  q.reason = Reason::refused;
  EXPECT_EQ(names(model(e, q)), (std::vector<std::string>{"down-once"}));
  q = {};
  q.labels = {{"site", "paris"}};
  q.target = "UP";  // any case
  EXPECT_EQ(names(model(e, q)), (std::vector<std::string>{"up-tls"}));
  q = {};
  q.state = StateFilter::expiring;
  EXPECT_EQ(names(model(e, q)), (std::vector<std::string>{"expiring-soon", "expiring-late"}));
}

// Pages are slices of the one order, linked both ways; a page past the end links back to the
// last page with rows.
TEST(StatusModel, PagesAndTheirLinks) {
  const Estate e = estate();
  StatusQuery q;
  q.limit = 3;
  q.offset = 3;
  q.format = StatusFormat::text;
  const StatusModel m = model(e, q);
  EXPECT_EQ(m.matched, 8u);
  EXPECT_EQ(names(m), (std::vector<std::string>{"expiring-soon", "expiring-late", "up-tls"}));
  EXPECT_EQ(m.links.prev, "/?format=text&limit=3");
  EXPECT_EQ(m.links.next, "/?format=text&limit=3&offset=6");
  q.offset = 50;
  const StatusModel far = model(e, q);
  EXPECT_TRUE(far.rows.empty());
  EXPECT_EQ(far.matched, 8u);
  EXPECT_EQ(far.links.prev, "/?format=text&limit=3&offset=6");
  EXPECT_TRUE(far.links.next.empty());
  q.offset = 0;
  q.limit = 0;
  const StatusModel none = model(e, q);
  EXPECT_TRUE(none.rows.empty());
  EXPECT_TRUE(none.links.prev.empty() && none.links.next.empty());
}

TEST(StatusModel, NoPlanYetIsAnEmptyPage) {
  const ResultTable table;
  const StatusPageInfo info;
  const StatusQuery q;
  const StatusModel m = build_status_model(table, info, q);
  EXPECT_EQ(m.plan, nullptr);
  EXPECT_EQ(m.summary.total.checks, 0u);
  EXPECT_EQ(m.matched, 0u);
  EXPECT_TRUE(m.rows.empty());
  EXPECT_EQ(m.agents.stale, 0u);
}

// A stale agent: diagnosed as /metrics does, counted per site, listed with the evidence of each
// of its checks; the diagnosis filter keeps its checks among the rows.
TEST(StatusModel, StaleAgentsWithTheirEvidence) {
  Estate e = estate();
  // Discovered targets: the section's name is their ksc_server.
  for (std::uint32_t t : {5u, 4u, 7u}) {
    auto& labels = e.plan->targets[t].labels;
    labels.insert(labels.begin(), {"ksc_server", "ksc01"});
  }
  ksc::AgentSection section;
  section.name = "ksc01";
  section.stale_after = std::chrono::hours(2);
  section.agents = std::make_shared<const std::vector<ksc::AgentView>>(std::vector<ksc::AgentView>{
      {"down-once", static_cast<std::int64_t>(kNow - 86'400), std::nullopt, false},
      {"silent-udp", std::nullopt, std::nullopt, false},
      {"udp-reply", static_cast<std::int64_t>(kNow - 60), std::nullopt, true},
  });
  e.info.agents = {section};
  StatusQuery q;
  const StatusModel m = model(e, q);
  EXPECT_EQ(m.agents.stale, 2u);
  ASSERT_EQ(m.agents.page.size(), 2u);
  // Never connected is the longest silent.
  const StaleAgentRow& never = m.agents.page[0];
  EXPECT_EQ(never.target->name, "silent-udp");
  EXPECT_EQ(never.silent, std::numeric_limits<double>::infinity());
  EXPECT_EQ(never.site, "paris");
  ASSERT_EQ(never.evidence.size(), 1u);
  EXPECT_EQ(never.evidence[0].check, "signal_udp");
  EXPECT_EQ(never.evidence[0].state, "open_filtered");
  EXPECT_EQ(never.evidence[0].detail, "");
  const StaleAgentRow& refused = m.agents.page[1];
  EXPECT_EQ(refused.target->name, "down-once");
  EXPECT_DOUBLE_EQ(refused.silent, 86'400);
  EXPECT_EQ(refused.diagnosis, exposition::Diagnosis::agent_stopped);
  ASSERT_EQ(refused.evidence.size(), 1u);
  EXPECT_EQ(refused.evidence[0].state, "refused");
  EXPECT_EQ(refused.evidence[0].detail, "ICMP port unreachable");
  EXPECT_EQ(evidence_line(refused.evidence, 4), "signal_udp: refused (ICMP...)");
  ASSERT_EQ(m.agents.sites.size(), 2u);  // one stale agent each: by name
  EXPECT_EQ(m.agents.sites[0].site, "lyon");

  q.diagnosis = exposition::Diagnosis::agent_stopped;
  const StatusModel stopped = model(e, q);
  EXPECT_EQ(stopped.agents.matched, 1u);
  EXPECT_EQ(stopped.agents.stale, 2u);  // the counts stay those of every stale agent
  EXPECT_EQ(names(stopped), (std::vector<std::string>{"down-once"}));
}
