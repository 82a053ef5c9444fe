// The instance statistics of a KSC server (daemon/discovery/ksc_statistics.hpp): the table of
// known attributes follows Prometheus's naming for its kinds and says what each one is; the
// decoding reads every shape KSC sends (plain and wrapped numbers, bools, datetimes, nested
// records) within its bounds; the fake server's sample is fully known to the table.
#include "daemon/discovery/ksc_statistics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <regex>
#include <set>
#include <string>

#include "simulator/ksc_sample_statistics.hpp"

namespace kscprobe::ksc {
namespace {

boost::json::value parse(std::string_view text) { return boost::json::parse(text); }

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

TEST(KscStatistics, TheTableNamesEachKindAsPrometheusDoes) {
  const std::regex metric_name("kscprobe_ksc_[a-z0-9_]+");
  std::set<std::string> metrics, names;
  ASSERT_GT(known_statistics().size(), 40u);
  for (const StatisticInfo& s : known_statistics()) {
    SCOPED_TRACE(std::string(s.name));
    EXPECT_TRUE(std::regex_match(std::string(s.metric), metric_name));
    EXPECT_TRUE(metrics.insert(std::string(s.metric)).second) << "metric used twice";
    EXPECT_TRUE(names.insert(std::string(s.record) + "/" + std::string(s.name)).second);
    EXPECT_NE(s.metric, "kscprobe_ksc_statistic");  // kept for the unknown attributes
    switch (s.kind) {
      case StatisticKind::counter:
        EXPECT_TRUE(ends_with(s.metric, "_total"));
        break;
      case StatisticKind::timestamp:
        EXPECT_TRUE(ends_with(s.metric, "_timestamp_seconds"));
        break;
      case StatisticKind::gauge:
        EXPECT_FALSE(ends_with(s.metric, "_total"));
        EXPECT_FALSE(ends_with(s.metric, "_timestamp_seconds"));
        break;
    }
    // The help says what the figure is and where it comes from: the attribute, the OpenAPI's
    // instance statistics; a publisher series only ever as a likely correspondence.
    const std::string help(s.help);
    EXPECT_NE(help.find(std::string(s.name)), std::string::npos) << help;
    EXPECT_NE(help.find("KSC OpenAPI instance statistics"), std::string::npos) << help;
    const auto series = help.find("ksc_Transport__");
    if (series != std::string::npos) {
      EXPECT_NE(help.find("Likely corresponds to the metrics publisher's"), std::string::npos);
    }
    EXPECT_EQ(find_statistic(s.record, s.name), &s);
  }
  EXPECT_EQ(find_statistic("", "KLSRV_ST_CON_EV_SESSION_COUNT"), nullptr);  // only nested
  EXPECT_EQ(find_statistic("", "KLSRV_ST_LOAD_AVG"), nullptr);
  // The kinds the reference implies for a few of them.
  EXPECT_EQ(find_statistic("", "KLSRV_ST_PING_CNT")->kind, StatisticKind::counter);
  EXPECT_EQ(find_statistic("", "KLSRV_ST_PING_JN_CNT")->kind, StatisticKind::gauge);
  EXPECT_EQ(find_statistic("", "KLSRV_ST_SYNC_QUEUE_SIZE")->kind, StatisticKind::gauge);
  EXPECT_EQ(find_statistic("", "KLTR_ST_SENT_BYTES")->kind, StatisticKind::counter);
  EXPECT_EQ(find_statistic("", "KLSRV_ST_LAST_ADSCAN_TIME")->kind, StatisticKind::timestamp);
}

// Discovery names what it wants: the connection counts are 0 unless asked for (KSC Open API,
// "List of Server statistics attributes", Availability column).
TEST(KscStatistics, DiscoveryAsksForTheTablesAttributesAndRecords) {
  const std::vector<std::string>& fields = statistic_fields();
  auto has = [&](std::string_view f) {
    return std::find(fields.begin(), fields.end(), f) != fields.end();
  };
  EXPECT_TRUE(has("KLSRV_ST_ALL_CONS_CNT"));
  EXPECT_TRUE(has("KLSRV_ST_CTLNGT_CONS_CNT"));
  EXPECT_TRUE(has("KLSRV_ST_CON_EVENTS"));
  EXPECT_TRUE(has("KLASYNCACT_COUNTERS"));
  EXPECT_FALSE(has("KLSRV_ST_CON_EV_SESSION_COUNT"));  // a member: its record is asked for
  EXPECT_FALSE(has("KLSRV_ST_KEEPCONN_HOSTS_CNT"));    // only in an old header
  EXPECT_EQ(std::set<std::string>(fields.begin(), fields.end()).size(), fields.size());
}

TEST(KscStatistics, DecodesEveryShapeKscSends) {
  auto stats = decode_statistics(parse(R"({"PxgRetVal": {"type": "params", "value": {
      "KLSRV_ST_PING_CNT": 48211,
      "KLSRV_ST_CPU_KERNEL": {"type": "double", "value": 12.5},
      "KLSRV_ST_CPU_USER": {"type": "float", "value": 0.5},
      "KLTR_ST_SENT_BYTES": {"type": "long", "value": 7340032000},
      "KLSRV_ST_SYNC_QUEUE_SIZE": {"type": "int", "value": 2},
      "KLSRV_ST_NETWORK_SCANNED": false,
      "KLSRV_ST_LAST_ADSCAN_TIME": {"type": "datetime", "value": "2026-03-19T02:00:11Z"},
      "KLSRV_ST_LAST_DPNSSCAN_TIME": {"type": "datetime", "value": "never"},
      "KLSRV_ST_NETWORK_DOMAIN_SCANNED": "*",
      "KLNLST_COUNTERS": {"type": "params", "value": {"KLNLST_COUNTERS_LISTS_ARRAY": [1, 2]}},
      "KLSRV_ST_CON_EVENTS": {"type": "params", "value": {
          "KLSRV_ST_CON_EV_SUBS_COUNT": 11, "KLSRV_ST_CON_EV_NEW": 7}},
      "KLASYNCACT_COUNTERS": {"KLASYNCACT_DURATION_MSEC": {"type": "long", "value": 1500},
          "DEEPER": {"A": 1, "DEEPEST": {"B": 2}}},
      "KLSRV_ST_FUTURE_CNT": 5}}})"));
  std::vector<std::tuple<std::string, std::string, double, bool>> got;
  for (const Statistic& s : stats) got.emplace_back(s.record, s.name, s.value, s.info != nullptr);
  using T = std::tuple<std::string, std::string, double, bool>;
  EXPECT_EQ(got, (std::vector<T>{
                     T{"", "KLSRV_ST_CPU_KERNEL", 12.5, true},
                     T{"", "KLSRV_ST_CPU_USER", 0.5, true},
                     T{"", "KLSRV_ST_FUTURE_CNT", 5, false},
                     T{"", "KLSRV_ST_LAST_ADSCAN_TIME", 1773885611, true},
                     T{"", "KLSRV_ST_NETWORK_SCANNED", 0, true},
                     T{"", "KLSRV_ST_PING_CNT", 48211, true},
                     T{"", "KLSRV_ST_SYNC_QUEUE_SIZE", 2, true},
                     T{"", "KLTR_ST_SENT_BYTES", 7340032000.0, true},
                     T{"KLASYNCACT_COUNTERS", "KLASYNCACT_DURATION_MSEC", 1.5, true},  // ms → s
                     T{"KLASYNCACT_COUNTERS/DEEPER", "A", 1, false},
                     T{"KLSRV_ST_CON_EVENTS", "KLSRV_ST_CON_EV_NEW", 7, false},
                     T{"KLSRV_ST_CON_EVENTS", "KLSRV_ST_CON_EV_SUBS_COUNT", 11, true},
                 }));
  EXPECT_TRUE(decode_statistics(parse(R"({"PxgRetVal": 3})")).empty());
  EXPECT_TRUE(decode_statistics(parse(R"({"PxgError": {"code": 1}})")).empty());
  EXPECT_TRUE(decode_statistics(parse("[1]")).empty());
}

TEST(KscStatistics, WhatAServerSendsIsBounded) {
  boost::json::object many;
  for (int i = 0; i < 3000; ++i) many["S" + std::to_string(i)] = i;
  many[std::string(kMaxStatisticName + 1, 'L')] = 1;
  many["bad\nname"] = 1;
  many[""] = 1;
  boost::json::object answer;
  answer["PxgRetVal"] = many;
  auto stats = decode_statistics(boost::json::value(answer));
  EXPECT_EQ(stats.size(), kMaxStatistics);
  for (const Statistic& s : stats) {
    EXPECT_LE(s.name.size(), kMaxStatisticName);
    EXPECT_EQ(s.name.find('\n'), std::string::npos);
    EXPECT_FALSE(s.name.empty());
  }
  // The same name twice (JSON allows it, a hostile server might): once.
  auto twice = decode_statistics(parse(R"({"PxgRetVal": {"A": 1, "A": 2}})"));
  EXPECT_EQ(twice.size(), 1u);
}

// The fake server answers with the real attributes and wrappers: each of its values is one the
// table knows, so a test against the fake exercises the exported families, not the fallback.
TEST(KscStatistics, TheFakeServersSampleIsAllKnown) {
  boost::json::object answer;
  answer["PxgRetVal"] = parse(sim::sample_instance_statistics_json());
  auto stats = decode_statistics(boost::json::value(answer));
  EXPECT_EQ(stats.size(), 50u);
  std::set<const StatisticInfo*> seen;
  for (const Statistic& s : stats) {
    EXPECT_NE(s.info, nullptr) << s.record << "/" << s.name;
    seen.insert(s.info);
  }
  EXPECT_EQ(seen.size(), stats.size());
}

}  // namespace
}  // namespace kscprobe::ksc
