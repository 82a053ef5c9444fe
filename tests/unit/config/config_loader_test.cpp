#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "tests/support/files.hpp"

using namespace kscprobe;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> errors_of(std::string_view toml) {
  std::vector<std::string> out;
  for (const auto& e : load_config_string(toml, "k.toml").errors) out.push_back(e.format());
  return out;
}

// The TOML must produce exactly this one error, position included.
void expect_error(std::string_view toml, const std::string& expected) {
  auto result = load_config_string(toml, "k.toml");
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.config.has_value());
  ASSERT_EQ(result.errors.size(), 1u) << result.error_text();
  EXPECT_EQ(result.errors[0].format(), expected);
}

Config load_ok(std::string_view toml) {
  auto result = load_config_string(toml, "k.toml");
  EXPECT_TRUE(result.ok()) << result.error_text();
  return result.config.value_or(Config{});
}

}  // namespace

// ---------------------------------------------------------------- valid input

TEST(ConfigLoader, MinimalConfigGetsDefaults) {
  Config c = load_ok(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
)");
  EXPECT_EQ(c.source, "k.toml");
  EXPECT_EQ(c.daemon.interval, 30s);
  EXPECT_EQ(c.daemon.timeout, 5s);
  EXPECT_EQ(c.daemon.max_in_flight, 256u);
  ASSERT_EQ(c.targets.size(), 1u);
  const TargetConfig& t = c.targets[0];
  EXPECT_EQ(t.name, "ksc01");
  EXPECT_EQ(t.role, Role::server);
  EXPECT_EQ(t.address, "ksc01.corp.example");
  EXPECT_EQ(t.features, 0u);
  EXPECT_FALSE(t.interval);
  EXPECT_FALSE(t.timeout);
  EXPECT_FALSE(t.engine);
  EXPECT_EQ(t.pos.line, 1);
  EXPECT_EQ(t.pos.column, 1);
}

TEST(ConfigLoader, EmptyConfigIsValid) {
  Config c = load_ok("");
  EXPECT_TRUE(c.targets.empty());
}

TEST(ConfigLoader, EveryKeyIsParsed) {
  // Any readable file will do as a CA file here.
  const std::string ca =
      std::string(KSCPROBE_SOURCE_DIR) + "/tests/unit/config/config_loader_test.cpp";
  const std::string toml = R"([daemon]
interval = "1m"
timeout = "10s"
max_in_flight = 1000

[[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
features = ["ksn_proxy", "mobile"]
labels = { site = "paris", env = "prod" }
disable = ["shutdown_udp"]
interval = "15s"
timeout = "3s"
metrics_path = "/custom/metrics"
udp_payload = "hello"
server_name = "ksc01.corp"
ca_file = ")" + ca + R"("
fingerprint_sha256 = "AB:CD:EF:01:23:45:67:89 ab cd ef 01 23 45 67 89 ABCDEF0123456789abcdef0123456789"
[target.ports]
agents_tls = 13010
[[target.check]]
name = "custom_api"
port = 9443
transport = "https"
path = "/health"
status = [200, "3xx"]
expect_metrics = true
interval = "1m"
timeout = "10s"
[[target.check]]
name = "custom_udp"
port = 9999
transport = "udp"
payload = "ping"

[[target]]
name = "db01"
role = "database"
address = "[2001:db8::5]"
engine = "postgresql"
)";
  Config c = load_ok(toml);
  EXPECT_EQ(c.daemon.interval, 1min);
  EXPECT_EQ(c.daemon.timeout, 10s);
  EXPECT_EQ(c.daemon.max_in_flight, 1000u);
  ASSERT_EQ(c.targets.size(), 2u);
  const TargetConfig& t = c.targets[0];
  EXPECT_EQ(t.features, kFeatureKsnProxy | kFeatureMobile);
  const std::vector<std::pair<std::string, std::string>> labels = {{"env", "prod"},
                                                                   {"site", "paris"}};
  EXPECT_EQ(t.labels, labels);
  EXPECT_EQ(t.disable, std::vector<std::string>{"shutdown_udp"});
  EXPECT_EQ(t.interval, Duration(15s));
  EXPECT_EQ(t.timeout, Duration(3s));
  EXPECT_EQ(t.metrics_path, "/custom/metrics");
  EXPECT_EQ(t.udp_payload, "hello");
  EXPECT_EQ(t.tls.server_name, "ksc01.corp");
  EXPECT_EQ(t.tls.ca_file, ca);
  EXPECT_EQ(t.tls.fingerprint_sha256,
            "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(t.ports.at("agents_tls"), 13010);
  ASSERT_EQ(t.checks.size(), 2u);
  const ExtraCheckConfig& api = t.checks[0];
  EXPECT_EQ(api.name, "custom_api");
  EXPECT_EQ(api.port, 9443);
  EXPECT_EQ(api.transport, Transport::https);
  EXPECT_EQ(api.path, "/health");
  ASSERT_TRUE(api.statuses);
  EXPECT_EQ(api.statuses->to_string(), "200,3xx");
  EXPECT_TRUE(api.expect_metrics);
  EXPECT_EQ(api.interval, Duration(1min));
  EXPECT_EQ(api.timeout, Duration(10s));
  EXPECT_EQ(api.pos.line, 22);
  const ExtraCheckConfig& udp = t.checks[1];
  EXPECT_EQ(udp.transport, Transport::udp);
  EXPECT_EQ(udp.payload, "ping");
  EXPECT_FALSE(udp.statuses);
  const TargetConfig& db = c.targets[1];
  EXPECT_EQ(db.role, Role::database);
  EXPECT_EQ(db.engine, DbEngine::postgresql);
  EXPECT_EQ(db.address, "2001:db8::5");  // brackets dropped for the resolver
}

TEST(ConfigLoader, HttpCheckPathDefaultsToRoot) {
  Config c = load_ok(R"([[target]]
name = "w"
role = "web_console"
address = "10.0.0.1"
[[target.check]]
name = "root"
port = 80
transport = "http"
)");
  ASSERT_EQ(c.targets[0].checks.size(), 1u);
  EXPECT_EQ(c.targets[0].checks[0].path, "/");
  EXPECT_FALSE(c.targets[0].checks[0].statuses);
}

TEST(ConfigLoader, ExampleConfigLoads) {
  const auto example =
      std::filesystem::path(KSCPROBE_SOURCE_DIR) / "examples" / "kscprobe.example.toml";
  auto result = load_config_file(example.string());
  EXPECT_TRUE(result.ok()) << result.error_text();
  ASSERT_TRUE(result.config);
  std::vector<Role> roles;
  for (const auto& t : result.config->targets) roles.push_back(t.role);
  for (Role r :
       {Role::server, Role::distribution_point, Role::agent, Role::web_console, Role::database}) {
    EXPECT_NE(std::find(roles.begin(), roles.end(), r), roles.end())
        << "the example lacks a " << to_string(r);
  }
}

// ---------------------------------------------------------------- file and syntax

TEST(ConfigLoader, MissingFileIsOneErrorNamingTheFile) {
  auto result = load_config_file("/nonexistent/kscprobe.toml");
  EXPECT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].format(),
            "/nonexistent/kscprobe.toml: cannot read config file: No such file or directory");
}

TEST(ConfigLoader, DirectoryIsNotAConfigFile) {
  auto result = load_config_file("/tmp");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].format(), "/tmp: cannot read config file: is a directory");
}

TEST(ConfigLoader, SyntaxErrorIsOneErrorWithPosition) {
  auto result = load_config_string(R"([daemon]
interval = "30s"
timeout =
)",
                                   "k.toml");
  ASSERT_EQ(result.errors.size(), 1u) << result.error_text();
  EXPECT_EQ(result.errors[0].pos.file, "k.toml");
  EXPECT_EQ(result.errors[0].pos.line, 3);
  EXPECT_EQ(result.errors[0].pos.column, 10);
  EXPECT_NE(result.errors[0].message.find("expected value"), std::string::npos)
      << result.errors[0].message;
}

// ---------------------------------------------------------------- durations

// A default never makes a valid setting invalid: the default timeout (5 s) follows a shorter
// interval, at every level, as Prometheus caps scrape_timeout at the scrape interval.
TEST(ConfigLoader, AShortIntervalAloneIsValid) {
  EXPECT_TRUE(errors_of("[daemon]\ninterval = \"5s\"\n").empty());
  EXPECT_TRUE(errors_of("[daemon]\ninterval = \"2s\"\n").empty());
  EXPECT_TRUE(errors_of(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
interval = "3s"
)")
                  .empty());
  EXPECT_TRUE(errors_of(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "tls"
interval = "1s"
)")
                  .empty());
}

// A timeout the user wrote is kept as written, and must still be shorter than the interval.
TEST(ConfigLoader, DecimalDurations) {
  Config c = load_ok("[daemon]\ninterval = \"1.5s\"\ntimeout = \"0.5s\"\n");
  EXPECT_EQ(c.daemon.interval, 1500ms);
  EXPECT_EQ(c.daemon.timeout, 500ms);
}

// ---------------------------------------------------------------- daemon

TEST(ConfigLoader, MaxInFlightRange) {
  Config c = load_ok(R"([daemon]
max_in_flight = 65536
)");
  EXPECT_EQ(c.daemon.max_in_flight, 65536u);
}

// ---------------------------------------------------------------- target identity

TEST(ConfigLoader, MissingNameRoleAddress) {
  auto errors = errors_of(R"([daemon]
interval = "30s"

[[target]]
features = []
)");
  std::vector<std::string> expected = {
      "k.toml:4:1: target #1: missing required key \"name\"",
      "k.toml:4:1: target #1: missing required key \"role\" (one of server, "
      "distribution_point, agent, web_console, ios_mdm, database)",
      "k.toml:4:1: target #1: missing required key \"address\"",
  };
  EXPECT_EQ(errors, expected);
}

TEST(ConfigLoader, NameCharacters) {
  load_ok(R"([[target]]
name = "KSC-01.corp:main@paris_2"
role = "server"
address = "ksc01.corp.example"
)");
}

TEST(ConfigLoader, EmptyTargetAndCheckArraysAreValid) {
  Config c = load_ok(R"(target = []
)");
  EXPECT_TRUE(c.targets.empty());
  c = load_ok(R"([[target]]
name = "a"
role = "agent"
address = "a.corp"
check = []
)");
  EXPECT_TRUE(c.targets[0].checks.empty());
}

// ---------------------------------------------------------------- address

TEST(ConfigLoader, AddressLiterals) {
  Config c = load_ok(R"([[target]]
name = "a"
role = "agent"
address = "192.0.2.10"
[[target]]
name = "b"
role = "agent"
address = "2001:db8::1"
)");
  EXPECT_EQ(c.targets[0].address, "192.0.2.10");
  EXPECT_EQ(c.targets[1].address, "2001:db8::1");
}

// ---------------------------------------------------------------- extra checks

TEST(ConfigLoader, ExtraCheckMissingKeys) {
  auto errors = errors_of(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
path = "/x"
)");
  std::vector<std::string> expected = {
      "k.toml:5:1: target \"ksc01\": check #1: missing required key \"name\"",
      "k.toml:5:1: target \"ksc01\": check #1: missing required key \"port\"",
      "k.toml:5:1: target \"ksc01\": check #1: missing required key \"transport\" (one of tcp, "
      "tls, udp, http, https, icmp)",
  };
  EXPECT_EQ(errors, expected);
}

TEST(ConfigLoader, ExtraCheckNamesAreScopedToTheirTarget) {
  load_ok(R"([[target]]
name = "a"
role = "agent"
address = "a.corp"
[[target.check]]
name = "ssh"
port = 22
transport = "tcp"
[[target]]
name = "b"
role = "agent"
address = "b.corp"
[[target.check]]
name = "ssh"
port = 22
transport = "tcp"
)");
}

TEST(ConfigLoader, HttpOnlyKeysOnOtherTransports) {
  auto errors = errors_of(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "tls"
path = "/health"
status = [200]
expect_metrics = true
)");
  std::vector<std::string> expected = {
      "k.toml:9:1: target \"ksc01\": check \"api\": path is only valid for http and https "
      "checks, not tls",
      "k.toml:10:1: target \"ksc01\": check \"api\": status is only valid for http and https "
      "checks, not tls",
      "k.toml:11:1: target \"ksc01\": check \"api\": expect_metrics is only valid for http and "
      "https checks, not tls",
  };
  EXPECT_EQ(errors, expected);
}

// ---------------------------------------------------------------- labels

TEST(ConfigLoader, ReservedLabelNames) {
  auto errors = errors_of(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[target.labels]
job = "x"
__meta = "y"
site = "paris"
)");
  const std::string reserved =
      "is reserved (target, role, check, port, transport, reason, phase, instance, job and "
      "__*)";
  std::vector<std::string> expected = {
      "k.toml:6:1: target \"ksc01\": label name \"job\" " + reserved,
      "k.toml:7:1: target \"ksc01\": label name \"__meta\" " + reserved,
  };
  EXPECT_EQ(errors, expected);
}

// ---------------------------------------------------------------- TLS and paths

TEST(ConfigLoader, RelativeCaFileIsResolvedAgainstTheConfigDirectory) {
  test::TempDir temp("config-loader");
  const std::filesystem::path dir = temp.path();
  { std::ofstream(dir / "ca.pem") << "not really a certificate\n"; }
  {
    std::ofstream(dir / "k.toml") << "[[target]]\nname = \"a\"\nrole = \"server\"\n"
                                     "address = \"a.corp\"\nca_file = \"ca.pem\"\n";
  }
  auto result = load_config_file((dir / "k.toml").string());
  EXPECT_TRUE(result.ok()) << result.error_text();
  if (result.config) {
    EXPECT_EQ(result.config->targets[0].tls.ca_file, (dir / "ca.pem").string());
  }
}

// ---------------------------------------------------------------- everything at once

TEST(ConfigLoader, ReportsEveryErrorAtOnceInFileOrder) {
  auto result = load_config_string(R"([daemon]
interval = "30s"
timeout = "1x"
max_in_flight = 0

[[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
adress = "oops"
features = ["mobil"]
[target.ports]
agents_tls = 99999

[[target]]
name = "ksc01"
role = "databse"
address = "db host"
)",
                                   "k.toml");
  EXPECT_FALSE(result.ok());
  std::vector<std::string> lines;
  for (const auto& e : result.errors) lines.push_back(e.format());
  std::vector<std::string> expected = {
      "k.toml:3:11: [daemon]: timeout: duration \"1x\" has unknown unit \"x\" (use ms, s, m, h "
      "or d)",
      "k.toml:4:17: [daemon]: max_in_flight 0 is outside 1..65536",
      "k.toml:10:1: target \"ksc01\": unknown key \"adress\" (did you mean \"address\"?)",
      "k.toml:11:13: target \"ksc01\": unknown feature \"mobil\" (did you mean \"mobile\"?); "
      "valid features: ksn_proxy, mobile, uefi, local, on_admin_server, push_server, icmp",
      "k.toml:13:14: target \"ksc01\": ports.agents_tls 99999 is outside 1..65535",
      "k.toml:16:8: target \"ksc01\": duplicate target name (first defined on line 7)",
      "k.toml:17:8: target \"ksc01\": unknown role \"databse\" (did you mean \"database\"?); "
      "valid roles: server, distribution_point, agent, web_console, ios_mdm, database",
      "k.toml:18:11: target \"ksc01\": address \"db host\" must not contain spaces",
  };
  EXPECT_EQ(lines, expected);
}

TEST(ConfigLoader, ErrorTextHasOneLinePerError) {
  auto result = load_config_string("[daemon]\nmax_in_flight = 0\ntimeout = 1\n", "k.toml");
  EXPECT_EQ(result.error_text(),
            "k.toml:2:17: [daemon]: max_in_flight 0 is outside 1..65536\n"
            "k.toml:3:11: [daemon]: timeout must be a string like \"15s\", not an integer\n");
}

// ---------------------------------------------------------------- [web], [probe]

TEST(ConfigLoader, WebAndProbeSections) {
  Config c = load_ok(R"([web]
tls_min_version = "TLS13"
basic_auth_users = { prometheus = "$2b$04$abcdefghijklmnopqrstuuNkW4r0mKJe8Xl1mFJ1N4yAqGvMxr4gS" }
[probe]
allow = ["10.0.0.0/8", "fd00::/8", "192.168.1.7"]
max_concurrent = 4
)");
  EXPECT_EQ(c.web.tls_min_version, "TLS13");
  ASSERT_EQ(c.web.basic_auth_users.size(), 1u);
  EXPECT_EQ(c.web.basic_auth_users[0].first, "prometheus");
  EXPECT_EQ(c.probe.allow.size(), 3u);
  EXPECT_EQ(c.probe.max_concurrent, 4u);
}

TEST(ConfigLoader, WebErrorsArePositioned) {
  auto errs = errors_of(
      "[web]\ntls_cert_file = \"/nonexistent/kscprobe.crt\"\ntls_key_file = "
      "\"/nonexistent/k.key\"\n");
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0],
            "k.toml:2:17: [web]: tls_cert_file \"/nonexistent/kscprobe.crt\" cannot be opened: "
            "No such file or directory");
  EXPECT_EQ(errs[1].rfind("k.toml:3:16: [web]: tls_key_file", 0), 0u) << errs[1];
}

TEST(ConfigLoader, TargetFilesPatterns) {
  Config c = load_ok(
      "target_files = [\"targets/*.json\", \"/abs/*.yml\"]\n[daemon]\n"
      "target_files_refresh = \"30s\"\n");
  ASSERT_EQ(c.target_files.patterns.size(), 2u);
  EXPECT_EQ(c.target_files.patterns[1], "/abs/*.yml");
  EXPECT_EQ(c.target_files.refresh, 30s);
}

// ---------------------------------------------------------------- budgets, shard, [metrics]

TEST(ConfigLoader, BudgetsShardAndMetricsDetail) {
  Config c = load_ok(R"([daemon]
max_in_flight = 100
max_datagram_in_flight = 20000
max_quiet_in_flight = 10
shard = "2/5"

[metrics]
detail = { agent = "aggregate", distribution_point = "basic" }
aggregate_labels = ["site", "ksc_group"]
)");
  EXPECT_EQ(c.daemon.max_in_flight, 100u);
  EXPECT_EQ(c.daemon.max_datagram_in_flight, 20000u);
  EXPECT_EQ(c.daemon.max_quiet_in_flight, 10u);
  EXPECT_EQ(c.daemon.shard_index, 2u);
  EXPECT_EQ(c.daemon.shard_count, 5u);
  EXPECT_EQ(c.metrics.detail[static_cast<int>(Role::agent)], Detail::aggregate);
  EXPECT_EQ(c.metrics.detail[static_cast<int>(Role::distribution_point)], Detail::basic);
  EXPECT_EQ(c.metrics.detail[static_cast<int>(Role::server)], Detail::full);
  EXPECT_EQ(c.metrics.aggregate_labels, (std::vector<std::string>{"site", "ksc_group"}));
}

TEST(ConfigLoader, DefaultDetailIsAggregateForAgentsAndFullElsewhere) {
  Config c = load_ok("");
  EXPECT_EQ(c.metrics.detail[static_cast<int>(Role::agent)], Detail::aggregate);
  EXPECT_EQ(c.metrics.detail[static_cast<int>(Role::server)], Detail::full);
  EXPECT_EQ(c.daemon.shard_count, 1u);
  EXPECT_EQ(c.metrics.aggregate_labels, std::vector<std::string>{"site"});
  EXPECT_TRUE(load_ok("[metrics]\naggregate_labels = []\n").metrics.aggregate_labels.empty());
}

TEST(ConfigLoader, TlsFullHandshakeInterval) {
  EXPECT_EQ(load_ok("").daemon.tls_full_handshake_interval, std::chrono::hours(1));
  EXPECT_EQ(load_ok("[daemon]\ntls_full_handshake_interval = \"90m\"\n")
                .daemon.tls_full_handshake_interval,
            std::chrono::minutes(90));
  // "0s": no resumption, a full handshake every probe.
  EXPECT_EQ(load_ok("[daemon]\ntls_full_handshake_interval = \"0s\"\n")
                .daemon.tls_full_handshake_interval.count(),
            0);
  auto errors = errors_of("[daemon]\ntls_full_handshake_interval = 3600\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("k.toml:2:31: [daemon]: tls_full_handshake_interval must be a string"),
            std::string::npos)
      << errors[0];
}

TEST(ConfigLoader, BadDetailLevelAndRoleArePositioned) {
  auto errors = errors_of("[metrics]\ndetail = { agnet = \"basic\" }\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("k.toml:2:12: [metrics]: detail: unknown role \"agnet\" (did you "
                           "mean \"agent\"?)"),
            std::string::npos)
      << errors[0];
}

// ---------------------------------------------------------------- one error, one rule

// Each row: the rule, a configuration that breaks only it, and the one error it must give,
// position included; a failure names the rule.
struct ErrorRow {
  const char* rule;
  std::string_view toml;
  const char* error;
};

const ErrorRow kErrorRows[] = {
    // unknown keys
    {"UnknownTopLevelKey", R"(deamon = 1
)",
     "k.toml:1:1: unknown key \"deamon\" (did you mean \"daemon\"?)"},
    {"UnknownDaemonKey", R"([daemon]
interval = "30s"
max_inflight = 3
)",
     "k.toml:3:1: [daemon]: unknown key \"max_inflight\" (did you mean "
     "\"max_in_flight\"?)"},
    {"UnknownTargetKeySuggestsClosest", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
adress = "x"
)",
     "k.toml:5:1: target \"ksc01\": unknown key \"adress\" (did you mean "
     "\"address\"?)"},
    {"UnknownKeyFarFromAnyGetsNoSuggestion", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
colour = "blue"
)",
     "k.toml:5:1: target \"ksc01\": unknown key \"colour\""},
    {"UnknownCheckKey", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "https"
pth = "/x"
)",
     "k.toml:9:1: target \"ksc01\": check \"api\": unknown key \"pth\" (did you mean "
     "\"path\"?)"},
    {"PortsKeyMustBeACheckOfTheRole", R"([[target]]
name = "dp1"
role = "distribution_point"
address = "dp1.corp.example"
[target.ports]
agents_tls = 13010
)",
     "k.toml:6:1: target \"dp1\": ports: \"agents_tls\" is not a check of role "
     "distribution_point; its checks: signal_udp, multicast_udp, gateway_tls, "
     "ksn_proxy_tcp, ksn_proxy_udp, ksn_proxy_https, push_tls, icmp_echo"},
    {"DisableMustNameChecksOfTheRole", R"([[target]]
name = "pc1"
role = "agent"
address = "pc1.corp.example"
disable = ["signal_udp", "multicast_ud"]
)",
     "k.toml:5:26: target \"pc1\": disable: \"multicast_ud\" is not a check of role "
     "agent (did you mean \"multicast_udp\"?); its checks: signal_udp, multicast_udp, "
     "icmp_echo"},
    // durations
    {"IntervalMustBeAString", R"([daemon]
interval = 30
)",
     "k.toml:2:12: [daemon]: interval must be a string like \"15s\", not an integer"},
    {"BadDurationUsesParserMessage", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
interval = "15x"
)",
     "k.toml:5:12: target \"ksc01\": interval: duration \"15x\" has unknown unit "
     "\"x\" (use ms, s, m, h or d)"},
    {"DurationMustBePositive", R"([daemon]
timeout = "0s"
)",
     "k.toml:2:11: [daemon]: timeout must be greater than 0"},
    {"DaemonTimeoutMustBeShorterThanInterval", R"([daemon]
interval = "10s"
timeout = "10s"
)",
     "k.toml:3:11: [daemon]: timeout 10s must be shorter than interval 10s"},
    {"AWrittenDaemonTimeoutMustBeShorterThanATargetInterval", R"([daemon]
timeout = "5s"
[[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
interval = "3s"
)",
     "k.toml:7:12: target \"ksc01\": timeout 5s (from [daemon]) must be shorter than "
     "interval 3s"},
    {"DecimalDurations", "[daemon]\ninterval = \"1.5\"\n",
     "k.toml:2:12: [daemon]: interval: duration \"1.5\" lacks a unit (ms, s, m, h or d)"},
    {"TargetTimeoutAboveDaemonInterval", R"([daemon]
interval = "10s"
timeout = "2s"
[[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
timeout = "10s"
)",
     "k.toml:8:11: target \"ksc01\": timeout 10s must be shorter than interval 10s "
     "(from [daemon])"},
    // The targets inherit nothing from a bad [daemon] value: no second, misleading error.
    {"InvalidDaemonIntervalIsReportedOnce", R"([daemon]
interval = "soon"
[[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
timeout = "10s"
)",
     "k.toml:2:12: [daemon]: interval: invalid duration \"soon\" (expected "
     "<number><unit> with unit ms, s, m, h or d)"},
    {"CheckTimeoutMustBeShorterThanItsInterval", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
interval = "20s"
[[target.check]]
name = "api"
port = 9443
transport = "tls"
timeout = "30s"
)",
     "k.toml:10:11: target \"ksc01\": check \"api\": timeout 30s must be shorter than "
     "interval 20s (from the target)"},
    // daemon
    {"MaxInFlightAtLeastOne", R"([daemon]
max_in_flight = 0
)",
     "k.toml:2:17: [daemon]: max_in_flight 0 is outside 1..65536"},
    {"MaxInFlightAtMost65536", R"([daemon]
max_in_flight = 65537
)",
     "k.toml:2:17: [daemon]: max_in_flight 65537 is outside 1..65536"},
    {"MaxInFlightIsAnInteger", R"([daemon]
max_in_flight = "many"
)",
     "k.toml:2:17: [daemon]: max_in_flight must be an integer, not a string"},
    {"DaemonMustBeATable", R"(daemon = "yes"
)",
     "k.toml:1:10: daemon must be a table ([daemon]), not a string"},
    // target identity
    {"EmptyName", R"([[target]]
name = ""
role = "server"
address = "ksc01.corp.example"
)",
     "k.toml:2:8: target #1: name must not be empty"},
    {"NameCharacters", R"([[target]]
name = "ksc 01"
role = "server"
address = "ksc01.corp.example"
)",
     "k.toml:2:8: target \"ksc 01\": name \"ksc 01\" may only contain letters, digits "
     "and _ . : @ -"},
    {"DuplicateNamePointsAtTheSecond", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"

[[target]]
name = "ksc01"
role = "agent"
address = "pc1.corp.example"
)",
     "k.toml:7:8: target \"ksc01\": duplicate target name (first defined on line 2)"},
    {"NameMustBeAString", R"([[target]]
name = 1
role = "server"
address = "ksc01.corp.example"
)",
     "k.toml:2:8: target #1: name must be a string, not an integer"},
    {"TargetMustBeAnArrayOfTables", R"([target]
name = "ksc01"
)",
     "k.toml:1:1: target must be an array of tables ([[target]]), not a table"},
    {"TargetEntriesMustBeTables", R"(target = [1]
)",
     "k.toml:1:11: target #1 must be a table, not an integer"},
    {"CheckEntriesMustBeTables", R"([[target]]
name = "a"
role = "agent"
address = "a.corp"
check = ["ssh"]
)",
     "k.toml:5:10: target \"a\": check #1 must be a table, not a string"},
    {"UnknownRole", R"([[target]]
name = "ksc01"
role = "servr"
address = "ksc01.corp.example"
)",
     "k.toml:3:8: target \"ksc01\": unknown role \"servr\" (did you mean "
     "\"server\"?); valid roles: server, distribution_point, agent, web_console, "
     "ios_mdm, database"},
    // address
    {"AddressEmpty", R"([[target]]
name = "ksc01"
role = "server"
address = ""
)",
     "k.toml:4:11: target \"ksc01\": address must not be empty"},
    {"AddressWithSpaces", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01 .corp"
)",
     "k.toml:4:11: target \"ksc01\": address \"ksc01 .corp\" must not contain spaces"},
    {"AddressWithoutPort", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01:13000"
)",
     "k.toml:4:11: target \"ksc01\": address \"ksc01:13000\" must not include a port "
     "(move ports in [target.ports])"},
    {"AddressNotAUrl", R"([[target]]
name = "ksc01"
role = "server"
address = "https://ksc01"
)",
     "k.toml:4:11: target \"ksc01\": address \"https://ksc01\" must be a host name or "
     "IP address, not a URL"},
    // features, engine
    {"UnknownFeatureListsTheValidOnes", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
features = ["mobile", "ksnproxy"]
)",
     "k.toml:5:23: target \"ksc01\": unknown feature \"ksnproxy\" (did you mean "
     "\"ksn_proxy\"?); valid features: ksn_proxy, mobile, uefi, local, "
     "on_admin_server, push_server, icmp"},
    {"FeaturesMustBeAnArray", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
features = "mobile"
)",
     "k.toml:5:12: target \"ksc01\": features must be an array of strings, not a "
     "string"},
    {"EngineRequiredForDatabase", R"([[target]]
name = "db"
role = "database"
address = "db.corp.example"
)",
     "k.toml:1:1: target \"db\": missing required key \"engine\" for role database "
     "(one of mysql, mssql, postgresql)"},
    {"EngineOnlyForDatabase", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
engine = "mysql"
)",
     "k.toml:5:10: target \"ksc01\": engine is only valid for role database, not "
     "server"},
    {"UnknownEngine", R"([[target]]
name = "db"
role = "database"
address = "db.corp.example"
engine = "oracle"
)",
     "k.toml:5:10: target \"db\": unknown engine \"oracle\"; valid engines: mysql, "
     "mssql, postgresql"},
    // ports
    {"PortOverrideAtMost65535", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[target.ports]
agents_tls = 70000
)",
     "k.toml:6:14: target \"ksc01\": ports.agents_tls 70000 is outside 1..65535"},
    {"PortOverrideAtLeastOne", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[target.ports]
agents_tls = 0
)",
     "k.toml:6:14: target \"ksc01\": ports.agents_tls 0 is outside 1..65535"},
    {"PortOverrideMustBeAnInteger", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
ports = { agents_tls = "13010" }
)",
     "k.toml:5:24: target \"ksc01\": ports.agents_tls must be an integer port, not a "
     "string"},
    // extra checks
    {"ExtraCheckPortOutOfRange", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 65536
transport = "tcp"
)",
     "k.toml:7:8: target \"ksc01\": check \"api\": port 65536 is outside 1..65535"},
    {"ExtraCheckNameMustNotBeACatalogId", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "agents_tls"
port = 13010
transport = "tls"
)",
     "k.toml:6:8: target \"ksc01\": check \"agents_tls\": name \"agents_tls\" is "
     "already a catalog check of role server (move its port in [target.ports] "
     "instead)"},
    {"ExtraCheckNameDuplicated", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "tls"
[[target.check]]
name = "api"
port = 9444
transport = "tls"
)",
     "k.toml:10:8: target \"ksc01\": check \"api\": duplicate check name (first "
     "defined on line 5)"},
    {"UnknownTransport", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "htps"
)",
     "k.toml:8:13: target \"ksc01\": check \"api\": unknown transport \"htps\" (did "
     "you mean \"https\"?); valid transports: tcp, tls, udp, http, https, icmp"},
    {"PayloadOnlyForUdp", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "https"
payload = "ping"
)",
     "k.toml:9:1: target \"ksc01\": check \"api\": payload is only valid for udp "
     "checks, not https"},
    {"PathMustStartWithSlash", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "https"
path = "health"
)",
     "k.toml:9:8: target \"ksc01\": check \"api\": path \"health\" must start with "
     "\"/\""},
    {"StatusCodeOutOfRange", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "https"
status = [200, 600]
)",
     "k.toml:9:16: target \"ksc01\": check \"api\": status 600 is outside 100..599"},
    {"StatusClassMustBe1xxTo5xx", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "https"
status = ["2xx", "6xx"]
)",
     "k.toml:9:18: target \"ksc01\": check \"api\": status \"6xx\" is not a status "
     "class (\"1xx\" to \"5xx\")"},
    {"StatusEntryType", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "https"
status = [2.5]
)",
     "k.toml:9:11: target \"ksc01\": check \"api\": status entries must be integers or "
     "strings like \"2xx\", not a float"},
    {"ExpectMetricsMustBeABoolean", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
port = 9443
transport = "https"
expect_metrics = "yes"
)",
     "k.toml:9:18: target \"ksc01\": check \"api\": expect_metrics must be a boolean, "
     "not a string"},
    // labels
    {"LabelNameSyntax", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
labels = { "1site" = "paris" }
)",
     "k.toml:5:12: target \"ksc01\": label name \"1site\" must match "
     "[a-zA-Z_][a-zA-Z0-9_]*"},
    {"LabelValueMustBeAString", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
labels = { rack = 12 }
)",
     "k.toml:5:19: target \"ksc01\": label \"rack\" must be a string, not an integer"},
    {"LabelsMustBeATable", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
labels = ["site"]
)",
     "k.toml:5:10: target \"ksc01\": labels must be a table like { site = \"paris\" "
     "}, not an array"},
    // TLS and paths
    {"FingerprintMustBe64HexDigits", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
fingerprint_sha256 = "ab:cd:ef"
)",
     "k.toml:5:22: target \"ksc01\": fingerprint_sha256 must be 64 hex digits (colons "
     "and spaces allowed), got 6 digits"},
    {"FingerprintMustBeHex", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
fingerprint_sha256 = "zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)",
     "k.toml:5:22: target \"ksc01\": fingerprint_sha256 must be 64 hex digits (colons "
     "and spaces allowed), got non-hex characters"},
    {"CaFileMustBeReadable", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
ca_file = "/nonexistent/ca.pem"
)",
     "k.toml:5:11: target \"ksc01\": ca_file \"/nonexistent/ca.pem\" cannot be opened: "
     "No such file or directory"},
    {"MetricsPathMustStartWithSlash", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
metrics_path = "metrics"
)",
     "k.toml:5:16: target \"ksc01\": metrics_path \"metrics\" must start with \"/\""},
    {"ServerNameWithoutSpaces", R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
server_name = "ksc 01"
)",
     "k.toml:5:15: target \"ksc01\": server_name must be a host name without spaces"},
    // everything at once
    // [web], [probe]
    {"WebPasswordMustBeABcryptHash", "[web]\nbasic_auth_users = { alice = \"secret\" }\n",
     "k.toml:2:30: [web]: password of \"alice\" must be a bcrypt hash ($2y$..., 60 "
     "characters), e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"},
    {"WebTlsMinVersion", "[web]\ntls_min_version = \"TLS11\"\n",
     "k.toml:2:19: [web]: tls_min_version \"TLS11\" must be TLS12 or TLS13"},
    {"WebUnknownKey", "[web]\ntls_cert = \"x\"\n", "k.toml:2:1: [web]: unknown key \"tls_cert\""},
    {"ProbeAllowPrefixLength", "[probe]\nallow = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n",
     "k.toml:2:24: [probe]: \"10.0.0.0/33\" has an invalid prefix length (0..32)"},
    {"ProbeAllowIsANetwork", "[probe]\nallow = [\"10.0.0/8\"]\n",
     "k.toml:2:10: [probe]: \"10.0.0/8\" is not an IP network like 10.0.0.0/8 or "
     "fd00::/8"},
    {"ProbeMaxConcurrentRange", "[probe]\nmax_concurrent = 0\n",
     "k.toml:2:18: [probe]: max_concurrent must be an integer in 1..1024"},
    {"TargetFilesIsAnArray", "target_files = \"targets/*.json\"\n",
     "k.toml:1:16: target_files must be an array of file patterns like "
     "[\"targets/*.json\"], not a string"},
    // budgets, shard, [metrics]
    {"ShardMustExist", "[daemon]\nshard = \"3/3\"\n",
     "k.toml:2:9: [daemon]: shard: shard 3 does not exist with 3 shards: they are "
     "numbered 0..2"},
    {"ShardIsIOfN", "[daemon]\nshard = \"half\"\n",
     "k.toml:2:9: [daemon]: shard: \"half\" is not i/n, like \"0/3\" (shards are "
     "numbered from 0)"},
    {"MetricsDetailLevel", "[metrics]\ndetail = { agent = \"basik\" }\n",
     "k.toml:2:20: [metrics]: detail.agent: \"basik\" is not a detail level (did you "
     "mean \"basic\"?); levels are full, basic, aggregate"},
    {"AggregateLabelsAreTargetLabels", "[metrics]\naggregate_labels = [\"target\"]\n",
     "k.toml:2:21: [metrics]: aggregate_labels: \"target\" is not a target label name "
     "(it must match [a-zA-Z_][a-zA-Z0-9_]* and not be one of the exporter's own "
     "labels)"},
    {"MaxDatagramInFlightRange", "[daemon]\nmax_datagram_in_flight = 0\n",
     "k.toml:2:26: [daemon]: max_datagram_in_flight 0 is outside 1..1000000"},
};

// One test over the table; a failing row says its rule.
TEST(ConfigLoader, EachRuleRejectsItsConfigurationWithOnePositionedError) {
  for (const ErrorRow& row : kErrorRows) {
    SCOPED_TRACE(row.rule);
    expect_error(row.toml, row.error);
  }
}
