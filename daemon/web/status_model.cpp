#include "daemon/web/status_model.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <unordered_map>

#include "config/plan.hpp"
#include "config/utf8.hpp"
#include "daemon/exposition/agent_join.hpp"
#include "daemon/runtime/outcome.hpp"
#include "daemon/runtime/result_table.hpp"
#include "platform/ascii.hpp"

namespace kscprobe {

namespace {

using exposition::Diagnosis;

constexpr double kNoCertificate = 1e12;  // days_left of a check without a certificate

enum class Severity : std::uint8_t { down = 0, pending = 1, cert = 2, up = 3 };

double days_left(const CheckState& s, double now) {
  if (s.tls() && s.tls()->not_after > 0)
    return (static_cast<double>(s.tls()->not_after) - now) / 86400;
  return kNoCertificate;
}

RowState row_state(const CheckSpec& c, const CheckState& s) {
  switch (outcome_of(s)) {
    case Outcome::pending:
      return RowState::pending;
    case Outcome::down:
      return RowState::down;
    case Outcome::up:
      break;
  }
  return c.transport == Transport::udp && !s.udp_reply ? RowState::open_filtered : RowState::up;
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

/// `diagnosed`: per plan target, whether the diagnosis filter keeps it (collect_agents).
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
      bool ok = ascii::icontains(pt.name, q.target);
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

// ---- KSC: the agents that stopped connecting ------------------------------------------------

/// A stale agent before the page is cut: its row in the join.
struct StaleAgent {
  std::uint32_t row;  // into AgentJoin::rows
  Diagnosis diagnosis;
  double silent;
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

/// The agents section; with a diagnosis filter, fills `target_diagnosed`: per plan target,
/// whether its agent is stale with that diagnosis (the checks the filter keeps).
StatusAgents collect_agents(const ResultTable& table, const StatusPageInfo& info,
                            const StatusQuery& q, std::vector<bool>* target_diagnosed) {
  StatusAgents v;
  if (info.agents.empty() || !table.plan_ptr()) return v;
  const Plan& plan = table.plan();
  const std::shared_ptr<const exposition::AgentJoin> join =
      exposition::AgentJoin::build(table.plan_ptr(), info.agents, /*with_labels=*/false);
  if (q.diagnosis) target_diagnosed->assign(plan.targets.size(), false);
  std::unordered_map<std::string_view, std::size_t> site_index;
  std::vector<exposition::CheckEvidence> scratch;
  std::vector<StaleAgent> matching;
  for (std::size_t r = 0; r < join->rows.size(); ++r) {
    const exposition::AgentJoin::Row& row = join->rows[r];
    const ksc::AgentSection& section = info.agents[row.section];
    const ksc::AgentView& agent = (*section.agents)[row.agent];
    if (!exposition::agent_is_stale(agent, section, info.now_unix)) continue;
    const Diagnosis d = join->diagnosis(r, table, &scratch);
    ++v.stale;
    ++v.by_diagnosis[static_cast<int>(d)];
    const std::string_view site = site_of(plan.targets[row.target]);
    auto [it, added] = site_index.try_emplace(site, v.sites.size());
    if (added) v.sites.push_back({std::string(site), {}, 0});
    ++v.sites[it->second].by_diagnosis[static_cast<int>(d)];
    ++v.sites[it->second].total;
    if (q.diagnosis && d != *q.diagnosis) continue;
    if (q.diagnosis) (*target_diagnosed)[row.target] = true;
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
  v.page.reserve(end);
  for (std::size_t k = 0; k < end; ++k) {
    const StaleAgent& a = matching[k];
    const exposition::AgentJoin::Row& row = join->rows[a.row];
    StaleAgentRow out;
    out.target = &plan.targets[row.target];
    out.agent = &(*info.agents[row.section].agents)[row.agent];
    out.diagnosis = a.diagnosis;
    out.site = site_of(*out.target);
    out.silent = a.silent;
    for (std::uint32_t e = row.first_check; e < row.end_check; ++e) {
      const std::uint32_t i = join->checks[e];
      const CheckSpec& c = plan.checks[i];
      const CheckState& s = table.state(i);
      const bool down = outcome_of(s) == Outcome::down;
      out.evidence.push_back({c.check, down ? to_string(s.reason) : to_string(row_state(c, s)),
                              down ? std::string_view(s.last_detail()) : std::string_view()});
    }
    v.page.push_back(std::move(out));
  }
  return v;
}

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

}  // namespace

std::string_view to_string(RowState s) {
  switch (s) {
    case RowState::down:
      return "down";
    case RowState::pending:
      return "pending";
    case RowState::open_filtered:
      return "open_filtered";
    case RowState::up:
      return "up";
  }
  return "";
}

StatusSummary summarize(const ResultTable& table, double now_unix) {
  return select(table, now_unix, StatusQuery{}, false).summary;
}

StatusModel build_status_model(const ResultTable& table, const StatusPageInfo& info,
                               const StatusQuery& query) {
  StatusModel m;
  m.info = &info;
  m.query = &query;
  m.plan = table.plan_ptr() ? &table.plan() : nullptr;
  std::vector<bool> target_diagnosed;
  m.agents = collect_agents(table, info, query, &target_diagnosed);
  Selection sel =
      select(table, info.now_unix, query, true, query.diagnosis ? &target_diagnosed : nullptr);
  m.summary = std::move(sel.summary);
  m.matched = sel.matched;
  m.rows.reserve(sel.page.size());
  for (const Key& k : sel.page) {
    StatusRow r;
    r.check = &m.plan->checks[k.index];
    r.target = &m.plan->target_of(*r.check);
    r.state = &table.state(k.index);
    r.shown = row_state(*r.check, *r.state);
    if (r.state->tls() && r.state->tls()->not_after > 0) r.not_after = r.state->tls()->not_after;
    r.days_left = k.days;
    r.expiring = k.days < kCertWarnDays;
    m.rows.push_back(r);
  }
  m.links = links_of(query, m.matched);
  return m;
}

std::string_view label_of(const PlannedTarget& t, std::string_view name) {
  for (const auto& [k, v] : t.labels)
    if (k == name) return v;
  return {};
}

std::string evidence_line(const std::vector<StatusEvidence>& items, std::size_t detail_bytes) {
  std::string out;
  for (const StatusEvidence& e : items) {
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

std::string skipped_text(const ksc::DiscoveryStatus& s) {
  std::string out;
  for (const auto& [reason, count] : s.skipped) {
    if (!count) continue;
    if (!out.empty()) out += ", ";
    out += reason + " " + std::to_string(count);
  }
  return out;
}

}  // namespace kscprobe
