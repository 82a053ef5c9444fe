#include "config/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "config/loader.hpp"

using namespace kscprobe;
using namespace std::chrono_literals;

namespace {

Plan plan_of(std::string_view toml) {
  auto result = load_config_string(toml, "plan.toml");
  EXPECT_TRUE(result.ok()) << result.error_text();
  return expand_plan(result.config.value_or(Config{}));
}

// Check ids of one target, in plan order.
std::vector<std::string> checks_of(const Plan& plan, std::string_view target) {
  std::vector<std::string> out;
  for (const auto& c : plan.checks) {
    if (plan.target_of(c).name == target) out.push_back(c.check.str());
  }
  return out;
}

const CheckSpec& find(const Plan& plan, std::string_view target, std::string_view check) {
  for (const auto& c : plan.checks) {
    if (plan.target_of(c).name == target && c.check == check) return c;
  }
  ADD_FAILURE() << "no check " << target << "/" << check;
  static const CheckSpec none;
  return none;
}

std::string server(std::string_view extra = "") {
  return "[[target]]\nname = \"ksc01\"\nrole = \"server\"\naddress = \"ksc01.corp\"\n" +
         std::string(extra) + "\n";
}

std::string dp(std::string_view extra = "") {
  return "[[target]]\nname = \"dp1\"\nrole = \"distribution_point\"\naddress = \"dp1.corp\"\n" +
         std::string(extra) + "\n";
}

}  // namespace

TEST(Plan, ServerWithoutFeatures) {
  Plan plan = plan_of(server());
  std::vector<std::string> expected = {
      "packages_http", "packages_https", "agents_tls",     "shutdown_udp", "console_tls",
      "openapi_tls",   "agents_tcp",     "activation_tls", "tunnel_https", "metrics_https"};
  EXPECT_EQ(checks_of(plan, "ksc01"), expected);
  const CheckSpec& agents = find(plan, "ksc01", "agents_tls");
  EXPECT_EQ(agents.port, 13000);
  EXPECT_EQ(agents.transport, Transport::tls);
  EXPECT_EQ(agents.address, "ksc01.corp");
  EXPECT_EQ(find(plan, "ksc01", "shutdown_udp").transport, Transport::udp);
  EXPECT_EQ(find(plan, "ksc01", "shutdown_udp").port, 13000);
  EXPECT_EQ(find(plan, "ksc01", "agents_tcp").port, 14000);
}

TEST(Plan, KsnProxyFeature) {
  Plan plan = plan_of(server("features = [\"ksn_proxy\"]") + dp("features = [\"ksn_proxy\"]"));
  auto s = checks_of(plan, "ksc01");
  EXPECT_NE(std::find(s.begin(), s.end(), "ksn_proxy_tcp"), s.end());
  EXPECT_NE(std::find(s.begin(), s.end(), "ksn_proxy_udp"), s.end());
  EXPECT_EQ(find(plan, "ksc01", "ksn_proxy_tcp").port, 13111);
  EXPECT_EQ(find(plan, "ksc01", "ksn_proxy_udp").port, 15111);
  std::vector<std::string> dp_expected = {"signal_udp",    "multicast_udp", "gateway_tls",
                                          "ksn_proxy_tcp", "ksn_proxy_udp", "ksn_proxy_https"};
  EXPECT_EQ(checks_of(plan, "dp1"), dp_expected);
  const CheckSpec& https = find(plan, "dp1", "ksn_proxy_https");
  EXPECT_EQ(https.port, 17111);
  EXPECT_EQ(https.transport, Transport::https);

  Plan off = plan_of(server() + dp());
  for (const auto& c : off.checks) EXPECT_EQ(c.check.find("ksn_proxy"), std::string::npos);
}

TEST(Plan, MobileFeatureAddsActivationMobileAndUefi) {
  Plan plan = plan_of(server("features = [\"mobile\"]"));
  auto s = checks_of(plan, "ksc01");
  for (const char* id : {"activation_mobile_tls", "mobile_tls", "uefi_tls"}) {
    EXPECT_NE(std::find(s.begin(), s.end(), id), s.end()) << id;
  }
  EXPECT_EQ(find(plan, "ksc01", "mobile_tls").port, 13292);
  EXPECT_EQ(find(plan, "ksc01", "uefi_tls").port, 13294);
  EXPECT_EQ(find(plan, "ksc01", "activation_mobile_tls").port, 17100);
}

TEST(Plan, UefiFeatureAddsOnlyUefi) {
  Plan plan = plan_of(server("features = [\"uefi\"]"));
  auto s = checks_of(plan, "ksc01");
  EXPECT_NE(std::find(s.begin(), s.end(), "uefi_tls"), s.end());
  EXPECT_EQ(std::find(s.begin(), s.end(), "mobile_tls"), s.end());
  EXPECT_EQ(std::find(s.begin(), s.end(), "activation_mobile_tls"), s.end());
  EXPECT_EQ(s.size(), 11u);

  Plan none = plan_of(server());
  auto n = checks_of(none, "ksc01");
  EXPECT_EQ(std::find(n.begin(), n.end(), "uefi_tls"), n.end());
}

TEST(Plan, LocalFeatureAddsFileBridge) {
  Plan plan = plan_of(server("features = [\"local\"]"));
  EXPECT_EQ(find(plan, "ksc01", "file_bridge").port, 30522);
  EXPECT_EQ(find(plan, "ksc01", "file_bridge_2").port, 30523);
  EXPECT_EQ(find(plan, "ksc01", "file_bridge").transport, Transport::tcp);
  auto none = checks_of(plan_of(server()), "ksc01");
  EXPECT_EQ(std::find(none.begin(), none.end(), "file_bridge"), none.end());
}

TEST(Plan, PushServerFeatureOnDistributionPoint) {
  Plan plan = plan_of(dp("features = [\"push_server\"]"));
  std::vector<std::string> expected = {"signal_udp", "multicast_udp", "gateway_tls", "push_tls"};
  EXPECT_EQ(checks_of(plan, "dp1"), expected);
  EXPECT_EQ(find(plan, "dp1", "push_tls").port, 13295);
  std::vector<std::string> plain = {"signal_udp", "multicast_udp", "gateway_tls"};
  EXPECT_EQ(checks_of(plan_of(dp()), "dp1"), plain);
}

TEST(Plan, AgentChecks) {
  Plan plan = plan_of(
      "[[target]]\nname = \"pc1\"\nrole = \"agent\"\naddress = \"pc1.corp\"\n"
      "features = [\"ksn_proxy\", \"mobile\"]\n");
  std::vector<std::string> expected = {"signal_udp", "multicast_udp"};
  EXPECT_EQ(checks_of(plan, "pc1"), expected);
  EXPECT_EQ(find(plan, "pc1", "signal_udp").port, 15000);
  EXPECT_EQ(find(plan, "pc1", "multicast_udp").port, 15001);
}

TEST(Plan, WebConsoleAndIosMdm) {
  Plan plan = plan_of(
      "[[target]]\nname = \"web\"\nrole = \"web_console\"\naddress = \"web.corp\"\n"
      "[[target]]\nname = \"mdm\"\nrole = \"ios_mdm\"\naddress = \"mdm.corp\"\n");
  EXPECT_EQ(checks_of(plan, "web"), std::vector<std::string>{"web_console_tls"});
  EXPECT_EQ(find(plan, "web", "web_console_tls").port, 8080);
  EXPECT_EQ(checks_of(plan, "mdm"), std::vector<std::string>{"ios_mdm_tls"});
  EXPECT_EQ(find(plan, "mdm", "ios_mdm_tls").port, 443);
}

TEST(Plan, PortOverride) {
  Plan plan = plan_of(server("[target.ports]\nagents_tls = 13010\nmetrics_https = 9296"));
  EXPECT_EQ(find(plan, "ksc01", "agents_tls").port, 13010);
  EXPECT_EQ(find(plan, "ksc01", "metrics_https").port, 9296);
  // The UDP check on the same default port is a different check id and keeps its port.
  EXPECT_EQ(find(plan, "ksc01", "shutdown_udp").port, 13000);
}

TEST(Plan, Disable) {
  Plan plan = plan_of(server("disable = [\"shutdown_udp\", \"packages_http\"]"));
  auto s = checks_of(plan, "ksc01");
  EXPECT_EQ(std::find(s.begin(), s.end(), "shutdown_udp"), s.end());
  EXPECT_EQ(std::find(s.begin(), s.end(), "packages_http"), s.end());
  EXPECT_EQ(s.size(), 8u);
}

TEST(Plan, DistributionPointOnAdminServerUses13001) {
  Plan plain = plan_of(dp());
  EXPECT_EQ(find(plain, "dp1", "gateway_tls").port, 13000);
  Plan on_server = plan_of(dp("features = [\"on_admin_server\"]"));
  EXPECT_EQ(find(on_server, "dp1", "gateway_tls").port, 13001);
  // Only the gateway moves: the agent's ports of the same host stay.
  EXPECT_EQ(find(on_server, "dp1", "signal_udp").port, 15000);
}

TEST(Plan, ExplicitPortBeatsOnAdminServerRule) {
  Plan plan = plan_of(dp("features = [\"on_admin_server\"]\n[target.ports]\ngateway_tls = 13500"));
  EXPECT_EQ(find(plan, "dp1", "gateway_tls").port, 13500);
}

TEST(Plan, DatabaseEngines) {
  Plan plan = plan_of(R"([[target]]
name = "my"
role = "database"
address = "my.corp"
engine = "mysql"
[[target]]
name = "ms"
role = "database"
address = "ms.corp"
engine = "mssql"
[[target]]
name = "pg"
role = "database"
address = "pg.corp"
engine = "postgresql"
[target.ports]
database_tcp = 5433
)");
  ASSERT_EQ(plan.checks.size(), 3u);
  EXPECT_EQ(checks_of(plan, "my"), std::vector<std::string>{"database_tcp"});
  EXPECT_EQ(find(plan, "my", "database_tcp").port, 3306);
  EXPECT_EQ(find(plan, "ms", "database_tcp").port, 1433);
  EXPECT_EQ(find(plan, "pg", "database_tcp").port, 5433);
  EXPECT_EQ(find(plan, "pg", "database_tcp").transport, Transport::tcp);
}

TEST(Plan, IntervalAndTimeoutInheritance) {
  Plan plan = plan_of(R"([daemon]
interval = "1m"
timeout = "7s"
[[target]]
name = "a"
role = "agent"
address = "a.corp"
[[target]]
name = "b"
role = "agent"
address = "b.corp"
interval = "20s"
timeout = "2s"
[[target.check]]
name = "ssh"
port = 22
transport = "tcp"
[[target.check]]
name = "rdp"
port = 3389
transport = "tcp"
interval = "5m"
timeout = "500ms"
)");
  EXPECT_EQ(plan.daemon.interval, 1min);
  EXPECT_EQ(find(plan, "a", "signal_udp").interval, 1min);
  EXPECT_EQ(find(plan, "a", "signal_udp").timeout, 7s);
  EXPECT_EQ(find(plan, "b", "signal_udp").interval, 20s);
  EXPECT_EQ(find(plan, "b", "signal_udp").timeout, 2s);
  EXPECT_EQ(find(plan, "b", "ssh").interval, 20s);
  EXPECT_EQ(find(plan, "b", "ssh").timeout, 2s);
  EXPECT_EQ(find(plan, "b", "rdp").interval, 5min);
  EXPECT_EQ(find(plan, "b", "rdp").timeout, 500ms);
}

TEST(Plan, ExtraChecksFollowTheCatalogChecks) {
  Plan plan = plan_of(R"([[target]]
name = "web"
role = "web_console"
address = "web.corp"
udp_payload = "target-default"
[[target.check]]
name = "api"
port = 9443
transport = "https"
path = "/health"
status = [200, "3xx"]
expect_metrics = true
[[target.check]]
name = "plain"
port = 8081
transport = "http"
[[target.check]]
name = "syslog"
port = 514
transport = "udp"
payload = "<14>kscprobe"
[[target.check]]
name = "beacon"
port = 5000
transport = "udp"
)");
  std::vector<std::string> expected = {"web_console_tls", "api", "plain", "syslog", "beacon"};
  EXPECT_EQ(checks_of(plan, "web"), expected);
  const CheckSpec& api = find(plan, "web", "api");
  EXPECT_EQ(api.port, 9443);
  EXPECT_EQ(api.transport, Transport::https);
  EXPECT_EQ(api.options().http_path, "/health");
  EXPECT_TRUE(api.options().statuses.matches(200));
  EXPECT_FALSE(api.options().statuses.matches(201));
  EXPECT_TRUE(api.options().statuses.matches(302));
  EXPECT_FALSE(api.options().statuses.matches(404));
  EXPECT_TRUE(api.options().expect_metrics);
  const CheckSpec& plain = find(plan, "web", "plain");
  EXPECT_EQ(plain.options().http_path, "/");
  EXPECT_EQ(plain.options().statuses, StatusMatcher::answering());
  EXPECT_FALSE(plain.options().expect_metrics);
  EXPECT_EQ(find(plan, "web", "syslog").options().udp_payload, "<14>kscprobe");
  EXPECT_EQ(find(plan, "web", "beacon").options().udp_payload, "target-default");
}

TEST(Plan, HttpPathsAndMetricsPath) {
  Plan plain = plan_of(server());
  EXPECT_EQ(find(plain, "ksc01", "metrics_https").options().http_path, "/metrics");
  EXPECT_TRUE(find(plain, "ksc01", "metrics_https").options().expect_metrics);
  EXPECT_EQ(find(plain, "ksc01", "tunnel_https").options().http_path, "/");
  EXPECT_FALSE(find(plain, "ksc01", "tunnel_https").options().expect_metrics);
  Plan custom = plan_of(server("metrics_path = \"/ksc/metrics\""));
  EXPECT_EQ(find(custom, "ksc01", "metrics_https").options().http_path, "/ksc/metrics");
  EXPECT_EQ(find(custom, "ksc01", "tunnel_https").options().http_path, "/");
}

TEST(Plan, UdpPayloadAndTlsComeFromTheTarget) {
  Plan plan = plan_of(server(
      "udp_payload = \"hi\"\nserver_name = \"ksc01.internal\"\n"
      "fingerprint_sha256 = \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""));
  EXPECT_EQ(find(plan, "ksc01", "shutdown_udp").options().udp_payload, "hi");
  const CheckSpec& tls = find(plan, "ksc01", "agents_tls");
  EXPECT_EQ(tls.options().tls.server_name, "ksc01.internal");
  EXPECT_EQ(tls.options().tls.fingerprint_sha256,
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  // Empty means "the prober's default payload".
  EXPECT_EQ(find(plan_of(server()), "ksc01", "shutdown_udp").options().udp_payload, "");
}

TEST(Plan, TargetsKeepOrderLabelsAndIndexes) {
  Plan plan = plan_of(R"([[target]]
name = "z"
role = "agent"
address = "z.corp"
labels = { site = "lyon", dc = "a" }
[[target]]
name = "a"
role = "web_console"
address = "a.corp"
)");
  ASSERT_EQ(plan.targets.size(), 2u);
  EXPECT_EQ(plan.targets[0].name, "z");
  EXPECT_EQ(plan.targets[0].role, Role::agent);
  EXPECT_EQ(plan.targets[0].address, "z.corp");
  std::vector<std::pair<std::string, std::string>> labels = {{"dc", "a"}, {"site", "lyon"}};
  EXPECT_EQ(plan.targets[0].labels, labels);
  EXPECT_EQ(plan.targets[1].name, "a");
  ASSERT_EQ(plan.checks.size(), 3u);
  EXPECT_EQ(plan.checks[0].target_index, 0u);
  EXPECT_EQ(plan.checks[1].target_index, 0u);
  EXPECT_EQ(plan.checks[2].target_index, 1u);
}

TEST(Plan, ExpansionIsDeterministic) {
  const std::string toml = server("features = [\"mobile\", \"ksn_proxy\", \"local\"]") + dp();
  Plan a = plan_of(toml);
  Plan b = plan_of(toml);
  ASSERT_EQ(a.checks.size(), b.checks.size());
  for (std::size_t i = 0; i < a.checks.size(); ++i) {
    EXPECT_EQ(a.checks[i].key(a.target_of(a.checks[i])), b.checks[i].key(b.target_of(b.checks[i])));
    EXPECT_TRUE(a.checks[i].same_settings(b.checks[i]));
  }
}

TEST(Plan, KeyAndSameSettings) {
  Plan plan = plan_of(server());
  const CheckSpec& c = find(plan, "ksc01", "agents_tls");
  EXPECT_EQ(c.key(plan.target_of(c)), "ksc01/agents_tls");

  CheckSpec other = c;
  EXPECT_TRUE(c.same_settings(other));
  other.target_index = 7;  // a position in the plan, not a probe setting
  EXPECT_TRUE(c.same_settings(other));

  auto differs = [&](auto mutate) {
    CheckSpec changed = c;
    mutate(changed);
    return !c.same_settings(changed);
  };
  EXPECT_TRUE(differs([](CheckSpec& s) { s.port = 1; }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.address = "elsewhere"; }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.transport = Transport::tcp; }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.interval = Duration(1); }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.timeout = Duration(1); }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.mutable_options().http_path = "/other"; }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.mutable_options().statuses.add(100); }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.mutable_options().expect_metrics = true; }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.mutable_options().udp_payload = "x"; }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.mutable_options().tls.ca_file = "/ca.pem"; }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.mutable_options().tls.server_name = "n"; }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.mutable_options().tls.fingerprint_sha256 = "ab"; }));
  EXPECT_TRUE(differs([](CheckSpec& s) { s.check = "other"; }));
}

TEST(Plan, ChecksWithEqualOptionsShareOneCopy) {
  Plan plan = plan_of(
      "[[target]]\nname = \"a\"\nrole = \"agent\"\naddress = \"10.0.0.1\"\n"
      "[[target]]\nname = \"b\"\nrole = \"agent\"\naddress = \"10.0.0.2\"\n"
      "[[target]]\nname = \"c\"\nrole = \"agent\"\naddress = \"10.0.0.3\"\n"
      "udp_payload = \"other\"\n");
  const CheckSpec& a = find(plan, "a", "signal_udp");
  const CheckSpec& b = find(plan, "b", "signal_udp");
  const CheckSpec& c = find(plan, "c", "signal_udp");
  EXPECT_EQ(&a.options(), &b.options());  // one copy for the estate's agents
  EXPECT_NE(&a.options(), &c.options());
  EXPECT_EQ(c.options().udp_payload, "other");

  // Changing a check's options copies them first: the checks sharing them keep theirs.
  CheckSpec changed = a;
  changed.mutable_options().udp_payload = "mine";
  EXPECT_EQ(changed.options().udp_payload, "mine");
  EXPECT_EQ(a.options().udp_payload, "");
  EXPECT_EQ(b.options().udp_payload, "");
  EXPECT_FALSE(a.same_settings(changed));
  // A check built by hand has the defaults until changed.
  CheckSpec blank;
  EXPECT_EQ(blank.options().http_path, "/");
  EXPECT_EQ(blank.options().statuses, StatusMatcher::answering());
  blank.mutable_options().http_path = "/x";
  EXPECT_EQ(CheckSpec().options().http_path, "/");
}

TEST(Plan, EmptyConfigGivesEmptyPlan) {
  Plan plan = expand_plan(Config{});
  EXPECT_TRUE(plan.targets.empty());
  EXPECT_TRUE(plan.checks.empty());
  EXPECT_EQ(plan.daemon.max_in_flight, 256u);
}

TEST(Plan, ShardsPartitionTheTargetsExactly) {
  // 3 000 targets; every shard count from 1 to 7: each target lands in exactly one shard's plan,
  // with all of its checks, and the shards are about even.
  Config config;
  for (int i = 0; i < 3000; ++i) {
    TargetConfig t;
    t.name = "pc-" + std::to_string(i);
    t.role = Role::agent;
    t.address = "127.1." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    config.targets.push_back(t);
  }
  const std::size_t all_checks = expand_plan(config).checks.size();
  for (unsigned n = 1; n <= 7; ++n) {
    std::map<std::string, int> seen;
    std::size_t checks = 0;
    for (unsigned i = 0; i < n; ++i) {
      config.daemon.shard_index = i;
      config.daemon.shard_count = n;
      Plan p = expand_plan(config);
      checks += p.checks.size();
      for (const auto& t : p.targets) ++seen[t.name];
      EXPECT_GT(p.targets.size(), 3000 / n * 8 / 10) << "shard " << i << "/" << n;
      EXPECT_LT(p.targets.size(), 3000 / n * 12 / 10 + 1) << "shard " << i << "/" << n;
    }
    EXPECT_EQ(seen.size(), 3000u) << n;
    for (const auto& [name, times] : seen) EXPECT_EQ(times, 1) << name << " in " << n;
    EXPECT_EQ(checks, all_checks);
  }
}

TEST(Plan, GrowingTheShardCountMovesFewTargets) {
  int moved = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string name = "pc-" + std::to_string(i);
    if (shard_of(name, 4) != shard_of(name, 5)) ++moved;
  }
  // A consistent hash moves about 1/5 of them; a plain modulo would move 4/5.
  EXPECT_GT(moved, 1500);
  EXPECT_LT(moved, 2500);
}

TEST(Plan, ParseShard) {
  std::string why;
  auto first = parse_shard("0/1", &why);
  ASSERT_TRUE(first) << why;
  EXPECT_EQ(first->index, 0u);
  EXPECT_EQ(first->count, 1u);
  auto last = parse_shard("4/5", &why);
  ASSERT_TRUE(last) << why;
  EXPECT_EQ(last->index, 4u);
  EXPECT_EQ(last->count, 5u);
  for (const char* bad : {"5/5", "1/0", "a/3", "1", "1/", "/3", "-1/3", "1/2000"}) {
    why.clear();
    EXPECT_FALSE(parse_shard(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

// The default timeout follows a short interval; a written one is kept.
TEST(Plan, DefaultTimeoutFollowsAShortInterval) {
  Plan plan = plan_of(R"([daemon]
interval = "5s"
[[target]]
name = "ksc01"
role = "server"
address = "127.0.0.1"
[[target]]
name = "ksc02"
role = "server"
address = "127.0.0.2"
interval = "1m"
[[target]]
name = "ksc03"
role = "server"
address = "127.0.0.3"
interval = "2s"
timeout = "1s"
[[target.check]]
name = "api"
port = 9443
transport = "tls"
interval = "1s"
timeout = "900ms"
)");
  ASSERT_FALSE(plan.checks.empty());
  for (const auto& c : plan.checks) {
    const std::string& t = plan.target_of(c).name;
    if (t == "ksc01") {
      EXPECT_EQ(c.interval, 5s);
      EXPECT_EQ(c.timeout, 4s) << c.check;  // 5 s default, capped below the 5 s interval
    } else if (t == "ksc02") {
      EXPECT_EQ(c.timeout, 5s) << c.check;  // the default, shorter than 1 minute
    } else if (c.check == "api") {
      EXPECT_EQ(c.timeout, 900ms);
    } else {
      EXPECT_EQ(c.timeout, 1s) << c.check;
    }
  }
}
