#include <optional>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "daemon/exposition/json_string.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/web/status_render.hpp"

namespace kscprobe {

namespace {

using exposition::Diagnosis;
using exposition::kDiagnosisCount;

void json_counts(std::string& j, const StatusCounts& c) {
  j += "{\"checks\":" + std::to_string(c.checks) + ",\"up\":" + std::to_string(c.up) +
       ",\"udp_open_filtered\":" + std::to_string(c.udp_silent) +
       ",\"pending\":" + std::to_string(c.pending) + ",\"down\":" + std::to_string(c.down) +
       ",\"down_by_reason\":{";
  bool first = true;
  for (int r = 1; r < kReasonCount; ++r) {
    if (!c.down_by_reason[r]) continue;
    if (!first) j += ',';
    first = false;
    append_json_string(j, to_string(static_cast<Reason>(r)));
    j += ':' + std::to_string(c.down_by_reason[r]);
  }
  j += "},\"certificates_expiring\":" + std::to_string(c.cert_expiring) + "}";
}

void json_link(std::string& j, const char* name, const std::string& link) {
  j += ",\"";
  j += name;
  j += "\":";
  if (link.empty())
    j += "null";
  else
    append_json_string(j, link);
}

void json_number_or_null(std::string& j, const std::optional<double>& v, int decimals) {
  j += v ? fixed(*v, decimals) : "null";
}

void json_ksc(std::string& j, const StatusPageInfo& info, const StatusAgents& v) {
  j += ",\"ksc\":[";
  for (std::size_t n = 0; n < info.ksc.size(); ++n) {
    const ksc::DiscoveryStatus& s = info.ksc[n];
    if (n) j += ',';
    j += "\n{\"name\":";
    append_json_string(j, s.name);
    j += ",\"ran\":";
    j += s.ran ? "true" : "false";
    j += ",\"success\":";
    j += s.ran ? (s.success ? "true" : "false") : "null";
    j += ",\"reason\":";
    if (s.ran && !s.success)
      append_json_string(j, s.error_kind.empty() ? "unknown" : s.error_kind);
    else
      j += "null";
    j += ",\"message\":";
    if (s.ran && !s.success)
      append_json_string(j, s.error);
    else
      j += "null";
    j += ",\"duration_seconds\":";
    j += s.ran ? fixed(s.duration_seconds, 3) : "null";
    j += ",\"devices\":";
    j += s.last_success_unix ? std::to_string(s.devices) : "null";
    j += ",\"targets\":" + std::to_string(s.targets) + ",\"targets_by_role\":{";
    for (std::size_t r = 0; r < s.targets_by_role.size(); ++r) {
      if (r) j += ',';
      append_json_string(j, to_string(s.targets_by_role[r].first));
      j += ':' + std::to_string(s.targets_by_role[r].second);
    }
    j += "},\"skipped\":{";
    bool first = true;
    for (const auto& [reason, count] : s.skipped) {
      if (!first) j += ',';
      first = false;
      append_json_string(j, reason);
      j += ':' + std::to_string(count);
    }
    j += "},\"last_success\":";
    json_number_or_null(j, s.last_success_unix, 3);
    j += ",\"list_age_seconds\":";
    json_number_or_null(j,
                        s.last_success_unix
                            ? std::optional<double>(info.now_unix - *s.last_success_unix)
                            : std::nullopt,
                        0);
    j += ",\"stale\":";
    j += s.stale ? "true" : "false";
    j +=
        ",\"runs\":" + std::to_string(s.runs) + ",\"failures\":" + std::to_string(s.failures) + "}";
  }
  j += "],\"agents\":{\"stale\":" + std::to_string(v.stale) + ",\"by_diagnosis\":{";
  for (int d = 0; d < kDiagnosisCount; ++d) {
    if (d) j += ',';
    append_json_string(j, to_string(Diagnosis(d)));
    j += ':' + std::to_string(v.by_diagnosis[d]);
  }
  j += "},\"by_site\":{";
  for (std::size_t n = 0; n < v.sites.size(); ++n) {
    const SiteCounts& site = v.sites[n];
    if (n) j += ',';
    append_json_string(j, site.site);
    j += ":{\"devices\":" + std::to_string(site.total);
    for (int d = 0; d < kDiagnosisCount; ++d) {
      j += ',';
      append_json_string(j, to_string(Diagnosis(d)));
      j += ':' + std::to_string(site.by_diagnosis[d]);
    }
    j += '}';
  }
  j += "},\"matched\":" + std::to_string(v.matched) + ",\"devices\":[";
  for (std::size_t n = 0; n < v.page.size(); ++n) {
    const StaleAgentRow& a = v.page[n];
    const PlannedTarget& t = *a.target;
    const ksc::AgentView& view = *a.agent;
    if (n) j += ',';
    j += "\n{\"target\":";
    append_json_string(j, t.name);
    j += ",\"role\":";
    append_json_string(j, to_string(t.role));
    j += ",\"ksc_server\":";
    append_json_string(j, label_of(t, "ksc_server"));
    j += ",\"ksc_group\":";
    append_json_string(j, label_of(t, "ksc_group"));
    j += ",\"site\":";
    append_json_string(j, a.site);
    j += ",\"diagnosis\":";
    append_json_string(j, to_string(a.diagnosis));
    j += ",\"last_connected\":";
    j += view.last_agent_connected ? std::to_string(*view.last_agent_connected) : "null";
    j += ",\"last_visible\":";
    j += view.last_visible ? std::to_string(*view.last_visible) : "null";
    j += ",\"agent_running\":";
    j += view.agent_running ? "true" : "false";
    j += ",\"checks\":[";
    const std::vector<StatusEvidence>& items = a.evidence;
    for (std::size_t e = 0; e < items.size(); ++e) {
      if (e) j += ',';
      j += "{\"check\":";
      append_json_string(j, items[e].check);
      j += ",\"state\":";
      append_json_string(j, items[e].state);
      j += ",\"detail\":";
      append_json_string(j, items[e].detail);
      j += '}';
    }
    j += "]}";
  }
  j += "]}";
}

}  // namespace

std::string render_status_json(const StatusModel& m) {
  const StatusPageInfo& info = *m.info;
  const StatusQuery& q = *m.query;
  std::string j;
  j.reserve(4096 + m.summary.labels.size() * 256 + m.rows.size() * 600);
  j += "{\"version\":";
  append_json_string(j, info.version);
  j += ",\"config\":";
  append_json_string(j, info.config_source);
  j += ",\"last_reload_ok\":";
  j += info.last_reload_ok ? "true" : "false";
  j += ",\"local_faults\":";
  append_json_string(j, info.local_faults);
  j += ",\"falling_behind\":";
  append_json_string(j, info.falling_behind);
  j += ",\"now\":" + fixed(info.now_unix, 3);
  j += ",\"summary\":{\"total\":";
  json_counts(j, m.summary.total);
  j += ",\"roles\":{";
  bool first = true;
  for (int r = 0; r < kRoleCount; ++r) {
    if (!m.summary.roles[r].checks) continue;
    if (!first) j += ',';
    first = false;
    append_json_string(j, to_string(static_cast<Role>(r)));
    j += ':';
    json_counts(j, m.summary.roles[r]);
  }
  j += "},\"labels\":{";
  first = true;
  for (const auto& label : m.summary.labels) {
    if (!first) j += ',';
    first = false;
    append_json_string(j, label.name);
    j += ":{";
    bool first_value = true;
    for (const auto& [value, counts] : label.values) {
      if (!first_value) j += ',';
      first_value = false;
      append_json_string(j, value);
      j += ':';
      json_counts(j, counts);
    }
    j += '}';
  }
  j += "}}";
  json_ksc(j, info, m.agents);
  j += ",\"matched\":" + std::to_string(m.matched) + ",\"offset\":" + std::to_string(q.offset) +
       ",\"limit\":" + std::to_string(q.limit);
  json_link(j, "prev", m.links.prev);
  json_link(j, "next", m.links.next);
  j += ",\"checks\":[";
  for (std::size_t n = 0; n < m.rows.size(); ++n) {
    const StatusRow& row = m.rows[n];
    const CheckSpec& c = *row.check;
    const PlannedTarget& t = *row.target;
    const CheckState& s = *row.state;
    if (n) j += ',';
    j += "\n{\"target\":";
    append_json_string(j, t.name);
    j += ",\"role\":";
    append_json_string(j, to_string(t.role));
    j += ",\"check\":";
    append_json_string(j, c.check);
    j += ",\"address\":";
    append_json_string(j, c.address);
    j += ",\"port\":" + std::to_string(c.port) + ",\"transport\":";
    append_json_string(j, to_string(c.transport));
    j += ",\"labels\":{";
    for (std::size_t l = 0; l < t.labels.size(); ++l) {
      if (l) j += ',';
      append_json_string(j, t.labels[l].first);
      j += ':';
      append_json_string(j, t.labels[l].second);
    }
    j += "},\"state\":\"";
    j += to_string(row.shown);
    j += "\",\"reason\":";
    if (row.shown == RowState::down)
      append_json_string(j, to_string(s.reason));
    else
      j += "null";
    j += ",\"consecutive_failures\":" + std::to_string(s.consecutive_failures);
    j += ",\"duration_seconds\":";
    j += s.has_result ? fixed(s.duration, 6) : "null";
    j += ",\"last_probe\":";
    j += s.has_result ? fixed(s.last_probe_ts, 3) : "null";
    j += ",\"last_success\":";
    j += s.last_success_ts > 0 ? fixed(s.last_success_ts, 3) : "null";
    j += ",\"last_failure\":";
    j += s.last_failure_ts > 0 ? fixed(s.last_failure_ts, 3) : "null";
    j += ",\"last_failure_reason\":";
    if (s.last_failure_reason != Reason::none)
      append_json_string(j, to_string(s.last_failure_reason));
    else
      j += "null";
    j += ",\"certificate_not_after\":";
    j += row.not_after ? std::to_string(row.not_after) : "null";
    j += ",\"detail\":";
    append_json_string(j, s.last_detail());
    j += '}';
  }
  j += "\n]}\n";
  return j;
}

}  // namespace kscprobe
