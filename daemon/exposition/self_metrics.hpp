#pragma once
// The daemon's own families, which /metrics writes ahead of the result table's: the build, the
// last configuration load, discovery from KSC, the host's limits (local faults, the open-file
// limit and the budgets fitted to it) and the shared name resolver.
#include <span>
#include <string>

#include "daemon/discovery/discovery_status.hpp"
#include "daemon/runtime/open_files.hpp"
#include "daemon/runtime/scheduler_core.hpp"

namespace kscprobe {

class LocalFaults;
struct ResolverStats;

namespace exposition {

/// What the self-metrics say, read from the daemon at each render.
struct SelfMetrics {
  bool last_reload_ok = true;
  double last_reload_success_ts = 0;  ///< unix seconds of the last successful load
  /// One status per [[ksc]] section (ksc::Discovery::status()); none: no family.
  std::span<const ksc::DiscoveryStatus> discovery;
  const LocalFaults* local_faults = nullptr;  ///< counts per kind (never null when written)
  bool local_faults_active = false;           ///< a local fault within the last minute
  OpenFileFit fit;                            ///< the budgets in force against the limit
  SchedulerCore::Budgets budgets{};           ///< the scheduler's budgets in force, per lane
  const ResolverStats* resolver = nullptr;    ///< the shared name resolver's (never null)
};

/// Appends the families of `m` to `out`, in the order /metrics has always written them.
void write_self_metrics(std::string& out, const SelfMetrics& m);

}  // namespace exposition
}  // namespace kscprobe
