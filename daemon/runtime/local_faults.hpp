#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "collectors/probe_result.hpp"

namespace kscprobe {

/// Probes that failed on this host rather than on the network (ProbeResult::local): how many of
/// each kind, and whether they are still happening. A kind's episode starts with its first fault
/// and lasts until kWindowSeconds pass without another; the daemon logs both ends, answers
/// /-/ready with 503 and names it on the status page while any episode lasts. Times are steady
/// seconds given by the caller, so a test needs no clock.
class LocalFaults {
 public:
  static constexpr double kWindowSeconds = 60;

  /// Counts one fault of `kind` at `now`; true when it starts an episode (log it).
  bool note(LocalFault kind, double now);
  /// The kinds whose episode ended by `now`, each reported once (log them).
  std::vector<LocalFault> take_ended(double now);
  /// A fault of `kind` (any kind: none) happened within the window before `now`.
  bool active(double now, LocalFault kind = LocalFault::none) const;
  /// Faults of `kind` since the start.
  std::uint64_t total(LocalFault kind) const { return total_[static_cast<int>(kind)]; }
  /// Faults of `kind` in its current (or last) episode.
  std::uint64_t in_episode(LocalFault kind) const { return episode_[static_cast<int>(kind)]; }
  /// The kinds active at `now`, "fd_limit (358 probes), port_range (2 probes)"; "" when none.
  std::string describe(double now) const;

 private:
  std::array<std::uint64_t, kLocalFaultCount> total_{};
  std::array<std::uint64_t, kLocalFaultCount> episode_{};
  std::array<double, kLocalFaultCount> last_{};
  std::array<bool, kLocalFaultCount> open_{};
};

}  // namespace kscprobe
