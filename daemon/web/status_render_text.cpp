#include <string>

#include "config/plan.hpp"
#include "config/utf8.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/web/status_render.hpp"

namespace kscprobe {

namespace {

using exposition::Diagnosis;
using exposition::kDiagnosisCount;

/// A field of the text format: one line, no tabs (fields are tab-separated), "-" when empty.
std::string text_field(std::string_view s) {
  if (s.empty()) return "-";
  std::string out = utf8_repaired(s);  // the page is served as UTF-8
  for (char& c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out;
}

void text_counts(std::string& t, const std::string& head, const StatusCounts& c) {
  t += text_field(head) + '\t' + std::to_string(c.checks) + '\t' + std::to_string(c.up) + '\t' +
       std::to_string(c.udp_silent) + '\t' + std::to_string(c.pending) + '\t' +
       std::to_string(c.down);
  for (int r = 1; r < kReasonCount; ++r) t += '\t' + std::to_string(c.down_by_reason[r]);
  t += '\t' + std::to_string(c.cert_expiring) + '\n';
}

void text_ksc(std::string& t, const StatusPageInfo& info, const StatusAgents& v) {
  t += "# ksc servers: tab-separated\n"
       "server\tlast_discovery\treason\tdevices\ttargets\tskipped\tlist_age_seconds\tstale\t"
       "message\n";
  for (const ksc::DiscoveryStatus& s : info.ksc) {
    t += text_field(s.name) + '\t' +
         (!s.ran      ? "not_run"
          : s.success ? "ok"
                      : "failed") +
         '\t' +
         (s.ran && !s.success ? text_field(s.error_kind.empty() ? "unknown" : s.error_kind) : "-") +
         '\t' + (s.last_success_unix ? std::to_string(s.devices) : "-") + '\t' +
         std::to_string(s.targets) + '\t' + text_field(skipped_text(s)) + '\t' +
         (s.last_success_unix ? fixed(info.now_unix - *s.last_success_unix, 0) : "-") + '\t' +
         (s.stale ? "1" : "0") + '\t' + (s.ran && !s.success ? text_field(s.error) : "-") + '\n';
  }
  t += "# agents that stopped connecting: " + std::to_string(v.stale);
  for (int d = 0; d < kDiagnosisCount; ++d)
    t += ' ' + std::string(to_string(Diagnosis(d))) + '=' + std::to_string(v.by_diagnosis[d]);
  t += "\nsite\tdevices";
  for (int d = 0; d < kDiagnosisCount; ++d) t += '\t' + std::string(to_string(Diagnosis(d)));
  t += '\n';
  for (const SiteCounts& site : v.sites) {
    t += text_field(site.site) + '\t' + std::to_string(site.total);
    for (int d = 0; d < kDiagnosisCount; ++d) t += '\t' + std::to_string(site.by_diagnosis[d]);
    t += '\n';
  }
  t += "# devices 1-" + std::to_string(v.page.size()) + " of " + std::to_string(v.matched) +
       ", longest silent first\n"
       "diagnosis\ttarget\tksc_server\tksc_group\tlast_connected\tevidence\n";
  for (const StaleAgentRow& a : v.page) {
    const PlannedTarget& pt = *a.target;
    const ksc::AgentView& view = *a.agent;
    t += std::string(to_string(a.diagnosis)) + '\t' + text_field(pt.name) + '\t' +
         text_field(label_of(pt, "ksc_server")) + '\t' + text_field(label_of(pt, "ksc_group")) +
         '\t' + (view.last_agent_connected ? std::to_string(*view.last_agent_connected) : "-") +
         '\t' + text_field(evidence_line(a.evidence, kEvidenceDetailBytes)) + '\n';
  }
}

}  // namespace

std::string render_status_text(const StatusModel& m) {
  const StatusPageInfo& info = *m.info;
  const StatusQuery& q = *m.query;
  std::string t;
  t.reserve(4096 + m.summary.labels.size() * 128 + m.rows.size() * 300);
  t += "# kscprobe " + text_field(info.version) + " config " + text_field(info.config_source) +
       (info.last_reload_ok ? "" : " (last reload FAILED)") + "\n";
  if (!info.local_faults.empty())
    t += "# probes fail on this host: " + text_field(info.local_faults) + "\n";
  if (!info.falling_behind.empty())
    t += "# falling behind: " + text_field(info.falling_behind) + "\n";
  t += "# summary: tab-separated; `all`, then per role, then per aggregate label value\n";
  t += "group\tchecks\tup\tudp_open_filtered\tpending\tdown";
  for (int r = 1; r < kReasonCount; ++r) t += "\tdown_" + std::string(to_string(Reason(r)));
  t += "\tcertificates_expiring\n";
  text_counts(t, "all", m.summary.total);
  for (int r = 0; r < kRoleCount; ++r)
    if (m.summary.roles[r].checks)
      text_counts(t, "role=" + std::string(to_string(static_cast<Role>(r))), m.summary.roles[r]);
  for (const auto& label : m.summary.labels)
    for (const auto& [value, counts] : label.values)
      text_counts(t, label.name + "=" + value, counts);
  if (!info.ksc.empty() || !info.agents.empty()) text_ksc(t, info, m.agents);
  t += "# checks " + std::to_string(m.rows.empty() ? q.offset : q.offset + 1) + "-" +
       std::to_string(q.offset + m.rows.size()) + " of " + std::to_string(m.matched) +
       " matching, worst first\n";
  const PageLinks& links = m.links;
  if (!links.prev.empty()) t += "# prev " + links.prev + "\n";
  if (!links.next.empty()) t += "# next " + links.next + "\n";
  t += "state\ttarget\trole\tcheck\taddress\tport\ttransport\treason\tconsecutive_failures\t"
       "duration_seconds\tlast_success\tcertificate_not_after\tdetail\n";
  for (const StatusRow& row : m.rows) {
    const CheckSpec& c = *row.check;
    const PlannedTarget& pt = *row.target;
    const CheckState& s = *row.state;
    t += to_string(row.shown);
    t += '\t' + text_field(pt.name) + '\t' + std::string(to_string(pt.role)) + '\t' +
         text_field(c.check) + '\t' + text_field(c.address) + '\t' + std::to_string(c.port) + '\t' +
         std::string(to_string(c.transport)) + '\t' +
         (row.shown == RowState::down ? std::string(to_string(s.reason)) : "-") + '\t' +
         std::to_string(s.consecutive_failures) + '\t' +
         (s.has_result ? fixed(s.duration, 6) : "-") + '\t' +
         (s.last_success_ts > 0 ? fixed(s.last_success_ts, 0) : "-") + '\t' +
         (row.not_after ? std::to_string(row.not_after) : "-") + '\t' +
         text_field(s.last_detail()) + '\n';
  }
  return t;
}

}  // namespace kscprobe
