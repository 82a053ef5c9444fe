#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "platform/enum_table.hpp"

namespace kscprobe {

/// The KSC components a target can be.
enum class Role : std::uint8_t {
  server,
  distribution_point,
  agent,
  web_console,
  ios_mdm,
  database,
};
inline constexpr EnumName<Role> kRoleRows[] = {
    {Role::server, "server"},   {Role::distribution_point, "distribution_point"},
    {Role::agent, "agent"},     {Role::web_console, "web_console"},
    {Role::ios_mdm, "ios_mdm"}, {Role::database, "database"}};
inline constexpr EnumTable kRoles{kRoleRows};
inline constexpr int kRoleCount = static_cast<int>(kRoles.size());

/// How a check talks to its port.
/// `icmp` is an ICMP echo to the host: no port (CatalogEntry::port and CheckSpec::port are 0).
enum class Transport : std::uint8_t { tcp, tls, udp, http, https, icmp };
inline constexpr EnumName<Transport> kTransportRows[] = {
    {Transport::tcp, "tcp"},   {Transport::tls, "tls"},     {Transport::udp, "udp"},
    {Transport::http, "http"}, {Transport::https, "https"}, {Transport::icmp, "icmp"}};
inline constexpr EnumTable kTransports{kTransportRows};
inline constexpr int kTransportCount = static_cast<int>(kTransports.size());

/// Conditions under which the KSC documentation says a port is open. Bit flags.
enum Feature : std::uint32_t {
  kFeatureNone = 0,
  kFeatureKsnProxy = 1u << 0,
  kFeatureMobile = 1u << 1,
  kFeatureUefi = 1u << 2,
  kFeatureLocal = 1u << 3,
  kFeatureOnAdminServer = 1u << 4,
  kFeaturePushServer = 1u << 5,
  /// Not a KSC condition: switches on the host reachability check (ICMP echo) of any role.
  kFeatureIcmp = 1u << 6,
};

/// Database engines of the `database` role.
enum class DbEngine : std::uint8_t { mysql, mssql, postgresql };
inline constexpr EnumName<DbEngine> kEngineRows[] = {
    {DbEngine::mysql, "mysql"}, {DbEngine::mssql, "mssql"}, {DbEngine::postgresql, "postgresql"}};
inline constexpr EnumTable kEngines{kEngineRows};

std::string_view to_string(Role r);
std::string_view to_string(Transport t);
std::string_view to_string(DbEngine e);
std::optional<Role> parse_role(std::string_view s);
std::optional<Transport> parse_transport(std::string_view s);
std::optional<DbEngine> parse_engine(std::string_view s);
/// One feature flag by name ("ksn_proxy", "mobile", "uefi", "local", "on_admin_server",
/// "push_server", "icmp"), or nullopt.
std::optional<std::uint32_t> parse_feature(std::string_view s);
/// Comma-separated names of the flags set in `mask`.
std::string features_to_string(std::uint32_t mask);
/// Every feature name, for error messages.
std::string_view all_feature_names();
std::string_view all_role_names();
std::string_view all_transport_names();

/// One row of the built-in KSC port catalog, written with designated initializers
/// (config/catalog.cpp); the members with a default may be left out.
struct CatalogEntry {
  Role role;
  std::string_view id;
  /// 0 for transport icmp, which has no port.
  std::uint16_t port;
  Transport transport;
  std::string_view process;
  std::string_view purpose;
  /// The check is planned when the target has any of these features; 0 means always.
  std::uint32_t any_of_features = kFeatureNone;
  /// Only for role `database`: the engine this row applies to.
  std::optional<DbEngine> engine = std::nullopt;
  /// Port used instead of `port` when the target has kFeatureOnAdminServer (DP on the server host).
  std::uint16_t port_on_admin_server = 0;
  /// HTTP(S) checks: request path and whether the body must be Prometheus exposition text.
  std::string_view http_path = {};
  bool expects_metrics = false;
  /// Human text of the condition, for `--catalog`.
  std::string_view condition = {};
};

/// The whole catalog, in display order.
std::span<const CatalogEntry> catalog();

/// True if some catalog row of `role` has this id.
bool catalog_has_check(Role role, std::string_view id);

/// The transport of the catalog check `id` of `role`, or nullopt if there is none.
std::optional<Transport> catalog_check_transport(Role role, std::string_view id);

}  // namespace kscprobe
