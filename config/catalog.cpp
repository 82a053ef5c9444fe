#include "config/catalog.hpp"

#include <array>

namespace kscprobe {

namespace {

constexpr std::uint32_t kAlways = kFeatureNone;

// Host reachability, the same row for every role.
constexpr CatalogEntry icmp_row(Role role) {
  return {role,
          "icmp_echo",
          0,
          Transport::icmp,
          "(host)",
          "host reachability: ICMP echo request and reply",
          kFeatureIcmp,
          {},
          0,
          "",
          false,
          "feature icmp"};
}

// The port facts of Kaspersky Security Center's documentation ("ports used by Kaspersky Security
// Center"), one row per probe-able port. Processes and purposes are shown by `--catalog`.
constexpr CatalogEntry kCatalog[] = {
    // Administration Server.
    {Role::server,
     "packages_http",
     8060,
     Transport::tcp,
     "klcsweb",
     "published installation packages to client devices",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::server,
     "packages_https",
     8061,
     Transport::tls,
     "klcsweb",
     "published installation packages over TLS",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::server,
     "agents_tls",
     13000,
     Transport::tls,
     "klserver",
     "Network Agents and secondary Administration Servers connect here",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::server,
     "shutdown_udp",
     13000,
     Transport::udp,
     "klserver",
     "Network Agents report device shutdown",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::server,
     "console_tls",
     13291,
     Transport::tls,
     "klserver",
     "Administration Console",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::server,
     "openapi_tls",
     13299,
     Transport::tls,
     "klserver",
     "Web Console and OpenAPI",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::server,
     "agents_tcp",
     14000,
     Transport::tcp,
     "klserver",
     "Network Agents without TLS",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::server,
     "ksn_proxy_tcp",
     13111,
     Transport::tcp,
     "ksnproxy",
     "KSN proxy requests from managed devices",
     kFeatureKsnProxy,
     {},
     0,
     "",
     false,
     "feature ksn_proxy"},
    {Role::server,
     "ksn_proxy_udp",
     15111,
     Transport::udp,
     "ksnproxy",
     "KSN proxy requests",
     kFeatureKsnProxy,
     {},
     0,
     "",
     false,
     "feature ksn_proxy"},
    {Role::server,
     "activation_tls",
     17000,
     Transport::tls,
     "klactprx",
     "activation proxy for non-mobile devices",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::server,
     "activation_mobile_tls",
     17100,
     Transport::tls,
     "klactprx",
     "activation proxy for mobile devices",
     kFeatureMobile,
     {},
     0,
     "",
     false,
     "feature mobile"},
    {Role::server,
     "tunnel_https",
     19170,
     Transport::https,
     "klserver",
     "tunnel to managed devices (klsctunnel) from the Web Console",
     kAlways,
     {},
     0,
     "/",
     false,
     ""},
    {Role::server,
     "mobile_tls",
     13292,
     Transport::tls,
     "klserver",
     "mobile devices (may ask for a client certificate)",
     kFeatureMobile,
     {},
     0,
     "",
     false,
     "feature mobile"},
    {Role::server,
     "uefi_tls",
     13294,
     Transport::tls,
     "klserver",
     "devices protected at UEFI level",
     kFeatureMobile | kFeatureUefi,
     {},
     0,
     "",
     false,
     "feature mobile or uefi"},
    {Role::server,
     "metrics_https",
     13296,
     Transport::https,
     "klserver",
     "KSC metrics for Prometheus",
     kAlways,
     {},
     0,
     "/metrics",
     true,
     ""},
    {Role::server,
     "file_bridge",
     30522,
     Transport::tcp,
     "klnagent",
     "FileTransferBridge: application updates to managed devices (local port)",
     kFeatureLocal,
     {},
     0,
     "",
     false,
     "feature local (probe from the server host)"},
    {Role::server,
     "file_bridge_2",
     30523,
     Transport::tcp,
     "klnagent",
     "FileTransferBridge, second port (local port)",
     kFeatureLocal,
     {},
     0,
     "",
     false,
     "feature local (probe from the server host)"},
    // Database on its own host.
    {Role::database, "database_tcp", 3306, Transport::tcp, "mysqld", "MySQL database of KSC",
     kAlways, DbEngine::mysql, 0, "", false, "engine mysql"},
    {Role::database, "database_tcp", 1433, Transport::tcp, "sqlservr",
     "Microsoft SQL Server database of KSC", kAlways, DbEngine::mssql, 0, "", false,
     "engine mssql"},
    {Role::database, "database_tcp", 5432, Transport::tcp, "postgres",
     "PostgreSQL / Postgres Pro database of KSC", kAlways, DbEngine::postgresql, 0, "", false,
     "engine postgresql"},
    // iOS MDM server.
    {Role::ios_mdm,
     "ios_mdm_tls",
     443,
     Transport::tls,
     "kliosmdmservicesrv",
     "iOS mobile devices",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    // Web Console server.
    {Role::web_console,
     "web_console_tls",
     8080,
     Transport::tls,
     "node",
     "browsers to the Web Console",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    // Network Agent on a managed device.
    {Role::agent,
     "signal_udp",
     15000,
     Transport::udp,
     "klnagent",
     "administration signals from the server or a distribution point",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::agent,
     "multicast_udp",
     15001,
     Transport::udp,
     "klnagent",
     "multicast requests from a distribution point",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    // Distribution point: the agent's checks plus its own.
    {Role::distribution_point,
     "signal_udp",
     15000,
     Transport::udp,
     "klnagent",
     "administration signals from the server",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::distribution_point,
     "multicast_udp",
     15001,
     Transport::udp,
     "klnagent",
     "multicast requests",
     kAlways,
     {},
     0,
     "",
     false,
     ""},
    {Role::distribution_point,
     "gateway_tls",
     13000,
     Transport::tls,
     "klnagent",
     "agents, and the server when the DP is a connection gateway",
     kAlways,
     {},
     13001,
     "",
     false,
     "13001 with feature on_admin_server"},
    {Role::distribution_point,
     "ksn_proxy_tcp",
     13111,
     Transport::tcp,
     "ksnproxy",
     "KSN proxy",
     kFeatureKsnProxy,
     {},
     0,
     "",
     false,
     "feature ksn_proxy"},
    {Role::distribution_point,
     "ksn_proxy_udp",
     15111,
     Transport::udp,
     "ksnproxy",
     "KSN proxy",
     kFeatureKsnProxy,
     {},
     0,
     "",
     false,
     "feature ksn_proxy"},
    {Role::distribution_point,
     "ksn_proxy_https",
     17111,
     Transport::https,
     "ksnproxy",
     "KSN proxy over HTTPS (off in KSC by default)",
     kFeatureKsnProxy,
     {},
     0,
     "/",
     false,
     "feature ksn_proxy"},
    {Role::distribution_point,
     "push_tls",
     13295,
     Transport::tls,
     "klnagent",
     "mobile devices, when the DP is a push server",
     kFeaturePushServer,
     {},
     0,
     "",
     false,
     "feature push_server"},
    // Host reachability, for every role: tells a host that is down from a closed port. Not a KSC
    // port, so behind a feature of its own.
    icmp_row(Role::server),
    icmp_row(Role::distribution_point),
    icmp_row(Role::agent),
    icmp_row(Role::web_console),
    icmp_row(Role::ios_mdm),
    icmp_row(Role::database),
};

struct Named {
  std::string_view name;
  std::uint32_t flag;
};
constexpr Named kFeatures[] = {
    {"ksn_proxy", kFeatureKsnProxy},
    {"mobile", kFeatureMobile},
    {"uefi", kFeatureUefi},
    {"local", kFeatureLocal},
    {"on_admin_server", kFeatureOnAdminServer},
    {"push_server", kFeaturePushServer},
    {"icmp", kFeatureIcmp},
};
constexpr std::string_view kRoleNames[] = {
    "server", "distribution_point", "agent", "web_console", "ios_mdm", "database"};
constexpr std::string_view kTransportNames[] = {"tcp", "tls", "udp", "http", "https", "icmp"};
constexpr std::string_view kEngineNames[] = {"mysql", "mssql", "postgresql"};

}  // namespace

std::string_view to_string(Role r) { return kRoleNames[static_cast<int>(r)]; }
std::string_view to_string(Transport t) { return kTransportNames[static_cast<int>(t)]; }
std::string_view to_string(DbEngine e) { return kEngineNames[static_cast<int>(e)]; }

std::optional<Role> parse_role(std::string_view s) {
  for (int i = 0; i < kRoleCount; ++i)
    if (kRoleNames[i] == s) return static_cast<Role>(i);
  return std::nullopt;
}
std::optional<Transport> parse_transport(std::string_view s) {
  for (int i = 0; i < kTransportCount; ++i)
    if (kTransportNames[i] == s) return static_cast<Transport>(i);
  return std::nullopt;
}
std::optional<DbEngine> parse_engine(std::string_view s) {
  for (int i = 0; i < 3; ++i)
    if (kEngineNames[i] == s) return static_cast<DbEngine>(i);
  return std::nullopt;
}
std::optional<std::uint32_t> parse_feature(std::string_view s) {
  for (const auto& f : kFeatures)
    if (f.name == s) return f.flag;
  return std::nullopt;
}
std::string features_to_string(std::uint32_t mask) {
  std::string out;
  for (const auto& f : kFeatures) {
    if (mask & f.flag) {
      if (!out.empty()) out += ',';
      out += f.name;
    }
  }
  return out;
}
std::string_view all_feature_names() {
  return "ksn_proxy, mobile, uefi, local, on_admin_server, push_server, icmp";
}
std::string_view all_role_names() {
  return "server, distribution_point, agent, web_console, ios_mdm, database";
}
std::string_view all_transport_names() { return "tcp, tls, udp, http, https, icmp"; }

std::span<const CatalogEntry> catalog() { return kCatalog; }

bool catalog_has_check(Role role, std::string_view id) {
  return catalog_check_transport(role, id).has_value();
}

std::optional<Transport> catalog_check_transport(Role role, std::string_view id) {
  for (const auto& e : kCatalog)
    if (e.role == role && e.id == id) return e.transport;
  return std::nullopt;
}

}  // namespace kscprobe
