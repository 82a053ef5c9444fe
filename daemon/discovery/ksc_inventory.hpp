#pragma once
// One discovery run against a KSC Administration Server: the devices it manages (HostGroup.
// FindHosts, read in pages through a ChunkAccessor), the names of their administration groups,
// which of them are distribution points (UaControl.GetUpdateAgentsList), and the server's own
// statistics (HostGroup.GetInstanceStatistics); then the targets they make.
#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/json/fwd.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/ksc.hpp"
#include "daemon/discovery/agent_view.hpp"
#include "daemon/discovery/ksc_client.hpp"
#include "daemon/discovery/ksc_statistics.hpp"

namespace kscprobe::ksc {

/// KLHST_WKS_STATUS bits.
inline constexpr std::uint32_t kStatusVisible = 0x1;         // seen on the network
inline constexpr std::uint32_t kStatusAgentInstalled = 0x4;  // Network Agent installed
inline constexpr std::uint32_t kStatusAgentRunning = 0x8;    // Network Agent running
inline constexpr std::uint32_t kStatusRtpOn = 0x10;          // real-time protection on

/// One managed device as KSC lists it; only what targets and the diagnosis need (a 100 000-device
/// estate is a few hundred bytes per device).
struct Host {
  std::string id;              // KLHST_WKS_HOSTNAME: KSC's unique id (a GUID), not a network name
  std::string display_name;    // KLHST_WKS_DN
  std::string fqdn;            // KLHST_WKS_FQDN
  std::string dns_name;        // KLHST_WKS_DNSNAME
  std::uint32_t ipv4 = 0;      // KLHST_WKS_IP_LONG, first octet most significant; 0: none
  std::int64_t group_id = -1;  // KLHST_WKS_GROUPID; -1: not given
  std::int64_t last_visible = 0;  // KLHST_WKS_LAST_VISIBLE, unix seconds; 0: not given
  std::optional<std::int64_t> last_agent_connected;  // KLHST_WKS_LAST_NAGENT_CONNECTED
  std::uint32_t status = 0;                          // KLHST_WKS_STATUS bits
  bool distribution_point = false;                   // listed as an update agent
  bool connection_gateway = false;                   // an update agent with UaIsCg
};

/// One entry of UaControl.GetUpdateAgentsList.
struct UpdateAgent {
  std::string id;                   // UaHostId: the device's KLHST_WKS_HOSTNAME
  bool connection_gateway = false;  // UaIsCg
};

/// What one run found.
struct Inventory {
  std::vector<Host> hosts;  // in KSC's order
  struct Group {
    std::string name;          // FindGroups' `name`
    std::int64_t parent = -1;  // `parentId`; -1: not given
  };
  // Administration group id -> name and parent, for the groups KSC listed.
  std::unordered_map<std::int64_t, Group> groups;
  // The id of "Managed devices" (HostGroup.GroupIdGroups), asked when the section names groups.
  std::int64_t root_group = 0;
  // The values of GetInstanceStatistics (decode_statistics, ksc_statistics.hpp).
  std::vector<Statistic> statistics;
  // Devices left out, by reason: "not_a_record", "no_id", "over_limit" (past
  // limits.max_devices), "listing_short" (counted by the server, never handed out).
  std::map<std::string, std::size_t> skipped;
  std::size_t listed = 0;  // devices the server said it has (GetItemsCount)
  // GetInstanceStatistics failed (the run still counts: the devices are what matters).
  std::string statistics_error;

  /// The name of group `id`, or empty when KSC did not list it.
  std::string_view group_name(std::int64_t id) const;
  /// The path of group `id` below root_group ("Lyon/Branch 2"), or empty when it is not below it.
  std::string group_path(std::int64_t id) const;
};

/// The fields HostGroup.FindHosts is asked for.
const std::vector<std::string>& host_fields();

/**
 * One discovery run with `client` (which it logs in when needed; the caller closes it). On
 * success `*out` holds the inventory; on failure it holds what was read so far and the error says
 * what failed (the caller keeps its last good inventory). Accessors are released on every path
 * but a timeout. When the session had to be renewed in the middle of a listing (its accessor may
 * be gone with the old session), the listing starts over once.
 */
boost::asio::awaitable<Error> discover(Client& client, const KscSource& source, Inventory* out);

// The decoding of each kind of item, without I/O (tests, fuzzing).

/// Why a FindHosts item was not read, or ok.
enum class HostDecode : std::uint8_t { ok, not_a_record, no_id };
/// Reads one item of a FindHosts chunk ({"type": "params", "value": {...}} or a plain object).
HostDecode decode_host(const boost::json::value& item, Host* out);
/// Reads one item of a FindGroups chunk: its `id`, `name` and (when `parent` is given) its
/// `parentId` (-1 when absent). False when the id or the name is missing.
bool decode_group(const boost::json::value& item, std::int64_t* id, std::string* name,
                  std::int64_t* parent = nullptr);
/// Every update agent in GetUpdateAgentsList's answer (pUasArr; go-ksc's UaControl.go).
std::vector<UpdateAgent> decode_update_agents(const boost::json::value& answer);
/// The FindHosts search filter of a section: devices outside "Unassigned devices"
/// (KLHST_WKS_FROM_UNASSIGNED = 0) unless include_unassigned, in one of `group_ids` or their
/// subgroups (KLHST_WKS_GROUPID_GP) when given, and the section's host_filter; "" for all.
std::string host_search_filter(const KscSource& source, const std::vector<std::int64_t>& group_ids);
/// The items of a GetItemsChunk answer (pChunk.KLCSP_ITERATOR_ARRAY), or null.
const boost::json::array* chunk_items(const boost::json::value& answer);

/// What to_targets left out and made.
struct TargetStats {
  std::map<std::string, std::size_t> skipped;  // "no_address", "bad_address", "duplicate_name"
  std::array<std::size_t, kRoleCount> by_role{};
};

/**
 * The targets of an inventory, for the section `source`:
 * - name: the display name (else the FQDN, the DNS name, the host id); when two hosts share one,
 *   each gets " (<host id>)" appended;
 * - address: the IPv4 address, else the FQDN, else the DNS name, each only when it can be a
 *   device's (no broadcast, multicast or "this network" address; a name of RFC 1123 labels); a
 *   host with none is skipped ("no_address" when none was given, "bad_address" otherwise);
 * - role: distribution_point for an update agent when the section lists that role, else agent
 *   when it lists agent; a host whose role is not listed is left out (not counted as skipped);
 * - labels: ksc_server (the section's name), ksc_group (the group's name, when KSC named it),
 *   ksc_host_id, ksc_connection_gateway="true" on a distribution point that is a connection
 *   gateway, then the section's labels (which cannot override these); sorted;
 * The section's features go with the list (DiscoveredList), not with each target.
 * Sorted by name; of two equal names the first in KSC's order is kept ("duplicate_name").
 * `agents`, when given, gets the server's view of each target made (same order).
 */
std::vector<DiscoveredTarget> to_targets(const Inventory& inventory, const KscSource& source,
                                         TargetStats* stats = nullptr,
                                         std::vector<AgentView>* agents = nullptr);

}  // namespace kscprobe::ksc
