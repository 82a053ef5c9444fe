#pragma once
// What a check's last probe says of it: the one definition that /metrics and the status page
// both count by.
#include <cstdint>

#include "daemon/runtime/result_table.hpp"

namespace kscprobe {

/// A check by its last probe:
/// - pending: not probed yet. /metrics: no kscprobe_probe_success sample, counted as
///   kscprobe_aggregate_checks{state="unknown"}.
/// - up: the probe succeeded (a UDP port that stayed silent, open or filtered, is up).
///   kscprobe_probe_success 1, kscprobe_aggregate_checks{state="up"}.
/// - down: the probe failed, for `CheckState::reason` (never Reason::none: ResultTable::record
///   sees to it). kscprobe_probe_success 0, one kscprobe_probe_failure_info{reason},
///   kscprobe_aggregate_checks{state=reason}.
enum class Outcome : std::uint8_t { pending, up, down };

/// Inline: /metrics asks it several times per check per scrape, at hundreds of thousands of
/// checks.
inline Outcome outcome_of(const CheckState& s) {
  if (!s.has_result) return Outcome::pending;
  return s.success ? Outcome::up : Outcome::down;
}

}  // namespace kscprobe
