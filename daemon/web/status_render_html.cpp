#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "config/utf8.hpp"
#include "daemon/runtime/human_text.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/web/status_render.hpp"

namespace kscprobe {

namespace {

using exposition::Diagnosis;
using exposition::kDiagnosisCount;

/// Label values listed per label in the summary (and sites in the agents' table); JSON and text
/// list them all.
constexpr std::size_t kHtmlLabelValues = 20;
/// A server's failure message is cut to this (whole in its tooltip, JSON and text).
constexpr std::size_t kKscMessageBytes = 160;

std::string ago(double seconds) {
  if (seconds < 0) seconds = 0;
  char buf[32];
  if (seconds < 120)
    std::snprintf(buf, sizeof buf, "%.0fs ago", seconds);
  else if (seconds < 7200)
    std::snprintf(buf, sizeof buf, "%.0fm ago", seconds / 60);
  else if (seconds < 172800)
    std::snprintf(buf, sizeof buf, "%.0fh ago", seconds / 3600);
  else
    std::snprintf(buf, sizeof buf, "%.0fd ago", seconds / 86400);
  return buf;
}

/// The state of a row: its class (colour) and its word.
struct HtmlState {
  const char* css;
  const char* text;
};
HtmlState html_state(RowState s) {
  switch (s) {
    case RowState::pending:
      return {"pending", "PENDING"};
    case RowState::down:
      return {"down", "DOWN"};
    case RowState::open_filtered:
      return {"filtered", "OPEN|FILTERED"};
    case RowState::up:
      break;
  }
  return {"up", "UP"};
}

/// Reasons that occur anywhere in the summary: the columns worth showing.
std::vector<int> reasons_seen(const StatusCounts& total) {
  std::vector<int> out;
  for (int r = 1; r < kReasonCount; ++r)
    if (total.down_by_reason[r]) out.push_back(r);
  return out;
}

void html_count_cell(std::string& h, std::uint64_t v, const StatusQuery* link, const char* cls) {
  h += "<td";
  if (cls && v) {
    h += " class=\"";
    h += cls;
    h += '"';
  }
  h += '>';
  if (v && link) {
    h += "<a href=\"" + html_escape(page_link(*link, 0)) + "\">" + std::to_string(v) + "</a>";
  } else {
    h += std::to_string(v);
  }
  h += "</td>";
}

/// One summary row; `base` carries the row's filter (role or label), nullptr: no links.
void html_summary_row(std::string& h, const std::string& head, const StatusCounts& c,
                      const std::vector<int>& reasons, const StatusQuery* base) {
  h += "<tr><th><span title=\"" + html_escape(head) + "\">" + html_escape(head) + "</span></th>";
  auto with = [&](StateFilter st, std::optional<Reason> r) {
    StatusQuery q = base ? *base : StatusQuery{};
    q.state = st;
    q.reason = r;
    return q;
  };
  StatusQuery all = with(StateFilter::any, std::nullopt), up = with(StateFilter::up, std::nullopt),
              filtered = with(StateFilter::filtered, std::nullopt),
              pending = with(StateFilter::pending, std::nullopt),
              down = with(StateFilter::down, std::nullopt),
              expiring = with(StateFilter::expiring, std::nullopt);
  const bool links = base != nullptr;
  html_count_cell(h, c.checks, links ? &all : nullptr, nullptr);
  html_count_cell(h, c.up, links ? &up : nullptr, nullptr);
  html_count_cell(h, c.udp_silent, links ? &filtered : nullptr, nullptr);
  html_count_cell(h, c.pending, links ? &pending : nullptr, "n-pending");
  html_count_cell(h, c.down, links ? &down : nullptr, "n-down");
  for (int r : reasons) {
    StatusQuery q = with(StateFilter::any, static_cast<Reason>(r));
    html_count_cell(h, c.down_by_reason[r], links ? &q : nullptr, "n-down");
  }
  html_count_cell(h, c.cert_expiring, links ? &expiring : nullptr, "n-warn");
  h += "</tr>\n";
}

void html_select(std::string& h, const char* name, const char* any, std::string_view current,
                 const std::vector<std::string_view>& options) {
  h += "<select name=\"";
  h += name;
  h += "\"><option value=\"\">";
  h += any;
  h += "</option>";
  for (std::string_view o : options) {
    h += "<option";
    if (o == current) h += " selected";
    h += ">" + html_escape(o) + "</option>";
  }
  h += "</select>";
}

/// A table cell that keeps to one line: the whole text in its title when it is cut.
void html_cell(std::string& h, std::string_view text, std::string_view cls = {},
               std::string_view title = {}) {
  h += "<td";
  if (!cls.empty()) {
    h += " class=\"";
    h += cls;
    h += '"';
  }
  std::string e = html_escape(text);
  if (!title.empty())
    h += " title=\"" + html_escape(title) + "\"";
  else if (text.size() > 10)
    h += " title=\"" + e + "\"";
  h += ">" + e + "</td>";
}

std::string diagnosis_link(Diagnosis d) {
  StatusQuery q;
  q.diagnosis = d;
  return page_link(q, 0);
}

void html_ksc_servers(std::string& h, const StatusPageInfo& info) {
  h += "<h2>KSC servers</h2>\n<table class=\"wide\" id=\"ksc\"><colgroup><col style=\"width:10%\">"
       "<col><col style=\"width:6.5em\"><col style=\"width:6.5em\"><col style=\"width:16%\">"
       "<col style=\"width:9em\"></colgroup><thead><tr><th>Server</th><th>Last discovery</th>"
       "<th>Devices</th><th>Targets</th><th>Skipped</th><th>List age</th></tr></thead><tbody>\n";
  for (const ksc::DiscoveryStatus& s : info.ksc) {
    h += "<tr>";
    html_cell(h, s.name);
    if (!s.ran) {
      html_cell(h, "not run yet", "detail");
    } else if (s.success) {
      html_cell(h, "ok (" + human_latency(s.duration_seconds) + ")");
    } else {
      const std::string what = "FAILED: " + (s.error_kind.empty() ? "unknown" : s.error_kind) +
                               (s.error.empty() ? "" : " - " + s.error);
      const std::string_view cut = utf8_prefix(what, kKscMessageBytes);
      html_cell(h, cut.size() < what.size() ? std::string(cut) + "..." : what, "warn", what);
    }
    h += "<td>" + (s.last_success_unix ? std::to_string(s.devices) : std::string("-")) +
         "</td><td>" + std::to_string(s.targets) + "</td>";
    const std::string skipped = skipped_text(s);
    html_cell(h, skipped.empty() ? "-" : skipped);
    std::string age =
        s.last_success_unix ? ago(info.now_unix - *s.last_success_unix) : "no list yet";
    if (s.stale) age += ", STALE";
    html_cell(h, age, s.stale ? "warn" : "");
    h += "</tr>\n";
  }
  h += "</tbody></table>\n";
}

void html_agents(std::string& h, const StatusQuery& q, const StatusAgents& v) {
  h += "<h2>Agents that stopped connecting</h2>\n<p class=\"headline\" id=\"agents-summary\">";
  h += "<span>" + std::to_string(v.stale) + (v.stale == 1 ? " device" : " devices") + "</span>";
  for (int d = 0; d < kDiagnosisCount; ++d) {
    h += "<span><a href=\"" + html_escape(diagnosis_link(Diagnosis(d))) + "\">" +
         std::to_string(v.by_diagnosis[d]) + " " + std::string(to_string(Diagnosis(d))) +
         "</a></span>";
  }
  h += "</p>\n";
  if (v.stale == 0) {
    h += "<p class=\"note\">No discovered agent is past its server's stale_after.</p>\n";
    return;
  }
  h += "<table class=\"sum\" id=\"agent-sites\"><thead><tr><th>site or group</th><th>devices</th>";
  for (int d = 0; d < kDiagnosisCount; ++d)
    h += "<th>" + std::string(to_string(Diagnosis(d))) + "</th>";
  h += "</tr></thead><tbody>\n";
  std::size_t shown = 0;
  for (const SiteCounts& site : v.sites) {
    if (shown++ == kHtmlLabelValues) break;
    const std::string head = site.site.empty() ? "no site or group" : site.site;
    h += "<tr><th><span title=\"" + html_escape(head) + "\">" + html_escape(head) +
         "</span></th><td>" + std::to_string(site.total) + "</td>";
    for (int d = 0; d < kDiagnosisCount; ++d)
      html_count_cell(h, site.by_diagnosis[d], nullptr, "n-down");
    h += "</tr>\n";
  }
  if (v.sites.size() > kHtmlLabelValues)
    h += "<tr><td colspan=\"" + std::to_string(2 + kDiagnosisCount) +
         "\" class=\"note\" style=\"text-align:left\">" +
         std::to_string(v.sites.size() - kHtmlLabelValues) +
         " more sites or groups, with fewer devices: all in <a href=\"/?format=json&amp;limit=0\">"
         "/?format=json</a></td></tr>\n";
  h += "</tbody></table>\n<div class=\"paging\" id=\"agents-paging\"><span>";
  if (v.matched == 0)
    h += "no device with diagnosis " + std::string(to_string(*q.diagnosis));
  else
    h += "devices 1&ndash;" + std::to_string(v.page.size()) + " of " + std::to_string(v.matched) +
         (q.diagnosis ? " diagnosed " + std::string(to_string(*q.diagnosis)) : std::string()) +
         ", longest silent first";
  h += "</span></div>\n";
  if (v.page.empty()) return;
  h += "<table class=\"wide\" id=\"agents\"><colgroup><col style=\"width:13em\">"
       "<col style=\"width:14%\"><col style=\"width:7em\"><col style=\"width:10%\">"
       "<col style=\"width:10em\"><col></colgroup><thead><tr><th>Diagnosis</th><th>Target</th>"
       "<th>KSC server</th><th>Group</th><th>Last connection</th><th>Evidence</th></tr></thead>"
       "<tbody>\n";
  for (const StaleAgentRow& a : v.page) {
    const PlannedTarget& t = *a.target;
    const ksc::AgentView& view = *a.agent;
    h += "<tr class=\"agent-" + std::string(to_string(a.diagnosis)) + "\">";
    html_cell(h, to_string(a.diagnosis), a.diagnosis == Diagnosis::unknown ? "" : "warn");
    html_cell(h, t.name);
    html_cell(h, label_of(t, "ksc_server"));
    html_cell(h, label_of(t, "ksc_group"));
    if (view.last_agent_connected)
      html_cell(h, ago(a.silent), {}, utc_date(*view.last_agent_connected));
    else
      html_cell(h, "never");
    html_cell(h, evidence_line(a.evidence, kEvidenceDetailBytes), "detail",
              evidence_line(a.evidence, std::string::npos));
    h += "</tr>\n";
  }
  h += "</tbody></table>\n";
}

}  // namespace

std::string render_status_html(const StatusModel& m) {
  const StatusPageInfo& info = *m.info;
  const StatusQuery& q = *m.query;
  const Plan* plan = m.plan;
  const StatusCounts& total = m.summary.total;
  std::string h;
  h.reserve(16384 + m.rows.size() * 700);
  h += R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>kscprobe</title>
<style>
body{font-family:system-ui,sans-serif;margin:1em 1.2em;color:#222;font-size:14px}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1em 0 .3em}
a{color:#1a56c4}
.headline span{display:inline-block;margin-right:1.2em;font-weight:600}
table{border-collapse:collapse}
th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left;white-space:nowrap}
th{background:#f4f4f4;font-weight:600}
table.sum td{text-align:right;min-width:3.2em}
table.sum th span{display:inline-block;max-width:18em;overflow:hidden;text-overflow:ellipsis;
vertical-align:bottom}
.n-down{color:#b3261e;font-weight:700}.n-pending{color:#5f6368;font-weight:600}
.n-warn{color:#b06000;font-weight:700}
table.checks{table-layout:fixed;width:100%;font-size:13px}
table.checks td,table.checks th{overflow:hidden;text-overflow:ellipsis;height:1.4em}
.state{font-weight:700;border-radius:3px;padding:.1em .3em;font-size:.8em}
.down{background:#d93025;color:#fff}.up{background:#188038;color:#fff}
.pending{background:#9aa0a6;color:#fff}.filtered{background:#1a73e8;color:#fff}
.warn{color:#b06000;font-weight:600}.detail{color:#555}
form.filters{margin:.6em 0}form.filters *{font-size:13px;margin-right:.3em}
.paging{margin:.5em 0}.paging a,.paging span{margin-right:1em}
.note{color:#666;font-size:.9em}
table.wide{table-layout:fixed;width:100%;font-size:13px}
table.wide td{overflow:hidden;text-overflow:ellipsis}
</style></head><body>
<h1>kscprobe</h1>
<div>Kaspersky Security Center network paths &middot; version )";
  h += html_escape(info.version);
  h += " &middot; config " + html_escape(info.config_source);
  if (!info.last_reload_ok) h += " &middot; <span class=\"warn\">last reload FAILED</span>";
  h += "</div>\n<p class=\"headline\"><span id=\"down\">" + std::to_string(total.down) +
       " down</span><span id=\"up\">" + std::to_string(total.up) +
       " up</span><span id=\"pending\">" + std::to_string(total.pending) +
       " pending</span><span id=\"expiring\">" + std::to_string(total.cert_expiring) +
       (total.cert_expiring == 1 ? " certificate expires" : " certificates expire") +
       " within 30 days</span></p>\n";
  if (!info.local_faults.empty()) {
    // The plan is not probed as written: these probes failed on this host, not on the network.
    h += "<p class=\"warn\" id=\"local-faults\">Probes fail on this host (their targets keep "
         "their last verdict): " +
         html_escape(info.local_faults) + ". See kscprobe_local_errors_total and the log.</p>\n";
  }
  if (!info.falling_behind.empty()) {
    h += "<p class=\"warn\" id=\"falling-behind\">Falling behind (results get older than their "
         "interval): " +
         html_escape(info.falling_behind) + ".</p>\n";
  }

  if (!info.ksc.empty()) html_ksc_servers(h, info);

  // Summary: all, per role, per aggregate label value.
  const std::vector<int> reasons = reasons_seen(total);
  h += "<h2>Summary</h2>\n<table class=\"sum\" id=\"summary\"><thead><tr><th></th><th>checks</th>"
       "<th>up</th><th title=\"UDP ports that stayed silent: open or filtered (counted as up)\">"
       "of which open|filtered</th><th>pending</th><th>down</th>";
  for (int r : reasons)
    h += "<th title=\"down: " + std::string(to_string(static_cast<Reason>(r))) + "\">" +
         std::string(to_string(static_cast<Reason>(r))) + "</th>";
  h += "<th>certificate &lt; 30 days</th></tr></thead><tbody>\n";
  StatusQuery none;
  html_summary_row(h, "all", total, reasons, &none);
  for (int r = 0; r < kRoleCount; ++r) {
    const StatusCounts& c = m.summary.roles[r];
    if (!c.checks) continue;
    StatusQuery base;
    base.role = static_cast<Role>(r);
    html_summary_row(h, std::string(to_string(static_cast<Role>(r))), c, reasons, &base);
  }
  for (const auto& label : m.summary.labels) {
    // The worst values first; a large estate has many sites, the page lists the worst few.
    std::vector<const std::pair<std::string, StatusCounts>*> values;
    for (const auto& v : label.values) values.push_back(&v);
    std::stable_sort(values.begin(), values.end(), [](const auto* a, const auto* b) {
      if (a->second.down != b->second.down) return a->second.down > b->second.down;
      return a->second.pending > b->second.pending;
    });
    std::size_t shown = 0;
    for (const auto* v : values) {
      if (shown++ == kHtmlLabelValues) break;
      if (v->first.empty()) {
        html_summary_row(h, "no " + label.name, v->second, reasons, nullptr);
      } else {
        StatusQuery base;
        base.labels.push_back({label.name, v->first});
        html_summary_row(h, label.name + "=" + v->first, v->second, reasons, &base);
      }
    }
    if (values.size() > kHtmlLabelValues)
      h += "<tr><td colspan=\"" + std::to_string(7 + reasons.size()) +
           "\" class=\"note\" style=\"text-align:left\">" +
           std::to_string(values.size() - kHtmlLabelValues) + " more values of " +
           html_escape(label.name) + ", with fewer checks down: all in <a href=\"/?format=json" +
           "&amp;limit=0\">/?format=json</a></td></tr>\n";
  }
  h += "</tbody></table>\n";

  if (!info.ksc.empty() || !info.agents.empty()) html_agents(h, q, m.agents);

  // Filters: a plain GET form, so a filtered page is a link to keep or share.
  h += "<h2>Checks</h2>\n<form class=\"filters\" method=\"get\" action=\"/\">";
  std::vector<std::string_view> opts;
  for (StateFilter s : kStateFilters) opts.push_back(to_string(s));
  html_select(h, "state", "any state", to_string(q.state), opts);
  opts.clear();
  for (int r = 0; r < kRoleCount; ++r) opts.push_back(to_string(static_cast<Role>(r)));
  html_select(h, "role", "any role", q.role ? to_string(*q.role) : "", opts);
  opts.clear();
  for (int r = 1; r < kReasonCount; ++r) opts.push_back(to_string(static_cast<Reason>(r)));
  html_select(h, "reason", "any reason", q.reason ? to_string(*q.reason) : "", opts);
  if (!info.ksc.empty() || q.diagnosis) {
    opts.clear();
    for (int d = 0; d < kDiagnosisCount; ++d) opts.push_back(to_string(Diagnosis(d)));
    html_select(h, "diagnosis", "any diagnosis", q.diagnosis ? to_string(*q.diagnosis) : "", opts);
  }
  h += "<input name=\"check\" size=\"12\" placeholder=\"check id\" value=\"" +
       html_escape(q.check) + "\">";
  h += "<input name=\"target\" size=\"16\" placeholder=\"target contains\" value=\"" +
       html_escape(q.target) + "\">";
  std::vector<std::string> label_fields;
  if (plan)
    for (const auto& name : plan->metrics.aggregate_labels) label_fields.push_back(name);
  for (const auto& [k, v] : q.labels)
    if (std::find(label_fields.begin(), label_fields.end(), k) == label_fields.end())
      label_fields.push_back(k);
  for (const auto& name : label_fields) {
    std::string value;
    for (const auto& [k, v] : q.labels)
      if (k == name) value = v;
    h += "<input name=\"label." + html_escape(name) + "\" size=\"10\" placeholder=\"" +
         html_escape(name) + "\" value=\"" + html_escape(value) + "\">";
  }
  if (q.limit != kStatusDefaultLimit)
    h += "<input type=\"hidden\" name=\"limit\" value=\"" + std::to_string(q.limit) + "\">";
  h += "<button type=\"submit\">Filter</button><a href=\"/\">clear</a></form>\n";

  // Paging line, above the table (the table can be long).
  const PageLinks& links = m.links;
  auto paging = [&](const char* id) {
    h += "<div class=\"paging\" id=\"";
    h += id;
    h += "\"><span>";
    if (m.matched == 0)
      h += "no check matches";
    else if (m.rows.empty())
      h += "none on this page; " + std::to_string(m.matched) + " matching";
    else
      h += "checks " + std::to_string(q.offset + 1) + "&ndash;" +
           std::to_string(q.offset + m.rows.size()) + " of " + std::to_string(m.matched) +
           " matching";
    h += "</span>";
    if (!links.prev.empty())
      h += "<a rel=\"prev\" href=\"" + html_escape(links.prev) + "\">&larr; previous</a>";
    if (!links.next.empty())
      h += "<a rel=\"next\" href=\"" + html_escape(links.next) + "\">next &rarr;</a>";
    StatusQuery j = q, t = q;
    j.format = StatusFormat::json;
    t.format = StatusFormat::text;
    h += "<a href=\"" + html_escape("/" + j.to_query_string()) + "\">JSON</a><a href=\"" +
         html_escape("/" + t.to_query_string()) + "\">text</a></div>\n";
  };
  paging("paging");

  // Fixed layout: the columns share the window's width and cut long text (whole in the
  // title), so rows keep one height and the page never scrolls sideways.
  const std::vector<std::string>& shown_labels =
      plan ? plan->metrics.aggregate_labels : std::vector<std::string>{};
  h += "<table class=\"checks\" id=\"checks\"><colgroup><col style=\"width:8.5em\">"
       "<col style=\"width:10%\"><col style=\"width:7.5em\"><col style=\"width:9%\">";
  for (std::size_t l = 0; l < shown_labels.size(); ++l) h += "<col style=\"width:5em\">";
  h += "<col style=\"width:12.5em\"><col style=\"width:5.5em\"><col style=\"width:12.5em\">"
       "<col style=\"width:6em\"><col style=\"width:7.5em\"><col>"
       "</colgroup><thead><tr><th>State</th><th>Target</th><th>Role</th><th>Check</th>";
  for (const auto& name : shown_labels) h += "<th>" + html_escape(name) + "</th>";
  h += "<th>Endpoint</th><th>Latency</th><th>Last failure</th><th>Last OK</th>"
       "<th>Certificate</th><th>Detail</th></tr></thead><tbody>\n";
  for (const StatusRow& row : m.rows) {
    const CheckSpec& c = *row.check;
    const PlannedTarget& t = *row.target;
    const CheckState& s = *row.state;
    const HtmlState st = html_state(row.shown);
    h += "<tr class=\"row-";
    h += st.css;
    h += "\"><td><span class=\"state ";
    h += st.css;
    h += "\">";
    h += st.text;
    h += "</span></td>";
    html_cell(h, t.name);
    html_cell(h, to_string(t.role));
    html_cell(h, c.check);
    for (const auto& name : shown_labels) html_cell(h, label_of(t, name));
    // Address, port and transport in one column: "10.0.0.1:14000/tcp", "[fd00::1]:15000/udp".
    const bool v6 = c.address.find(':') != std::string::npos;
    html_cell(h, (v6 ? "[" + c.address + "]" : c.address.str()) + ":" + std::to_string(c.port) +
                     "/" + std::string(to_string(c.transport)));
    h += "<td>" + (s.has_result ? human_latency(s.duration) : std::string("-")) + "</td>";
    std::string failure = "-";
    if (s.last_failure_reason != Reason::none) {
      failure = std::string(to_string(s.last_failure_reason)) + " (" +
                ago(info.now_unix - s.last_failure_ts) + ")";
      if (s.consecutive_failures > 0)
        failure += ", " + std::to_string(s.consecutive_failures) + " in a row";
    }
    html_cell(h, failure);
    h += "<td>" +
         (s.last_success_ts > 0 ? ago(info.now_unix - s.last_success_ts) : std::string("never")) +
         "</td>";
    if (row.not_after) {
      std::string date = utc_date(row.not_after);
      html_cell(h, date, row.expiring ? "warn" : "",
                date + " (" + std::to_string(static_cast<long>(row.days_left)) + " days)");
    } else {
      h += "<td>-</td>";
    }
    html_cell(h, s.last_detail(), "detail");
    h += "</tr>\n";
  }
  h += "</tbody></table>\n";
  if (m.rows.size() > 20) paging("paging-bottom");
  h += "<p><a href=\"/metrics\">/metrics</a> &middot; <a "
       "href=\"/-/healthy\">/-/healthy</a> &middot; <a href=\"/-/ready\">/-/ready</a> &middot; "
       "/probe?target=NAME</p>\n</body></html>\n";
  return h;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x80) {
          out += c;
          break;
        }
        // The page says it is UTF-8: a byte that is not (a peer's banner, a cut name) becomes
        // U+FFFD, as in the JSON form and /metrics.
        if (const std::size_t len = utf8_sequence_length(s, i)) {
          out.append(s.data() + i, len);
          i += len;
          continue;
        }
        out += kUtf8Replacement;
    }
    ++i;
  }
  return out;
}

}  // namespace kscprobe
