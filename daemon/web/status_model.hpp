#pragma once
// What the status page shows, whatever its format: the summary, the KSC servers, the agents that
// stopped connecting and the asked page of checks, selected from the result table in one pass.
// The renderers (status_render_*.cpp) only write it out.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/probe_result.hpp"
#include "config/catalog.hpp"
#include "daemon/discovery/agent_view.hpp"
#include "daemon/discovery/discovery_status.hpp"
#include "daemon/exposition/agent_diagnosis.hpp"
#include "daemon/web/status_query.hpp"

namespace kscprobe {

class ResultTable;
struct CheckSpec;
struct CheckState;
struct Plan;
struct PlannedTarget;

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

/// Checks counted by the outcome of their last probe (runtime/outcome.hpp: as /metrics counts
/// them in kscprobe_aggregate_checks and kscprobe_probe_failure_info).
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

/// A check's state as the page shows it: its Outcome, with the UDP ports that stayed silent
/// (up, open or filtered) apart.
enum class RowState : std::uint8_t { down, pending, open_filtered, up };
/// "down", "pending", "open_filtered", "up": the word of the JSON and text formats.
std::string_view to_string(RowState s);

/// One check of the asked page: what every format writes of it.
struct StatusRow {
  const PlannedTarget* target = nullptr;
  const CheckSpec* check = nullptr;
  const CheckState* state = nullptr;
  RowState shown = RowState::pending;
  /// The certificate seen last: when it expires (Unix time, 0: none seen), in how many days
  /// from now (negative: expired), and whether that is within kCertWarnDays.
  std::int64_t not_after = 0;
  double days_left = 0;
  bool expiring = false;
};

/// What the last probe of one check of a stale device found: `state` is the row state's word
/// or, when down, the failure's reason; `detail` the prober's detail of a failure.
struct StatusEvidence {
  std::string_view check;
  std::string_view state;
  std::string_view detail;
};

/// A device whose Network Agent stopped connecting, as /metrics diagnoses it.
struct StaleAgentRow {
  const PlannedTarget* target = nullptr;
  const ksc::AgentView* agent = nullptr;
  exposition::Diagnosis diagnosis = exposition::Diagnosis::unknown;
  std::string_view site;  // its `site` label, else its KSC administration group
  double silent = 0;      // seconds since its last connection; infinity: never connected
  std::vector<StatusEvidence> evidence;  // one per check of the device, in plan order
};

/// The stale agents of one site (or group).
struct SiteCounts {
  std::string site;
  std::array<std::uint64_t, exposition::kDiagnosisCount> by_diagnosis{};
  std::uint64_t total = 0;
};

/// The "Agents that stopped connecting" section: the discovered targets joined with the
/// server's view and diagnosed from the table, exactly as kscprobe_agent_diagnosis is.
struct StatusAgents {
  std::uint64_t stale = 0;
  std::array<std::uint64_t, exposition::kDiagnosisCount> by_diagnosis{};
  std::vector<SiteCounts> sites;    // most stale agents first, then by name
  std::size_t matched = 0;          // stale agents the diagnosis filter keeps
  std::vector<StaleAgentRow> page;  // the worst `limit` of them: the longest silent first
};

/// Links to the neighbouring pages of checks; empty when there is none.
struct PageLinks {
  std::string prev, next;
};

/// The page: everything a renderer writes, read from the table once.
struct StatusModel {
  const StatusPageInfo* info = nullptr;
  const StatusQuery* query = nullptr;
  const Plan* plan = nullptr;  // nullptr before the first plan
  StatusSummary summary;
  StatusAgents agents;
  std::size_t matched = 0;      // checks the filters keep
  std::vector<StatusRow> rows;  // the asked page of them, worst first
  PageLinks links;
};

/// Selects the page `query` asks for: the matching checks worst first (down, the longest
/// failing first; pending; certificate expiring, soonest first; the rest), the page
/// [offset, offset + limit) of them; the stale agents the same way, longest silent first, at
/// most `limit`. The model points into `table`, `info` and `query`: they must outlive it.
StatusModel build_status_model(const ResultTable& table, const StatusPageInfo& info,
                               const StatusQuery& query);

/// The value of label `name` of `t`, "" when it has none.
std::string_view label_of(const PlannedTarget& t, std::string_view name);

/// "check: state (detail); ..." with each detail cut to `detail_bytes` (HTML and text pages).
std::string evidence_line(const std::vector<StatusEvidence>& items, std::size_t detail_bytes);

/// "reason count, ..." of the devices a discovery skipped, those with a count only.
std::string skipped_text(const ksc::DiscoveryStatus& s);

}  // namespace kscprobe
