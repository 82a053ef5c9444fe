// The ICMP echo check as the user switches it on: the `icmp` feature in TOML and in target files,
// the catalog's icmp_echo row of every role, and the errors for a port given to it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/catalog.hpp"
#include "config/loader.hpp"
#include "config/plan.hpp"
#include "config/target_file.hpp"
#include "tests/support/files.hpp"

using namespace kscprobe;

namespace {

Config load_ok(std::string_view toml) {
  auto result = load_config_string(toml, "k.toml");
  EXPECT_TRUE(result.ok()) << result.error_text();
  return result.config.value_or(Config{});
}

std::vector<std::string> errors_of(std::string_view toml) {
  std::vector<std::string> out;
  for (const auto& e : load_config_string(toml, "k.toml").errors) out.push_back(e.format());
  return out;
}

const CheckSpec* find_check(const Plan& plan, std::string_view target, std::string_view check) {
  for (const auto& c : plan.checks) {
    if (plan.target_of(c).name == target && c.check == check) return &c;
  }
  return nullptr;
}

}  // namespace

TEST(IcmpCheck, CatalogHasAnIcmpEchoRowForEveryRoleBehindTheFeature) {
  for (int r = 0; r < kRoleCount; ++r) {
    const Role role = static_cast<Role>(r);
    SCOPED_TRACE(std::string(to_string(role)));
    int rows = 0;
    for (const auto& e : catalog()) {
      if (e.role != role || e.id != "icmp_echo") continue;
      ++rows;
      EXPECT_EQ(e.transport, Transport::icmp);
      EXPECT_EQ(e.port, 0);
      EXPECT_EQ(e.any_of_features, kFeatureIcmp);
      EXPECT_FALSE(e.engine.has_value());  // every database engine
    }
    EXPECT_EQ(rows, 1);
    EXPECT_EQ(catalog_check_transport(role, "icmp_echo"), Transport::icmp);
  }
  EXPECT_EQ(parse_feature("icmp"), kFeatureIcmp);
  EXPECT_EQ(parse_transport("icmp"), Transport::icmp);
  EXPECT_EQ(to_string(Transport::icmp), "icmp");
  EXPECT_NE(all_feature_names().find("icmp"), std::string_view::npos);
  EXPECT_NE(all_transport_names().find("icmp"), std::string_view::npos);
}

TEST(IcmpCheck, FeaturePlansTheCheckPerTarget) {
  Config c = load_ok(R"([[target]]
name = "pc1"
role = "agent"
address = "10.20.1.15"
features = ["icmp"]

[[target]]
name = "pc2"
role = "agent"
address = "10.20.1.16"

[[target]]
name = "db"
role = "database"
engine = "postgresql"
address = "10.0.0.9"
features = ["icmp"]

[[target]]
name = "pc3"
role = "agent"
address = "10.20.1.17"
features = ["icmp"]
disable = ["icmp_echo"]
)");
  ASSERT_EQ(c.targets.size(), 4u);
  EXPECT_EQ(c.targets[0].features, kFeatureIcmp);
  Plan plan = expand_plan(c);
  const CheckSpec* echo = find_check(plan, "pc1", "icmp_echo");
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(echo->transport, Transport::icmp);
  EXPECT_EQ(echo->port, 0);
  EXPECT_EQ(echo->address, "10.20.1.15");
  EXPECT_EQ(echo->timeout, c.daemon.timeout);
  // The agent's UDP checks are still there.
  EXPECT_NE(find_check(plan, "pc1", "signal_udp"), nullptr);
  EXPECT_EQ(find_check(plan, "pc2", "icmp_echo"), nullptr);  // no feature, no ping
  ASSERT_NE(find_check(plan, "db", "icmp_echo"), nullptr);
  EXPECT_NE(find_check(plan, "db", "database_tcp"), nullptr);
  EXPECT_EQ(find_check(plan, "pc3", "icmp_echo"), nullptr);  // disabled
}

TEST(IcmpCheck, ExtraCheckWithTransportIcmpNeedsNoPort) {
  Config c = load_ok(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "gateway_ping"
transport = "icmp"
timeout = "1s"
)");
  Plan plan = expand_plan(c);
  const CheckSpec* ping = find_check(plan, "ksc01", "gateway_ping");
  ASSERT_NE(ping, nullptr);
  EXPECT_EQ(ping->transport, Transport::icmp);
  EXPECT_EQ(ping->port, 0);
  EXPECT_EQ(ping->timeout, std::chrono::seconds(1));
}

TEST(IcmpCheck, PortsForTheEchoAreRejectedWithTheirPosition) {
  EXPECT_EQ(errors_of(R"([[target]]
name = "pc1"
role = "agent"
address = "10.20.1.15"
features = ["icmp"]
ports = { icmp_echo = 7 }
)"),
            std::vector<std::string>{
                "k.toml:6:11: target \"pc1\": ports: \"icmp_echo\" has no port (an ICMP echo)"});
  EXPECT_EQ(errors_of(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "ping"
transport = "icmp"
port = 7
)"),
            std::vector<std::string>{"k.toml:8:8: target \"ksc01\": check \"ping\": port is not "
                                     "valid for icmp checks (no port to probe)"});
  // Payloads are for UDP only, as before.
  auto errors = errors_of(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "ping"
transport = "icmp"
payload = "x"
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("k.toml:8:1: "), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("payload is only valid for udp checks, not icmp"), std::string::npos)
      << errors[0];
  // Other transports still need their port.
  errors = errors_of(R"([[target]]
name = "ksc01"
role = "server"
address = "ksc01.corp.example"
[[target.check]]
name = "api"
transport = "tcp"
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("missing required key \"port\""), std::string::npos) << errors[0];
}

TEST(IcmpCheck, MisspelledFeatureSuggestsIcmp) {
  auto errors = errors_of(R"([[target]]
name = "pc1"
role = "agent"
address = "10.20.1.15"
features = ["icpm"]
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("k.toml:5:13: "), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("unknown feature \"icpm\" (did you mean \"icmp\"?)"), std::string::npos)
      << errors[0];
}

TEST(IcmpCheck, TargetFilesSwitchItOnWithTheFeaturesLabel) {
  test::TempDir dir("icmp");
  const std::string path = dir.write("agents.json", R"([
  {"targets": ["10.20.1.15", "10.20.1.16"], "labels": {"role": "agent", "features": "icmp"}},
  {"targets": ["10.20.2.1"], "labels": {"role": "distribution_point", "features": "ksn_proxy, icmp"}},
  {"targets": ["10.20.3.1"], "labels": {"role": "agent"}}
])");
  std::vector<TargetConfig> targets;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(parse_target_file(path, &targets, &errors))
      << (errors.empty() ? "" : errors[0].format());
  ASSERT_EQ(targets.size(), 4u);
  EXPECT_EQ(targets[0].features, kFeatureIcmp);
  EXPECT_EQ(targets[2].features, kFeatureIcmp | kFeatureKsnProxy);
  EXPECT_EQ(targets[3].features, 0u);

  Config config;
  config.targets = targets;
  Plan plan = expand_plan(config);
  EXPECT_NE(find_check(plan, "10.20.1.15", "icmp_echo"), nullptr);
  EXPECT_NE(find_check(plan, "10.20.2.1", "icmp_echo"), nullptr);
  EXPECT_NE(find_check(plan, "10.20.2.1", "ksn_proxy_udp"), nullptr);
  EXPECT_EQ(find_check(plan, "10.20.3.1", "icmp_echo"), nullptr);
}
