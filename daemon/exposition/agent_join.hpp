#pragma once
// The discovered targets of a plan joined with the server's view of them (the [[ksc]] sections'
// agent lists, ksc::Discovery::agent_sections()), and the diagnosis of each joined device from
// the result table. /metrics (kscprobe_ksc_*, kscprobe_agent_diagnosis) and the status page's
// "Agents that stopped connecting" both read it, so they cannot disagree.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/plan.hpp"
#include "daemon/discovery/agent_view.hpp"
#include "daemon/exposition/agent_diagnosis.hpp"

namespace kscprobe {
class ResultTable;
}  // namespace kscprobe

namespace kscprobe::exposition {

struct AgentJoin {
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  struct Row {
    std::uint32_t target;                  // into Plan::targets
    std::uint32_t section;                 // into the sections it was built from
    std::uint32_t agent;                   // into that section's list
    std::uint32_t first_check, end_check;  // checks[first_check, end_check)
  };
  std::shared_ptr<const Plan> plan;
  std::vector<const void*> lists;     // the sections' lists it was built from
  std::vector<Row> rows;              // one per joined target, in the plan's order
  std::vector<std::uint32_t> checks;  // the check indices of each row, one row after another
  std::vector<bool> agent_port;       // per entry of `checks`: a port of klnagent
  std::string labels;                 // per row (when built with labels): target, role, labels
  std::vector<std::uint32_t> offsets;

  /// Row `row`'s label set, escaped (built with labels only).
  std::string_view labels_of(std::size_t row) const {
    return std::string_view(labels).substr(offsets[row], offsets[row + 1] - offsets[row]);
  }

  /// What identifies the sections' lists: a join built from other lists is out of date.
  static std::vector<const void*> keys(const std::vector<ksc::AgentSection>& sections);

  /// A target joins the view of the section named by its ksc_server label, under its name (a
  /// configured target of the same name has no such label, or another server's). `with_labels`:
  /// also each row's label set, escaped for the exposition.
  static std::shared_ptr<const AgentJoin> build(const std::shared_ptr<const Plan>& plan,
                                                const std::vector<ksc::AgentSection>& sections,
                                                bool with_labels = true);

  /// The last probe of each check of row `row` in `table` (whose plan the join was built from),
  /// into `*out` (cleared first).
  void evidence(std::size_t row, const ResultTable& table, std::vector<CheckEvidence>* out) const;

  /// diagnose() of row `row`'s evidence; `scratch` is reused between calls.
  Diagnosis diagnosis(std::size_t row, const ResultTable& table,
                      std::vector<CheckEvidence>* scratch) const;
};

}  // namespace kscprobe::exposition
