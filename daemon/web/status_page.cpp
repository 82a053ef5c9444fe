#include "daemon/web/status_page.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/utf8.hpp"
#include "daemon/exposition/agent_join.hpp"
#include "daemon/exposition/json_string.hpp"
#include "daemon/runtime/human_text.hpp"
#include "daemon/runtime/outcome.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/web/query_string.hpp"
#include "platform/platform.hpp"

namespace kscprobe {

namespace {

/// Bounds on what a query string may ask: the HTTP server already caps a request's headers, this
/// keeps the parser's work small whatever arrives.
constexpr std::size_t kMaxQueryBytes = 4096;
constexpr std::size_t kMaxParameters = 64;
constexpr std::size_t kMaxOffset = 1'000'000'000;
/// Label values listed per label in the HTML summary; JSON and text list them all.
constexpr std::size_t kHtmlLabelValues = 20;

constexpr double kNoCertificate = 1e12;  // days_left of a check without a certificate

enum class Severity : std::uint8_t { down = 0, pending = 1, cert = 2, up = 3 };

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

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double days_left(const CheckState& s, double now) {
  if (s.tls && s.tls->not_after > 0) return (static_cast<double>(s.tls->not_after) - now) / 86400;
  return kNoCertificate;
}

bool ascii_icase_contains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                        [&](char a, char b) { return lower(a) == lower(b); });
  return it != hay.end();
}

std::string_view label_of(const PlannedTarget& t, std::string_view name) {
  for (const auto& [k, v] : t.labels)
    if (k == name) return v;
  return {};
}

std::string_view state_name(StateFilter s) {
  switch (s) {
    case StateFilter::any:
      return "";
    case StateFilter::up:
      return "up";
    case StateFilter::down:
      return "down";
    case StateFilter::pending:
      return "pending";
    case StateFilter::filtered:
      return "filtered";
    case StateFilter::expiring:
      return "expiring";
  }
  return "";
}

constexpr std::array<StateFilter, 5> kStates = {StateFilter::up, StateFilter::down,
                                                StateFilter::pending, StateFilter::filtered,
                                                StateFilter::expiring};

/// A field of the text format: one line, no tabs (fields are tab-separated), "-" when empty.
std::string text_field(std::string_view s) {
  if (s.empty()) return "-";
  std::string out = utf8_repaired(s);  // the page is served as UTF-8
  for (char& c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out;
}

bool parse_number(std::string_view s, std::size_t max, std::size_t* out) {
  if (s.empty() || s.size() > 10) return false;
  std::size_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

void add_counts(StatusCounts& c, const CheckState& s, Outcome o, bool udp_silent, bool expiring) {
  ++c.checks;
  switch (o) {
    case Outcome::pending:
      ++c.pending;
      break;
    case Outcome::up:
      ++c.up;
      if (udp_silent) ++c.udp_silent;
      break;
    case Outcome::down:
      ++c.down;
      ++c.down_by_reason[static_cast<int>(s.reason)];
      break;
  }
  if (expiring) ++c.cert_expiring;
}

/// A matching check's place in the page order, compared without touching the table.
struct Key {
  Severity severity;
  std::uint32_t failures;
  double days;
  std::uint32_t index;
};

bool worse(const Key& a, const Key& b) {
  if (a.severity != b.severity) return a.severity < b.severity;
  if (a.failures != b.failures) return a.failures > b.failures;  // longest failing first
  if (a.days != b.days) return a.days < b.days;                  // soonest expiry first
  return a.index < b.index;  // a total order: pages do not overlap or skip
}

/// What one pass over the table yields: the summary and the asked page of matching checks.
struct Selection {
  StatusSummary summary;
  std::size_t matched = 0;
  std::vector<Key> page;  // the asked page, ordered
};

/// `diagnosed`: per plan target, whether the diagnosis filter keeps it (AgentsView).
Selection select(const ResultTable& table, double now, const StatusQuery& q, bool rows = true,
                 const std::vector<bool>* diagnosed = nullptr) {
  Selection sel;
  const Plan* plan = table.plan_ptr() ? &table.plan() : nullptr;
  if (!plan) return sel;
  // Label values are looked up once per target, not per check.
  const auto& names = plan->metrics.aggregate_labels;
  std::vector<std::vector<std::uint32_t>> group_of(names.size());
  std::vector<std::vector<StatusCounts>> group_counts(names.size());
  sel.summary.labels.resize(names.size());
  for (std::size_t l = 0; l < names.size(); ++l) {
    std::unordered_map<std::string_view, std::uint32_t> groups;
    group_of[l].resize(plan->targets.size());
    auto& values = sel.summary.labels[l].values;
    sel.summary.labels[l].name = names[l];
    for (std::size_t t = 0; t < plan->targets.size(); ++t) {
      std::string_view v = label_of(plan->targets[t], names[l]);
      auto [it, added] = groups.try_emplace(v, static_cast<std::uint32_t>(values.size()));
      if (added) values.push_back({std::string(v), {}});
      group_of[l][t] = it->second;
    }
    group_counts[l].resize(values.size());
  }
  // Which targets pass the target and label filters, once per target.
  std::vector<bool> target_ok;
  const bool by_target = !q.target.empty() || !q.labels.empty() || q.diagnosis.has_value();
  if (by_target) {
    target_ok.resize(plan->targets.size());
    for (std::size_t t = 0; t < plan->targets.size(); ++t) {
      const PlannedTarget& pt = plan->targets[t];
      bool ok = ascii_icase_contains(pt.name, q.target);
      for (const auto& [k, v] : q.labels) ok = ok && label_of(pt, k) == v;
      // With a diagnosis filter, the checks of the devices diagnosed so (none without KSC).
      if (q.diagnosis) ok = ok && diagnosed != nullptr && t < diagnosed->size() && (*diagnosed)[t];
      target_ok[t] = ok;
    }
  }

  std::vector<Key> keys;
  const auto n = static_cast<std::uint32_t>(table.size());
  for (std::uint32_t i = 0; i < n; ++i) {
    const CheckSpec& c = plan->checks[i];
    const PlannedTarget& t = plan->target_of(c);
    const CheckState& s = table.state(i);
    const Outcome o = outcome_of(s);
    const double days = days_left(s, now);
    const bool expiring = days < kCertWarnDays;
    const bool udp_silent = o == Outcome::up && c.transport == Transport::udp && !s.udp_reply;
    add_counts(sel.summary.total, s, o, udp_silent, expiring);
    add_counts(sel.summary.roles[static_cast<int>(t.role)], s, o, udp_silent, expiring);
    for (std::size_t l = 0; l < names.size(); ++l)
      add_counts(group_counts[l][group_of[l][c.target_index]], s, o, udp_silent, expiring);

    if (!rows) continue;
    if (q.role && *q.role != t.role) continue;
    if (!q.check.empty() && q.check != c.check) continue;
    if (by_target && !target_ok[c.target_index]) continue;
    if (q.reason && !(o == Outcome::down && s.reason == *q.reason)) continue;
    switch (q.state) {
      case StateFilter::any:
        break;
      case StateFilter::up:
        if (o != Outcome::up) continue;
        break;
      case StateFilter::down:
        if (o != Outcome::down) continue;
        break;
      case StateFilter::pending:
        if (o != Outcome::pending) continue;
        break;
      case StateFilter::filtered:
        if (!udp_silent) continue;
        break;
      case StateFilter::expiring:
        if (!expiring) continue;
        break;
    }
    Severity sev = o == Outcome::down      ? Severity::down
                   : o == Outcome::pending ? Severity::pending
                   : expiring              ? Severity::cert
                                           : Severity::up;
    keys.push_back({sev, o == Outcome::down ? s.consecutive_failures : 0, days, i});
  }
  for (std::size_t l = 0; l < names.size(); ++l) {
    auto& values = sel.summary.labels[l].values;
    for (std::size_t g = 0; g < values.size(); ++g) values[g].second = group_counts[l][g];
    std::sort(values.begin(), values.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }

  // Only the asked page is ordered: two linear selections and a sort of at most `limit` rows,
  // not a sort of every matching check.
  sel.matched = keys.size();
  const std::size_t begin = std::min(q.offset, keys.size());
  const std::size_t end = std::min(begin + q.limit, keys.size());
  if (end < keys.size())
    std::nth_element(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(end), keys.end(),
                     worse);
  if (begin > 0 && begin < end)
    std::nth_element(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(begin),
                     keys.begin() + static_cast<std::ptrdiff_t>(end), worse);
  std::sort(keys.begin() + static_cast<std::ptrdiff_t>(begin),
            keys.begin() + static_cast<std::ptrdiff_t>(end), worse);
  sel.page.assign(keys.begin() + static_cast<std::ptrdiff_t>(begin),
                  keys.begin() + static_cast<std::ptrdiff_t>(end));
  return sel;
}

/// The state word of a row, as the page shows it.
struct RowState {
  const char* css;
  const char* text;  // HTML and text formats
  const char* json;
};
RowState row_state(const CheckSpec& c, const CheckState& s) {
  switch (outcome_of(s)) {
    case Outcome::pending:
      return {"pending", "PENDING", "pending"};
    case Outcome::down:
      return {"down", "DOWN", "down"};
    case Outcome::up:
      break;
  }
  if (c.transport == Transport::udp && !s.udp_reply)
    return {"filtered", "OPEN|FILTERED", "open_filtered"};
  return {"up", "UP", "up"};
}

// ---- KSC: the servers and the agents that stopped connecting --------------------------------

using exposition::Diagnosis;
using exposition::kDiagnosisCount;

/// Agent detail text is cut to this on the HTML and text pages (whole in JSON).
constexpr std::size_t kEvidenceDetailBytes = 80;
/// A server's failure message is cut to this in HTML (whole in its tooltip, JSON and text).
constexpr std::size_t kKscMessageBytes = 160;

/// A device whose Network Agent stopped connecting, as /metrics diagnoses it.
struct StaleAgent {
  std::uint32_t row;  // into AgentsView::join->rows
  Diagnosis diagnosis;
  double silent;  // seconds since its last connection to the server; infinity: never connected
};

struct SiteCounts {
  std::string site;
  std::array<std::uint64_t, kDiagnosisCount> by_diagnosis{};
  std::uint64_t total = 0;
};

/// The "Agents that stopped connecting" section: the discovered targets joined with the
/// server's view and diagnosed from the table, exactly as kscprobe_agent_diagnosis is.
struct AgentsView {
  std::shared_ptr<const exposition::AgentJoin> join;
  std::uint64_t stale = 0;
  std::array<std::uint64_t, kDiagnosisCount> by_diagnosis{};
  std::vector<SiteCounts> sites;  // most stale agents first, then by name
  std::size_t matched = 0;        // stale agents the diagnosis filter keeps
  std::vector<StaleAgent> page;   // the worst `limit` of them: the longest silent first
  // With a diagnosis filter, per plan target: its agent is stale with that diagnosis.
  std::vector<bool> target_diagnosed;
};

/// The site a device is counted in: its `site` label, else its KSC administration group.
std::string_view site_of(const PlannedTarget& t) {
  std::string_view site = label_of(t, "site");
  return site.empty() ? label_of(t, "ksc_group") : site;
}

bool longer_silent(const StaleAgent& a, const StaleAgent& b) {
  if (a.silent != b.silent) return a.silent > b.silent;
  return a.row < b.row;  // a total order
}

AgentsView collect_agents(const ResultTable& table, const StatusPageInfo& info,
                          const StatusQuery& q) {
  AgentsView v;
  if (info.agents.empty() || !table.plan_ptr()) return v;
  const Plan& plan = table.plan();
  v.join = exposition::AgentJoin::build(table.plan_ptr(), info.agents, /*with_labels=*/false);
  if (q.diagnosis) v.target_diagnosed.assign(plan.targets.size(), false);
  std::unordered_map<std::string_view, std::size_t> site_index;
  std::vector<exposition::CheckEvidence> scratch;
  std::vector<StaleAgent> matching;
  for (std::size_t r = 0; r < v.join->rows.size(); ++r) {
    const exposition::AgentJoin::Row& row = v.join->rows[r];
    const ksc::AgentSection& section = info.agents[row.section];
    const ksc::AgentView& agent = (*section.agents)[row.agent];
    if (!exposition::agent_is_stale(agent, section, info.now_unix)) continue;
    const Diagnosis d = v.join->diagnosis(r, table, &scratch);
    ++v.stale;
    ++v.by_diagnosis[static_cast<int>(d)];
    const std::string_view site = site_of(plan.targets[row.target]);
    auto [it, added] = site_index.try_emplace(site, v.sites.size());
    if (added) v.sites.push_back({std::string(site), {}, 0});
    ++v.sites[it->second].by_diagnosis[static_cast<int>(d)];
    ++v.sites[it->second].total;
    if (q.diagnosis && d != *q.diagnosis) continue;
    if (q.diagnosis) v.target_diagnosed[row.target] = true;
    const double silent = agent.last_agent_connected
                              ? info.now_unix - static_cast<double>(*agent.last_agent_connected)
                              : std::numeric_limits<double>::infinity();
    matching.push_back({static_cast<std::uint32_t>(r), d, silent});
  }
  std::sort(v.sites.begin(), v.sites.end(), [](const SiteCounts& a, const SiteCounts& b) {
    return a.total != b.total ? a.total > b.total : a.site < b.site;
  });
  // As for the checks: a linear selection of the worst `limit`, then a sort of those only.
  v.matched = matching.size();
  const std::size_t end = std::min(q.limit, matching.size());
  if (end < matching.size())
    std::nth_element(matching.begin(), matching.begin() + static_cast<std::ptrdiff_t>(end),
                     matching.end(), longer_silent);
  std::sort(matching.begin(), matching.begin() + static_cast<std::ptrdiff_t>(end), longer_silent);
  v.page.assign(matching.begin(), matching.begin() + static_cast<std::ptrdiff_t>(end));
  return v;
}

/// What the last probe of one check of a device found: "up", "open_filtered", "pending" or the
/// failure's reason, and the prober's detail.
struct Evidence {
  std::string_view check;
  std::string_view state;
  std::string_view detail;
};
std::vector<Evidence> evidence_of(const AgentsView& v, const StaleAgent& a,
                                  const ResultTable& table) {
  std::vector<Evidence> out;
  const exposition::AgentJoin::Row& row = v.join->rows[a.row];
  const Plan& plan = *v.join->plan;
  for (std::uint32_t k = row.first_check; k < row.end_check; ++k) {
    const std::uint32_t i = v.join->checks[k];
    const CheckSpec& c = plan.checks[i];
    const CheckState& s = table.state(i);
    const bool down = outcome_of(s) == Outcome::down;
    out.push_back({c.check, down ? to_string(s.reason) : std::string_view(row_state(c, s).json),
                   down ? std::string_view(s.last_detail) : std::string_view()});
  }
  return out;
}

/// "check: state (detail); ..." with each detail cut to `detail_bytes`.
std::string evidence_line(const std::vector<Evidence>& items, std::size_t detail_bytes) {
  std::string out;
  for (const Evidence& e : items) {
    if (!out.empty()) out += "; ";
    out += e.check;
    out += ": ";
    out += e.state;
    if (!e.detail.empty()) {
      const std::string_view cut = utf8_prefix(e.detail, detail_bytes);
      out += " (";
      out += cut;
      if (cut.size() < e.detail.size()) out += "...";
      out += ')';
    }
  }
  return out;
}

const ksc::AgentView& agent_of(const AgentsView& v, const StaleAgent& a,
                               const StatusPageInfo& info) {
  const exposition::AgentJoin::Row& row = v.join->rows[a.row];
  return (*info.agents[row.section].agents)[row.agent];
}

std::string skipped_text(const ksc::DiscoveryStatus& s) {
  std::string out;
  for (const auto& [reason, count] : s.skipped) {
    if (!count) continue;
    if (!out.empty()) out += ", ";
    out += reason + " " + std::to_string(count);
  }
  return out;
}

/// Reasons that occur anywhere in the summary: the columns worth showing.
std::vector<int> reasons_seen(const StatusCounts& total) {
  std::vector<int> out;
  for (int r = 1; r < kReasonCount; ++r)
    if (total.down_by_reason[r]) out.push_back(r);
  return out;
}

std::string page_link(const StatusQuery& q, std::size_t offset) {
  StatusQuery p = q;
  p.offset = offset;
  std::string s = p.to_query_string();
  return s.empty() ? "/" : "/" + s;
}

struct PageLinks {
  std::string prev, next;  // empty when there is none
};
PageLinks links_of(const StatusQuery& q, std::size_t matched) {
  PageLinks l;
  if (q.offset > 0 && q.limit > 0) {
    std::size_t prev = q.offset > q.limit ? q.offset - q.limit : 0;
    // Past the end (a link kept while checks went away): back to the last page with rows.
    if (prev >= matched) prev = matched ? (matched - 1) / q.limit * q.limit : 0;
    l.prev = page_link(q, prev);
  }
  if (q.limit > 0 && q.offset + q.limit < matched) l.next = page_link(q, q.offset + q.limit);
  return l;
}

// ---- HTML ---------------------------------------------------------------------------------

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

void html_agents(std::string& h, const ResultTable& table, const StatusPageInfo& info,
                 const StatusQuery& q, const AgentsView& v) {
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
  const Plan& plan = *v.join->plan;
  h += "<table class=\"wide\" id=\"agents\"><colgroup><col style=\"width:13em\">"
       "<col style=\"width:14%\"><col style=\"width:7em\"><col style=\"width:10%\">"
       "<col style=\"width:10em\"><col></colgroup><thead><tr><th>Diagnosis</th><th>Target</th>"
       "<th>KSC server</th><th>Group</th><th>Last connection</th><th>Evidence</th></tr></thead>"
       "<tbody>\n";
  for (const StaleAgent& a : v.page) {
    const PlannedTarget& t = plan.targets[v.join->rows[a.row].target];
    const ksc::AgentView& view = agent_of(v, a, info);
    h += "<tr class=\"agent-" + std::string(to_string(a.diagnosis)) + "\">";
    html_cell(h, to_string(a.diagnosis), a.diagnosis == Diagnosis::unknown ? "" : "warn");
    html_cell(h, t.name);
    html_cell(h, label_of(t, "ksc_server"));
    html_cell(h, label_of(t, "ksc_group"));
    if (view.last_agent_connected)
      html_cell(h, ago(a.silent), {}, utc_date(*view.last_agent_connected));
    else
      html_cell(h, "never");
    const std::vector<Evidence> items = evidence_of(v, a, table);
    html_cell(h, evidence_line(items, kEvidenceDetailBytes), "detail",
              evidence_line(items, std::string::npos));
    h += "</tr>\n";
  }
  h += "</tbody></table>\n";
}

std::string render_html(const ResultTable& table, const StatusPageInfo& info, const StatusQuery& q,
                        const Selection& sel, const AgentsView& agents) {
  const Plan* plan = table.plan_ptr() ? &table.plan() : nullptr;
  const StatusCounts& total = sel.summary.total;
  std::string h;
  h.reserve(16384 + sel.page.size() * 700);
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
    const StatusCounts& c = sel.summary.roles[r];
    if (!c.checks) continue;
    StatusQuery base;
    base.role = static_cast<Role>(r);
    html_summary_row(h, std::string(to_string(static_cast<Role>(r))), c, reasons, &base);
  }
  for (const auto& label : sel.summary.labels) {
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

  if (!info.ksc.empty() || !info.agents.empty()) html_agents(h, table, info, q, agents);

  // Filters: a plain GET form, so a filtered page is a link to keep or share.
  h += "<h2>Checks</h2>\n<form class=\"filters\" method=\"get\" action=\"/\">";
  std::vector<std::string_view> opts;
  for (StateFilter s : kStates) opts.push_back(state_name(s));
  html_select(h, "state", "any state", state_name(q.state), opts);
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
  const PageLinks links = links_of(q, sel.matched);
  auto paging = [&](const char* id) {
    h += "<div class=\"paging\" id=\"";
    h += id;
    h += "\"><span>";
    if (sel.matched == 0)
      h += "no check matches";
    else if (sel.page.empty())
      h += "none on this page; " + std::to_string(sel.matched) + " matching";
    else
      h += "checks " + std::to_string(q.offset + 1) + "&ndash;" +
           std::to_string(q.offset + sel.page.size()) + " of " + std::to_string(sel.matched) +
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
  for (const Key& k : sel.page) {
    const CheckSpec& c = plan->checks[k.index];
    const PlannedTarget& t = plan->target_of(c);
    const CheckState& s = table.state(k.index);
    RowState st = row_state(c, s);
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
    html_cell(h, (v6 ? "[" + c.address + "]" : c.address) + ":" + std::to_string(c.port) + "/" +
                     std::string(to_string(c.transport)));
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
    if (s.tls && s.tls->not_after > 0) {
      std::string date = utc_date(s.tls->not_after);
      html_cell(h, date, k.days < kCertWarnDays ? "warn" : "",
                date + " (" + std::to_string(static_cast<long>(k.days)) + " days)");
    } else {
      h += "<td>-</td>";
    }
    html_cell(h, s.last_detail, "detail");
    h += "</tr>\n";
  }
  h += "</tbody></table>\n";
  if (sel.page.size() > 20) paging("paging-bottom");
  h += "<p><a href=\"/metrics\">/metrics</a> &middot; <a "
       "href=\"/-/healthy\">/-/healthy</a> &middot; <a href=\"/-/ready\">/-/ready</a> &middot; "
       "/probe?target=NAME</p>\n</body></html>\n";
  return h;
}

// ---- JSON ---------------------------------------------------------------------------------

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

void json_ksc(std::string& j, const ResultTable& table, const StatusPageInfo& info,
              const AgentsView& v) {
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
    const StaleAgent& a = v.page[n];
    const PlannedTarget& t = v.join->plan->targets[v.join->rows[a.row].target];
    const ksc::AgentView& view = agent_of(v, a, info);
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
    append_json_string(j, site_of(t));
    j += ",\"diagnosis\":";
    append_json_string(j, to_string(a.diagnosis));
    j += ",\"last_connected\":";
    j += view.last_agent_connected ? std::to_string(*view.last_agent_connected) : "null";
    j += ",\"last_visible\":";
    j += view.last_visible ? std::to_string(*view.last_visible) : "null";
    j += ",\"agent_running\":";
    j += view.agent_running ? "true" : "false";
    j += ",\"checks\":[";
    const std::vector<Evidence> items = evidence_of(v, a, table);
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

std::string render_json(const ResultTable& table, const StatusPageInfo& info, const StatusQuery& q,
                        const Selection& sel, const AgentsView& agents) {
  const Plan* plan = table.plan_ptr() ? &table.plan() : nullptr;
  std::string j;
  j.reserve(4096 + sel.summary.labels.size() * 256 + sel.page.size() * 600);
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
  json_counts(j, sel.summary.total);
  j += ",\"roles\":{";
  bool first = true;
  for (int r = 0; r < kRoleCount; ++r) {
    if (!sel.summary.roles[r].checks) continue;
    if (!first) j += ',';
    first = false;
    append_json_string(j, to_string(static_cast<Role>(r)));
    j += ':';
    json_counts(j, sel.summary.roles[r]);
  }
  j += "},\"labels\":{";
  first = true;
  for (const auto& label : sel.summary.labels) {
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
  json_ksc(j, table, info, agents);
  j += ",\"matched\":" + std::to_string(sel.matched) + ",\"offset\":" + std::to_string(q.offset) +
       ",\"limit\":" + std::to_string(q.limit);
  const PageLinks links = links_of(q, sel.matched);
  json_link(j, "prev", links.prev);
  json_link(j, "next", links.next);
  j += ",\"checks\":[";
  for (std::size_t n = 0; n < sel.page.size(); ++n) {
    const Key& k = sel.page[n];
    const CheckSpec& c = plan->checks[k.index];
    const PlannedTarget& t = plan->target_of(c);
    const CheckState& s = table.state(k.index);
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
    j += row_state(c, s).json;
    j += "\",\"reason\":";
    if (outcome_of(s) == Outcome::down)
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
    j += s.tls && s.tls->not_after > 0 ? std::to_string(s.tls->not_after) : "null";
    j += ",\"detail\":";
    append_json_string(j, s.last_detail);
    j += '}';
  }
  j += "\n]}\n";
  return j;
}

// ---- text ---------------------------------------------------------------------------------

void text_counts(std::string& t, const std::string& head, const StatusCounts& c) {
  t += text_field(head) + '\t' + std::to_string(c.checks) + '\t' + std::to_string(c.up) + '\t' +
       std::to_string(c.udp_silent) + '\t' + std::to_string(c.pending) + '\t' +
       std::to_string(c.down);
  for (int r = 1; r < kReasonCount; ++r) t += '\t' + std::to_string(c.down_by_reason[r]);
  t += '\t' + std::to_string(c.cert_expiring) + '\n';
}

void text_ksc(std::string& t, const ResultTable& table, const StatusPageInfo& info,
              const AgentsView& v) {
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
  for (const StaleAgent& a : v.page) {
    const PlannedTarget& pt = v.join->plan->targets[v.join->rows[a.row].target];
    const ksc::AgentView& view = agent_of(v, a, info);
    t += std::string(to_string(a.diagnosis)) + '\t' + text_field(pt.name) + '\t' +
         text_field(label_of(pt, "ksc_server")) + '\t' + text_field(label_of(pt, "ksc_group")) +
         '\t' + (view.last_agent_connected ? std::to_string(*view.last_agent_connected) : "-") +
         '\t' + text_field(evidence_line(evidence_of(v, a, table), kEvidenceDetailBytes)) + '\n';
  }
}

std::string render_text(const ResultTable& table, const StatusPageInfo& info, const StatusQuery& q,
                        const Selection& sel, const AgentsView& agents) {
  const Plan* plan = table.plan_ptr() ? &table.plan() : nullptr;
  std::string t;
  t.reserve(4096 + sel.summary.labels.size() * 128 + sel.page.size() * 300);
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
  text_counts(t, "all", sel.summary.total);
  for (int r = 0; r < kRoleCount; ++r)
    if (sel.summary.roles[r].checks)
      text_counts(t, "role=" + std::string(to_string(static_cast<Role>(r))), sel.summary.roles[r]);
  for (const auto& label : sel.summary.labels)
    for (const auto& [value, counts] : label.values)
      text_counts(t, label.name + "=" + value, counts);
  if (!info.ksc.empty() || !info.agents.empty()) text_ksc(t, table, info, agents);
  t += "# checks " + std::to_string(sel.page.empty() ? q.offset : q.offset + 1) + "-" +
       std::to_string(q.offset + sel.page.size()) + " of " + std::to_string(sel.matched) +
       " matching, worst first\n";
  const PageLinks links = links_of(q, sel.matched);
  if (!links.prev.empty()) t += "# prev " + links.prev + "\n";
  if (!links.next.empty()) t += "# next " + links.next + "\n";
  t += "state\ttarget\trole\tcheck\taddress\tport\ttransport\treason\tconsecutive_failures\t"
       "duration_seconds\tlast_success\tcertificate_not_after\tdetail\n";
  for (const Key& k : sel.page) {
    const CheckSpec& c = plan->checks[k.index];
    const PlannedTarget& pt = plan->target_of(c);
    const CheckState& s = table.state(k.index);
    t += row_state(c, s).json;
    t += '\t' + text_field(pt.name) + '\t' + std::string(to_string(pt.role)) + '\t' +
         text_field(c.check) + '\t' + text_field(c.address) + '\t' + std::to_string(c.port) + '\t' +
         std::string(to_string(c.transport)) + '\t' +
         (outcome_of(s) == Outcome::down ? std::string(to_string(s.reason)) : "-") + '\t' +
         std::to_string(s.consecutive_failures) + '\t' +
         (s.has_result ? fixed(s.duration, 6) : "-") + '\t' +
         (s.last_success_ts > 0 ? fixed(s.last_success_ts, 0) : "-") + '\t' +
         (s.tls && s.tls->not_after > 0 ? std::to_string(s.tls->not_after) : "-") + '\t' +
         text_field(s.last_detail) + '\n';
  }
  return t;
}

}  // namespace

StatusSummary summarize(const ResultTable& table, double now_unix) {
  return select(table, now_unix, StatusQuery{}, false).summary;
}

std::string StatusQuery::to_query_string() const {
  std::string s;
  auto add = [&](std::string_view k, std::string_view v) {
    s += s.empty() ? '?' : '&';
    s += url_encode(k);
    s += '=';
    s += url_encode(v);
  };
  if (format == StatusFormat::json) add("format", "json");
  if (format == StatusFormat::text) add("format", "text");
  if (role) add("role", to_string(*role));
  if (!check.empty()) add("check", check);
  if (state != StateFilter::any) add("state", state_name(state));
  if (reason) add("reason", to_string(*reason));
  if (!target.empty()) add("target", target);
  for (const auto& [k, v] : labels) add("label." + k, v);
  if (diagnosis) add("diagnosis", exposition::to_string(*diagnosis));
  if (limit != kStatusDefaultLimit) add("limit", std::to_string(limit));
  if (offset) add("offset", std::to_string(offset));
  return s;
}

bool parse_status_query(std::string_view query, const Plan* plan, StatusQuery* out,
                        std::string* error) {
  *out = StatusQuery{};
  if (query.size() > kMaxQueryBytes) {
    *error = "the query string is longer than " + std::to_string(kMaxQueryBytes) + " bytes";
    return false;
  }
  std::vector<std::string> seen;
  std::vector<std::string> plan_labels;  // label names the plan's targets carry, when needed
  bool plan_labels_read = false;
  std::vector<std::pair<std::string, std::string>> pairs;
  if (!parse_query(query, &pairs, error, kMaxParameters)) return false;
  for (const auto& [key, value] : pairs) {
    // `label.NAME` or, for a label the plan's targets carry, plain `NAME`.
    std::string label;
    if (key.rfind("label.", 0) == 0) {
      label = key.substr(6);
      if (label.empty()) {
        *error = "parameter 'label.' names no label (use label.NAME=VALUE)";
        return false;
      }
    }
    static constexpr std::array<std::string_view, 9> kNames = {
        "format", "role", "check", "state", "reason", "target", "offset", "limit", "diagnosis"};
    const bool known = std::find(kNames.begin(), kNames.end(), key) != kNames.end();
    if (!known && label.empty()) {
      if (!plan_labels_read && plan) {
        plan_labels_read = true;
        plan_labels = plan->metrics.aggregate_labels;
        for (const auto& t : plan->targets)
          for (const auto& kv : t.labels)
            if (std::find(plan_labels.begin(), plan_labels.end(), kv.first) == plan_labels.end())
              plan_labels.push_back(kv.first);
      }
      if (std::find(plan_labels.begin(), plan_labels.end(), key) == plan_labels.end()) {
        *error = "unknown query parameter '" + key +
                 "' (filters: role, check, state, reason, target, diagnosis, label.NAME or a "
                 "label's name; also format, offset, limit)";
        return false;
      }
      label = key;
    }
    const std::string id = label.empty() ? key : "label." + label;
    if (std::find(seen.begin(), seen.end(), id) != seen.end()) {
      *error = "query parameter '" + (label.empty() ? key : label) + "' given twice";
      return false;
    }
    seen.push_back(id);
    if (value.empty()) continue;  // an empty form field sets no filter
    if (!label.empty()) {
      out->labels.push_back({label, value});
    } else if (key == "format") {
      if (value == "html")
        out->format = StatusFormat::html;
      else if (value == "json")
        out->format = StatusFormat::json;
      else if (value == "text")
        out->format = StatusFormat::text;
      else {
        *error = "unknown format '" + value + "' (html, json, text)";
        return false;
      }
    } else if (key == "role") {
      out->role = parse_role(value);
      if (!out->role) {
        *error = "unknown role '" + value + "' (";
        for (int r = 0; r < kRoleCount; ++r)
          *error += std::string(r ? ", " : "") + std::string(to_string(static_cast<Role>(r)));
        *error += ")";
        return false;
      }
    } else if (key == "check") {
      out->check = value;
    } else if (key == "target") {
      out->target = value;
    } else if (key == "state") {
      auto it = std::find_if(kStates.begin(), kStates.end(),
                             [&v = value](StateFilter s) { return state_name(s) == v; });
      if (it == kStates.end()) {
        *error = "unknown state '" + value + "' (up, down, pending, filtered, expiring)";
        return false;
      }
      out->state = *it;
    } else if (key == "reason") {
      for (int r = 1; r < kReasonCount; ++r)
        if (to_string(static_cast<Reason>(r)) == value) out->reason = static_cast<Reason>(r);
      if (!out->reason) {
        *error = "unknown reason '" + value + "' (";
        for (int r = 1; r < kReasonCount; ++r)
          *error += std::string(r > 1 ? ", " : "") + std::string(to_string(static_cast<Reason>(r)));
        *error += ")";
        return false;
      }
    } else if (key == "diagnosis") {
      for (int d = 0; d < kDiagnosisCount; ++d)
        if (exposition::to_string(Diagnosis(d)) == value) out->diagnosis = Diagnosis(d);
      if (!out->diagnosis) {
        *error = "unknown diagnosis '" + value + "' (";
        for (int d = 0; d < kDiagnosisCount; ++d)
          *error += std::string(d ? ", " : "") + std::string(exposition::to_string(Diagnosis(d)));
        *error += ")";
        return false;
      }
    } else if (key == "offset") {
      if (!parse_number(value, kMaxOffset, &out->offset)) {
        *error = "offset must be a number from 0 to " + std::to_string(kMaxOffset);
        return false;
      }
    } else if (key == "limit") {
      if (!parse_number(value, kStatusMaxLimit, &out->limit)) {
        *error = "limit must be a number from 0 to " + std::to_string(kStatusMaxLimit);
        return false;
      }
    }
  }
  return true;
}

std::string render_status_page(const ResultTable& table, const StatusPageInfo& info,
                               const StatusQuery& query) {
  const AgentsView agents = collect_agents(table, info, query);
  Selection sel = select(table, info.now_unix, query, true,
                         query.diagnosis ? &agents.target_diagnosed : nullptr);
  switch (query.format) {
    case StatusFormat::json:
      return render_json(table, info, query, sel, agents);
    case StatusFormat::text:
      return render_text(table, info, query, sel, agents);
    case StatusFormat::html:
      break;
  }
  return render_html(table, info, query, sel, agents);
}

StatusResponse serve_status_page(const ResultTable& table, const StatusPageInfo& info,
                                 std::string_view query) {
  StatusResponse r;
  StatusQuery q;
  std::string error;
  if (!parse_status_query(query, table.plan_ptr() ? &table.plan() : nullptr, &q, &error)) {
    r.status = 400;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "bad request: " + error + "\n";
    return r;
  }
  r.content_type = q.format == StatusFormat::json   ? "application/json"
                   : q.format == StatusFormat::text ? "text/plain; charset=utf-8"
                                                    : "text/html; charset=utf-8";
  r.body = render_status_page(table, info, q);
  return r;
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
