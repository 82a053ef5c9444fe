// The metrics of discovery from KSC (daemon/exposition/discovery_metrics.hpp) for given
// snapshots, line by line.
#include "daemon/exposition/discovery_metrics.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <sstream>
#include <vector>

namespace kscprobe::exposition {
namespace {

// The text without its HELP lines (whose wording may change), and the families they name.
std::string without_help(const std::string& text, std::vector<std::string>* helped) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      helped->push_back(rest.substr(0, rest.find(' ')));
      EXPECT_GT(rest.size(), helped->back().size() + 20) << "a HELP that says little: " << line;
      continue;
    }
    out += line + '\n';
  }
  return out;
}

TEST(DiscoveryMetrics, EverySectionsFiguresWithItsServerLabel) {
  ksc::DiscoveryStatus ok;
  ok.name = "ksc01";
  ok.ran = true;
  ok.success = true;
  ok.duration_seconds = 1.25;
  ok.last_success_unix = 1773937133.5;
  ok.targets_by_role = {{Role::agent, 1199}, {Role::distribution_point, 1}};
  ok.skipped = {{"duplicate_name", 0}, {"no_address", 2}};
  // Instance statistics of each kind: a gauge, a counter, a bool, a datetime, a wrapped double,
  // a wrapped long, a known value of a nested record (and one in milliseconds), and attributes
  // the table does not know, at the top and nested.
  ok.statistics = ksc::decode_statistics(boost::json::parse(R"({"PxgRetVal": {
      "KLSRV_ST_ALL_CONS_CNT": 12, "KLSRV_ST_PING_CNT": 48211, "KLSRV_ST_NETWORK_SCANNED": true,
      "KLSRV_ST_LAST_FULLNETSCAN_TIME": {"type": "datetime", "value": "2026-03-19T02:00:11Z"},
      "KLSRV_ST_CPU_USER": {"type": "double", "value": 31.25},
      "KLTR_ST_SENT_BYTES": {"type": "long", "value": 7340032000},
      "KLSRV_ST_CON_EVENTS": {"type": "params", "value": {"KLSRV_ST_CON_EV_SESSION_COUNT": 4,
          "KLSRV_ST_CON_EV_NEW_THING": 7}},
      "KLASYNCACT_COUNTERS": {"type": "params", "value": {
          "KLASYNCACT_DURATION_MSEC": {"type": "long", "value": 1500}}},
      "KLSRV_ST_FUTURE_CNT": 5, "KLSRV_ST_NETWORK_DOMAIN_SCANNED": "*"}})"));

  // Failed after a success: its targets stay, its statistics are gone.
  ksc::DiscoveryStatus failing;
  failing.name = "ksc\"02";
  failing.ran = true;
  failing.success = false;
  failing.duration_seconds = 0.5;
  failing.last_success_unix = 1773930000;
  failing.targets_by_role = {{Role::agent, 3}};
  failing.error_kind = "unauthorized";
  failing.stale = true;  // its last success is older than stale_after

  // Never ran yet: only what it is asked for (its roles and reasons at 0).
  ksc::DiscoveryStatus fresh;
  fresh.name = "ksc03";
  fresh.targets_by_role = {{Role::distribution_point, 0}};
  fresh.skipped = {{"no_address", 0}};

  std::vector<ksc::DiscoveryStatus> statuses = {ok, failing, fresh};
  std::string text;
  write_discovery_metrics(text, statuses);
  std::vector<std::string> helped;
  EXPECT_EQ(without_help(text, &helped),
            "# TYPE kscprobe_discovery_success gauge\n"
            "kscprobe_discovery_success{ksc_server=\"ksc01\"} 1\n"
            "kscprobe_discovery_success{ksc_server=\"ksc\\\"02\"} 0\n"
            "# TYPE kscprobe_discovery_duration_seconds gauge\n"
            "kscprobe_discovery_duration_seconds{ksc_server=\"ksc01\"} 1.25\n"
            "kscprobe_discovery_duration_seconds{ksc_server=\"ksc\\\"02\"} 0.5\n"
            "# TYPE kscprobe_discovery_failure_info gauge\n"
            "kscprobe_discovery_failure_info{ksc_server=\"ksc\\\"02\",reason=\"unauthorized\"} 1\n"
            "# TYPE kscprobe_discovery_stale gauge\n"
            "kscprobe_discovery_stale{ksc_server=\"ksc01\"} 0\n"
            "kscprobe_discovery_stale{ksc_server=\"ksc\\\"02\"} 1\n"
            "# TYPE kscprobe_discovery_last_success_timestamp_seconds gauge\n"
            "kscprobe_discovery_last_success_timestamp_seconds{ksc_server=\"ksc01\"} "
            "1773937133.5\n"
            "kscprobe_discovery_last_success_timestamp_seconds{ksc_server=\"ksc\\\"02\"} "
            "1773930000\n"
            "# TYPE kscprobe_discovery_targets gauge\n"
            "kscprobe_discovery_targets{ksc_server=\"ksc01\",role=\"agent\"} 1199\n"
            "kscprobe_discovery_targets{ksc_server=\"ksc01\",role=\"distribution_point\"} 1\n"
            "kscprobe_discovery_targets{ksc_server=\"ksc\\\"02\",role=\"agent\"} 3\n"
            "kscprobe_discovery_targets{ksc_server=\"ksc03\",role=\"distribution_point\"} 0\n"
            "# TYPE kscprobe_discovery_skipped_hosts gauge\n"
            "kscprobe_discovery_skipped_hosts{ksc_server=\"ksc01\",reason=\"duplicate_name\"} 0\n"
            "kscprobe_discovery_skipped_hosts{ksc_server=\"ksc01\",reason=\"no_address\"} 2\n"
            "kscprobe_discovery_skipped_hosts{ksc_server=\"ksc03\",reason=\"no_address\"} 0\n"
            "# TYPE kscprobe_ksc_connections gauge\n"
            "kscprobe_ksc_connections{ksc_server=\"ksc01\"} 12\n"
            "# TYPE kscprobe_ksc_heartbeats_total counter\n"
            "kscprobe_ksc_heartbeats_total{ksc_server=\"ksc01\"} 48211\n"
            "# TYPE kscprobe_ksc_network_scanned gauge\n"
            "kscprobe_ksc_network_scanned{ksc_server=\"ksc01\"} 1\n"
            "# TYPE kscprobe_ksc_last_full_scan_timestamp_seconds gauge\n"
            "kscprobe_ksc_last_full_scan_timestamp_seconds{ksc_server=\"ksc01\"} 1773885611\n"
            "# TYPE kscprobe_ksc_cpu_user gauge\n"
            "kscprobe_ksc_cpu_user{ksc_server=\"ksc01\"} 31.25\n"
            "# TYPE kscprobe_ksc_transport_sent_bytes_total counter\n"
            "kscprobe_ksc_transport_sent_bytes_total{ksc_server=\"ksc01\"} 7340032000\n"
            "# TYPE kscprobe_ksc_con_events_sessions gauge\n"
            "kscprobe_ksc_con_events_sessions{ksc_server=\"ksc01\"} 4\n"
            "# TYPE kscprobe_ksc_async_actions_duration_seconds gauge\n"
            "kscprobe_ksc_async_actions_duration_seconds{ksc_server=\"ksc01\"} 1.5\n"
            "# TYPE kscprobe_ksc_statistic gauge\n"
            "kscprobe_ksc_statistic{ksc_server=\"ksc01\",name=\"KLSRV_ST_FUTURE_CNT\"} 5\n"
            "kscprobe_ksc_statistic{ksc_server=\"ksc01\",name=\"KLSRV_ST_CON_EV_NEW_THING\","
            "record=\"KLSRV_ST_CON_EVENTS\"} 7\n");
  EXPECT_EQ(helped,
            (std::vector<std::string>{
                "kscprobe_discovery_success", "kscprobe_discovery_duration_seconds",
                "kscprobe_discovery_failure_info", "kscprobe_discovery_stale",
                "kscprobe_discovery_last_success_timestamp_seconds", "kscprobe_discovery_targets",
                "kscprobe_discovery_skipped_hosts", "kscprobe_ksc_connections",
                "kscprobe_ksc_heartbeats_total", "kscprobe_ksc_network_scanned",
                "kscprobe_ksc_last_full_scan_timestamp_seconds", "kscprobe_ksc_cpu_user",
                "kscprobe_ksc_transport_sent_bytes_total", "kscprobe_ksc_con_events_sessions",
                "kscprobe_ksc_async_actions_duration_seconds", "kscprobe_ksc_statistic"}));
}

TEST(DiscoveryMetrics, NoSectionWritesNothing) {
  std::string text = "kept\n";
  write_discovery_metrics(text, {});
  EXPECT_EQ(text, "kept\n");
}

TEST(DiscoveryMetrics, BeforeAFirstRunOnlyTheTargetsAndReasonsShow) {
  ksc::DiscoveryStatus fresh;
  fresh.name = "ksc01";
  fresh.targets_by_role = {{Role::agent, 0}};
  std::vector<ksc::DiscoveryStatus> statuses = {fresh};
  std::string text;
  write_discovery_metrics(text, statuses);
  EXPECT_EQ(text.find("kscprobe_discovery_success"), std::string::npos);
  EXPECT_EQ(text.find("kscprobe_discovery_duration_seconds"), std::string::npos);
  EXPECT_EQ(text.find("kscprobe_discovery_last_success_timestamp_seconds"), std::string::npos);
  EXPECT_EQ(text.find("kscprobe_discovery_failure_info{"), std::string::npos);
  EXPECT_EQ(text.find("kscprobe_discovery_stale{"), std::string::npos);
  EXPECT_NE(text.find("kscprobe_discovery_targets{ksc_server=\"ksc01\",role=\"agent\"} 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace kscprobe::exposition
