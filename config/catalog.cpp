#include "config/catalog.hpp"

#include <array>

namespace kscprobe {

namespace {

// Host reachability, the same row for every role.
constexpr CatalogEntry icmp_row(Role role) {
  return {.role = role,
          .id = "icmp_echo",
          .port = 0,
          .transport = Transport::icmp,
          .process = "(host)",
          .purpose = "host reachability: ICMP echo request and reply",
          .any_of_features = kFeatureIcmp,
          .condition = "feature icmp"};
}

// The port facts of Kaspersky Security Center's documentation ("ports used by Kaspersky Security
// Center"), one row per probe-able port. Processes and purposes are shown by `--catalog`. A row
// without `any_of_features` is planned for every target of its role.
constexpr CatalogEntry kCatalog[] = {
    // Administration Server.
    {.role = Role::server,
     .id = "packages_http",
     .port = 8060,
     .transport = Transport::tcp,
     .process = "klcsweb",
     .purpose = "published installation packages to client devices"},
    {.role = Role::server,
     .id = "packages_https",
     .port = 8061,
     .transport = Transport::tls,
     .process = "klcsweb",
     .purpose = "published installation packages over TLS"},
    {.role = Role::server,
     .id = "agents_tls",
     .port = 13000,
     .transport = Transport::tls,
     .process = "klserver",
     .purpose = "Network Agents and secondary Administration Servers connect here"},
    {.role = Role::server,
     .id = "shutdown_udp",
     .port = 13000,
     .transport = Transport::udp,
     .process = "klserver",
     .purpose = "Network Agents report device shutdown"},
    {.role = Role::server,
     .id = "console_tls",
     .port = 13291,
     .transport = Transport::tls,
     .process = "klserver",
     .purpose = "Administration Console"},
    {.role = Role::server,
     .id = "openapi_tls",
     .port = 13299,
     .transport = Transport::tls,
     .process = "klserver",
     .purpose = "Web Console and OpenAPI"},
    {.role = Role::server,
     .id = "agents_tcp",
     .port = 14000,
     .transport = Transport::tcp,
     .process = "klserver",
     .purpose = "Network Agents without TLS"},
    {.role = Role::server,
     .id = "ksn_proxy_tcp",
     .port = 13111,
     .transport = Transport::tcp,
     .process = "ksnproxy",
     .purpose = "KSN proxy requests from managed devices",
     .any_of_features = kFeatureKsnProxy,
     .condition = "feature ksn_proxy"},
    {.role = Role::server,
     .id = "ksn_proxy_udp",
     .port = 15111,
     .transport = Transport::udp,
     .process = "ksnproxy",
     .purpose = "KSN proxy requests",
     .any_of_features = kFeatureKsnProxy,
     .condition = "feature ksn_proxy"},
    {.role = Role::server,
     .id = "activation_tls",
     .port = 17000,
     .transport = Transport::tls,
     .process = "klactprx",
     .purpose = "activation proxy for non-mobile devices"},
    {.role = Role::server,
     .id = "activation_mobile_tls",
     .port = 17100,
     .transport = Transport::tls,
     .process = "klactprx",
     .purpose = "activation proxy for mobile devices",
     .any_of_features = kFeatureMobile,
     .condition = "feature mobile"},
    {.role = Role::server,
     .id = "tunnel_https",
     .port = 19170,
     .transport = Transport::https,
     .process = "klserver",
     .purpose = "tunnel to managed devices (klsctunnel) from the Web Console",
     .http_path = "/"},
    {.role = Role::server,
     .id = "mobile_tls",
     .port = 13292,
     .transport = Transport::tls,
     .process = "klserver",
     .purpose = "mobile devices (may ask for a client certificate)",
     .any_of_features = kFeatureMobile,
     .condition = "feature mobile"},
    {.role = Role::server,
     .id = "uefi_tls",
     .port = 13294,
     .transport = Transport::tls,
     .process = "klserver",
     .purpose = "devices protected at UEFI level",
     .any_of_features = kFeatureMobile | kFeatureUefi,
     .condition = "feature mobile or uefi"},
    {.role = Role::server,
     .id = "metrics_https",
     .port = 13296,
     .transport = Transport::https,
     .process = "klserver",
     .purpose = "KSC metrics for Prometheus",
     .http_path = "/metrics",
     .expects_metrics = true},
    {.role = Role::server,
     .id = "file_bridge",
     .port = 30522,
     .transport = Transport::tcp,
     .process = "klnagent",
     .purpose = "FileTransferBridge: application updates to managed devices (local port)",
     .any_of_features = kFeatureLocal,
     .condition = "feature local (probe from the server host)"},
    {.role = Role::server,
     .id = "file_bridge_2",
     .port = 30523,
     .transport = Transport::tcp,
     .process = "klnagent",
     .purpose = "FileTransferBridge, second port (local port)",
     .any_of_features = kFeatureLocal,
     .condition = "feature local (probe from the server host)"},
    // Database on its own host.
    {.role = Role::database,
     .id = "database_tcp",
     .port = 3306,
     .transport = Transport::tcp,
     .process = "mysqld",
     .purpose = "MySQL database of KSC",
     .engine = DbEngine::mysql,
     .condition = "engine mysql"},
    {.role = Role::database,
     .id = "database_tcp",
     .port = 1433,
     .transport = Transport::tcp,
     .process = "sqlservr",
     .purpose = "Microsoft SQL Server database of KSC",
     .engine = DbEngine::mssql,
     .condition = "engine mssql"},
    {.role = Role::database,
     .id = "database_tcp",
     .port = 5432,
     .transport = Transport::tcp,
     .process = "postgres",
     .purpose = "PostgreSQL / Postgres Pro database of KSC",
     .engine = DbEngine::postgresql,
     .condition = "engine postgresql"},
    // iOS MDM server.
    {.role = Role::ios_mdm,
     .id = "ios_mdm_tls",
     .port = 443,
     .transport = Transport::tls,
     .process = "kliosmdmservicesrv",
     .purpose = "iOS mobile devices"},
    // Web Console server.
    {.role = Role::web_console,
     .id = "web_console_tls",
     .port = 8080,
     .transport = Transport::tls,
     .process = "node",
     .purpose = "browsers to the Web Console"},
    // Network Agent on a managed device.
    {.role = Role::agent,
     .id = "signal_udp",
     .port = 15000,
     .transport = Transport::udp,
     .process = "klnagent",
     .purpose = "administration signals from the server or a distribution point"},
    {.role = Role::agent,
     .id = "multicast_udp",
     .port = 15001,
     .transport = Transport::udp,
     .process = "klnagent",
     .purpose = "multicast requests from a distribution point"},
    // Distribution point: the agent's checks plus its own.
    {.role = Role::distribution_point,
     .id = "signal_udp",
     .port = 15000,
     .transport = Transport::udp,
     .process = "klnagent",
     .purpose = "administration signals from the server"},
    {.role = Role::distribution_point,
     .id = "multicast_udp",
     .port = 15001,
     .transport = Transport::udp,
     .process = "klnagent",
     .purpose = "multicast requests"},
    {.role = Role::distribution_point,
     .id = "gateway_tls",
     .port = 13000,
     .transport = Transport::tls,
     .process = "klnagent",
     .purpose = "agents, and the server when the DP is a connection gateway",
     .port_on_admin_server = 13001,
     .condition = "13001 with feature on_admin_server"},
    {.role = Role::distribution_point,
     .id = "ksn_proxy_tcp",
     .port = 13111,
     .transport = Transport::tcp,
     .process = "ksnproxy",
     .purpose = "KSN proxy",
     .any_of_features = kFeatureKsnProxy,
     .condition = "feature ksn_proxy"},
    {.role = Role::distribution_point,
     .id = "ksn_proxy_udp",
     .port = 15111,
     .transport = Transport::udp,
     .process = "ksnproxy",
     .purpose = "KSN proxy",
     .any_of_features = kFeatureKsnProxy,
     .condition = "feature ksn_proxy"},
    {.role = Role::distribution_point,
     .id = "ksn_proxy_https",
     .port = 17111,
     .transport = Transport::https,
     .process = "ksnproxy",
     .purpose = "KSN proxy over HTTPS (off in KSC by default)",
     .any_of_features = kFeatureKsnProxy,
     .http_path = "/",
     .condition = "feature ksn_proxy"},
    {.role = Role::distribution_point,
     .id = "push_tls",
     .port = 13295,
     .transport = Transport::tls,
     .process = "klnagent",
     .purpose = "mobile devices, when the DP is a push server",
     .any_of_features = kFeaturePushServer,
     .condition = "feature push_server"},
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
}  // namespace

std::string_view to_string(Role r) { return kRoles.name(r); }
std::string_view to_string(Transport t) { return kTransports.name(t); }
std::string_view to_string(DbEngine e) { return kEngines.name(e); }

std::optional<Role> parse_role(std::string_view s) { return kRoles.parse(s); }
std::optional<Transport> parse_transport(std::string_view s) { return kTransports.parse(s); }
std::optional<DbEngine> parse_engine(std::string_view s) { return kEngines.parse(s); }
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
  static const std::string names = [] {
    std::string out;
    for (const auto& f : kFeatures) out += (out.empty() ? "" : ", ") + std::string(f.name);
    return out;
  }();
  return names;
}
std::string_view all_role_names() {
  static const std::string names = kRoles.joined();
  return names;
}
std::string_view all_transport_names() {
  static const std::string names = kTransports.joined();
  return names;
}

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
