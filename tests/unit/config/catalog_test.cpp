#include "config/catalog.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

using namespace kscprobe;

TEST(Catalog, RoleAndIdPairsAreUniqueExceptDatabasePerEngine) {
  std::set<std::pair<Role, std::string_view>> seen;
  std::set<DbEngine> engines;
  for (const auto& e : catalog()) {
    // The host's ICMP echo is one row for every engine.
    if (e.role == Role::database && e.id != "icmp_echo") {
      ASSERT_TRUE(e.engine.has_value()) << e.id;
      EXPECT_EQ(e.id, "database_tcp");
      EXPECT_TRUE(engines.insert(*e.engine).second)
          << "engine listed twice: " << to_string(*e.engine);
      continue;
    }
    EXPECT_FALSE(e.engine.has_value()) << e.id;
    EXPECT_TRUE(seen.emplace(e.role, e.id).second)
        << "duplicate check " << to_string(e.role) << "/" << e.id;
  }
  EXPECT_EQ(engines.size(), 3u);
}

TEST(Catalog, RowsAreWellFormed) {
  for (const auto& e : catalog()) {
    SCOPED_TRACE(std::string(to_string(e.role)) + "/" + std::string(e.id));
    if (e.transport == Transport::icmp) {
      EXPECT_EQ(e.port, 0);  // an ICMP echo has no port
    } else {
      EXPECT_GE(e.port, 1);
    }
    EXPECT_TRUE(parse_transport(to_string(e.transport)).has_value());
    EXPECT_TRUE(parse_role(to_string(e.role)).has_value());
    EXPECT_FALSE(e.id.empty());
    EXPECT_FALSE(e.process.empty());
    EXPECT_FALSE(e.purpose.empty());
    const bool http = e.transport == Transport::http || e.transport == Transport::https;
    if (http) {
      ASSERT_FALSE(e.http_path.empty());
      EXPECT_EQ(e.http_path.front(), '/');
    } else {
      EXPECT_TRUE(e.http_path.empty());
      EXPECT_FALSE(e.expects_metrics);
    }
    // Ids name their transport, so a moved port never makes `shutdown_udp` a TCP check.
    if (e.transport == Transport::udp) {
      EXPECT_TRUE(e.id.ends_with("_udp"));
    }
    if (e.port_on_admin_server != 0) {
      EXPECT_EQ(e.role, Role::distribution_point);
    }
    // Check ids become label values and config keys.
    for (char c : e.id)
      EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '_' ||
                  std::isdigit(static_cast<unsigned char>(c)));
    // Every feature bit is a known feature.
    if (e.any_of_features != 0) {
      EXPECT_FALSE(features_to_string(e.any_of_features).empty());
    }
  }
}

TEST(Catalog, DocumentedPorts) {
  auto port_of = [](Role role, std::string_view id) -> int {
    for (const auto& e : catalog())
      if (e.role == role && e.id == id) return e.port;
    return -1;
  };
  EXPECT_EQ(port_of(Role::server, "agents_tls"), 13000);
  EXPECT_EQ(port_of(Role::server, "shutdown_udp"), 13000);
  EXPECT_EQ(port_of(Role::server, "console_tls"), 13291);
  EXPECT_EQ(port_of(Role::server, "openapi_tls"), 13299);
  EXPECT_EQ(port_of(Role::server, "agents_tcp"), 14000);
  EXPECT_EQ(port_of(Role::server, "metrics_https"), 13296);
  EXPECT_EQ(port_of(Role::web_console, "web_console_tls"), 8080);
  EXPECT_EQ(port_of(Role::ios_mdm, "ios_mdm_tls"), 443);
  EXPECT_EQ(port_of(Role::agent, "signal_udp"), 15000);
  EXPECT_EQ(port_of(Role::agent, "multicast_udp"), 15001);
  EXPECT_EQ(port_of(Role::distribution_point, "gateway_tls"), 13000);
}

TEST(Catalog, DistributionPointIncludesTheAgentChecks) {
  for (const auto& agent : catalog()) {
    if (agent.role != Role::agent) continue;
    bool found = false;
    for (const auto& e : catalog()) {
      if (e.role == Role::distribution_point && e.id == agent.id) {
        found = true;
        EXPECT_EQ(e.port, agent.port) << e.id;
        EXPECT_EQ(e.transport, agent.transport) << e.id;
      }
    }
    EXPECT_TRUE(found) << "distribution point lacks " << agent.id;
  }
  EXPECT_TRUE(catalog_has_check(Role::distribution_point, "signal_udp"));
  EXPECT_TRUE(catalog_has_check(Role::distribution_point, "multicast_udp"));
}

TEST(Catalog, GatewayMovesTo13001OnTheAdminServerHost) {
  for (const auto& e : catalog()) {
    if (e.role == Role::distribution_point && e.id == "gateway_tls") {
      EXPECT_EQ(e.port_on_admin_server, 13001);
      return;
    }
  }
  FAIL() << "no distribution_point/gateway_tls";
}

TEST(Catalog, EveryRoleHasChecks) {
  for (int r = 0; r < kRoleCount; ++r) {
    Role role = static_cast<Role>(r);
    bool any = false;
    for (const auto& e : catalog()) any = any || e.role == role;
    EXPECT_TRUE(any) << to_string(role);
  }
}

TEST(Catalog, NamesRoundTrip) {
  for (int r = 0; r < kRoleCount; ++r) {
    Role role = static_cast<Role>(r);
    EXPECT_EQ(parse_role(to_string(role)), role);
  }
  for (int t = 0; t < kTransportCount; ++t) {
    Transport tr = static_cast<Transport>(t);
    EXPECT_EQ(parse_transport(to_string(tr)), tr);
  }
  for (DbEngine e : {DbEngine::mysql, DbEngine::mssql, DbEngine::postgresql}) {
    EXPECT_EQ(parse_engine(to_string(e)), e);
  }
  EXPECT_EQ(parse_feature("mobile"), kFeatureMobile);
  EXPECT_EQ(parse_feature("on_admin_server"), kFeatureOnAdminServer);
  EXPECT_FALSE(parse_feature("nope"));
  EXPECT_EQ(features_to_string(kFeatureKsnProxy | kFeatureUefi), "ksn_proxy,uefi");
}

TEST(Catalog, FeatureConditions) {
  auto features_of = [](Role role, std::string_view id) -> std::uint32_t {
    for (const auto& e : catalog())
      if (e.role == role && e.id == id) return e.any_of_features;
    return 0xffffffff;
  };
  EXPECT_EQ(features_of(Role::server, "uefi_tls"), kFeatureMobile | kFeatureUefi);
  EXPECT_EQ(features_of(Role::server, "mobile_tls"), kFeatureMobile);
  EXPECT_EQ(features_of(Role::server, "ksn_proxy_udp"), kFeatureKsnProxy);
  EXPECT_EQ(features_of(Role::server, "file_bridge"), kFeatureLocal);
  EXPECT_EQ(features_of(Role::distribution_point, "push_tls"), kFeaturePushServer);
  EXPECT_EQ(features_of(Role::server, "agents_tls"), kFeatureNone);
}
