#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/probe_result.hpp"
#include "config/catalog.hpp"
#include "daemon/discovery/agent_view.hpp"
#include "daemon/discovery/discovery_status.hpp"
#include "daemon/exposition/agent_diagnosis.hpp"

namespace kscprobe {

class ResultTable;
struct Plan;

struct StatusPageInfo {
  std::string version;
  std::string config_source;
  bool last_reload_ok = true;
  double now_unix = 0;
  /// One snapshot per [[ksc]] section (ksc::Discovery::status()): the "KSC servers" section.
  std::vector<ksc::DiscoveryStatus> ksc;
  /// The server's view of the discovered targets (ksc::Discovery::agent_sections()), joined
  /// with the checks and diagnosed as /metrics does (exposition::AgentJoin): the "Agents that
  /// stopped connecting" section.
  std::vector<ksc::AgentSection> agents;
  /// Probes failing on this host now (LocalFaults::describe), "" when none: said in the
  /// summary, since the plan is then not probed as written.
  std::string local_faults;
  /// What keeps due probes waiting while the schedule falls behind, "" when it keeps up.
  std::string falling_behind;
};

/// Certificates that expire within this many days (or have expired) are flagged.
inline constexpr double kCertWarnDays = 30;

/// Checks counted by the outcome of their last probe (daemon/runtime/outcome.hpp: as /metrics
/// counts them in kscprobe_aggregate_checks and kscprobe_probe_failure_info).
struct StatusCounts {
  std::uint64_t checks = 0;
  std::uint64_t up = 0;
  std::uint64_t udp_silent = 0;  // of `up`: UDP ports that stayed silent (open|filtered)
  std::uint64_t pending = 0;
  std::uint64_t down = 0;
  std::array<std::uint64_t, kReasonCount> down_by_reason{};  // [none] unused
  std::uint64_t cert_expiring = 0;  // a certificate seen expires within kCertWarnDays
};

/// The summary on top of the page: the whole table, per role, and per value of each
/// `[metrics] aggregate_labels` label ("" for targets without the label).
struct StatusSummary {
  StatusCounts total;
  std::array<StatusCounts, kRoleCount> roles{};
  struct Label {
    std::string name;
    std::vector<std::pair<std::string, StatusCounts>> values;  // sorted by value
  };
  std::vector<Label> labels;
};
StatusSummary summarize(const ResultTable& table, double now_unix);

enum class StatusFormat : std::uint8_t { html, json, text };
enum class StateFilter : std::uint8_t { any, up, down, pending, filtered, expiring };

inline constexpr std::size_t kStatusDefaultLimit = 200;
inline constexpr std::size_t kStatusMaxLimit = 1000;

/// What `/` was asked for: filters (all must hold), the page, the format.
struct StatusQuery {
  StatusFormat format = StatusFormat::html;
  std::optional<Role> role;
  std::string check;                                        // check id, exact
  StateFilter state = StateFilter::any;                     // up includes udp open|filtered
  std::optional<Reason> reason;                             // down for this reason
  std::string target;                                       // substring of the name, any case
  std::vector<std::pair<std::string, std::string>> labels;  // user labels, exact
  // Devices whose agent stopped connecting with this diagnosis: the agents listed, and the
  // checks of those devices.
  std::optional<exposition::Diagnosis> diagnosis;
  std::size_t offset = 0;
  std::size_t limit = kStatusDefaultLimit;

  /// The query string that asks for the same (canonical order, percent-encoded), starting with
  /// '?', or "" when everything is default.
  std::string to_query_string() const;
};

/// Parses the query string of `/` (undecoded, as sent). Parameters: format (html, json, text),
/// role, check, state (up, down, pending, filtered, expiring), reason, target, diagnosis
/// (agent_stopped, agent_cannot_reach_server, device_offline, unknown), offset, limit
/// (0..kStatusMaxLimit), `label.NAME` for a user label, or plain `NAME` for a label some target
/// of `plan` carries. An empty value sets no filter. Anything else, a repeated parameter, bad
/// percent-encoding or a value out of its set is an error: false, with `error` saying why.
bool parse_status_query(std::string_view query, const Plan* plan, StatusQuery* out,
                        std::string* error);

/// The page in the asked format: the summary; with [[ksc]] sections, each server's discovery
/// and the agents that stopped connecting (counts per diagnosis and per site, then the devices
/// longest silent first, at most `limit` of them, with their checks' evidence); then the page of
/// the matching checks, worst first (down, the longest failing first; pending; certificate
/// expiring; the rest).
std::string render_status_page(const ResultTable& table, const StatusPageInfo& info,
                               const StatusQuery& query = {});

/// `/` as served: 200 with the page in the asked format, or 400 with a line saying what in the
/// query string is wrong.
struct StatusResponse {
  unsigned status = 200;
  std::string content_type;
  std::string body;
};
StatusResponse serve_status_page(const ResultTable& table, const StatusPageInfo& info,
                                 std::string_view query);

/// Escapes text for HTML element content and attribute values.
std::string html_escape(std::string_view s);

}  // namespace kscprobe
