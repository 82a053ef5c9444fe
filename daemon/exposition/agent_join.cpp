#include "daemon/exposition/agent_join.hpp"

#include "daemon/exposition/text_writer.hpp"
#include "daemon/runtime/outcome.hpp"
#include "daemon/runtime/result_table.hpp"

namespace kscprobe::exposition {

std::vector<const void*> AgentJoin::keys(const std::vector<ksc::AgentSection>& sections) {
  std::vector<const void*> out;
  out.reserve(sections.size());
  for (const auto& s : sections) out.push_back(s.agents.get());
  return out;
}

std::shared_ptr<const AgentJoin> AgentJoin::build(const std::shared_ptr<const Plan>& p,
                                                  const std::vector<ksc::AgentSection>& sections,
                                                  bool with_labels) {
  auto j = std::make_shared<AgentJoin>();
  j->plan = p;
  j->lists = keys(sections);
  const Plan& plan = *p;
  std::vector<std::uint32_t> row_of(plan.targets.size(), kNone);
  j->offsets.assign(1, 0);
  std::string one;
  for (std::uint32_t t = 0; t < plan.targets.size(); ++t) {
    const PlannedTarget& pt = plan.targets[t];
    std::string_view server;
    for (const auto& [k, v] : pt.labels)
      if (k == "ksc_server") server = v;
    if (server.empty()) continue;
    for (std::uint32_t s = 0; s < sections.size(); ++s) {
      if (sections[s].name != server) continue;
      const ksc::AgentView* a = sections[s].find(pt.name);
      if (a == nullptr) break;
      row_of[t] = static_cast<std::uint32_t>(j->rows.size());
      j->rows.push_back(
          Row{t, s, static_cast<std::uint32_t>(a - sections[s].agents->data()), 0, 0});
      if (with_labels) {
        one.clear();
        append_label(one, "target", pt.name);
        append_label(one, "role", to_string(pt.role));
        for (const auto& [k, v] : pt.labels)
          if (!v.empty()) append_label(one, k, v);
        j->labels += one;
        j->offsets.push_back(static_cast<std::uint32_t>(j->labels.size()));
      }
      break;
    }
  }
  // The checks of each row, grouped by row (a counting sort of the plan's checks).
  std::vector<std::uint32_t> next(j->rows.size() + 1, 0);
  for (const CheckSpec& c : plan.checks)
    if (row_of[c.target_index] != kNone) ++next[row_of[c.target_index] + 1];
  for (std::size_t r = 0; r < j->rows.size(); ++r) {
    next[r + 1] += next[r];
    j->rows[r].first_check = next[r];
    j->rows[r].end_check = next[r];
  }
  j->checks.resize(next[j->rows.size()]);
  j->agent_port.resize(j->checks.size());
  for (std::uint32_t i = 0; i < plan.checks.size(); ++i) {
    const CheckSpec& c = plan.checks[i];
    const std::uint32_t r = row_of[c.target_index];
    if (r == kNone) continue;
    const std::uint32_t at = j->rows[r].end_check++;
    j->checks[at] = i;
    j->agent_port[at] = is_agent_port(plan.target_of(c).role, c.check);
  }
  return j;
}

void AgentJoin::evidence(std::size_t row, const ResultTable& table,
                         std::vector<CheckEvidence>* out) const {
  out->clear();
  const Row& r = rows[row];
  for (std::uint32_t k = r.first_check; k < r.end_check; ++k) {
    const std::uint32_t i = checks[k];
    const CheckState& s = table.state(i);
    out->push_back(CheckEvidence{plan->checks[i].transport, agent_port[k], outcome_of(s),
                                 s.udp_reply, s.reason});
  }
}

Diagnosis AgentJoin::diagnosis(std::size_t row, const ResultTable& table,
                               std::vector<CheckEvidence>* scratch) const {
  evidence(row, table, scratch);
  return diagnose(*scratch);
}

}  // namespace kscprobe::exposition
