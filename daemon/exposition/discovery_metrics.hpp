#pragma once
// The metrics of discovery from KSC ([[ksc]] sections): whether each Administration Server's
// last discovery worked, how long it took, what it made, and the server's instance statistics.
#include <span>
#include <string>

#include "daemon/discovery/discovery_status.hpp"

namespace kscprobe::exposition {

/**
 * Appends the kscprobe_discovery_* and instance statistics families of `statuses` (one per
 * section; see ksc::Discovery::status()) to `out`, every sample labelled ksc_server:
 * - kscprobe_discovery_success, kscprobe_discovery_duration_seconds: once a run has finished;
 * - kscprobe_discovery_failure_info{reason}: while the last run failed;
 * - kscprobe_discovery_stale: once a run has finished;
 * - kscprobe_discovery_last_success_timestamp_seconds: once a run has succeeded;
 * - kscprobe_discovery_targets{role}: each role the section asks for;
 * - kscprobe_discovery_skipped_hosts{reason}: each reason of the status;
 * - the server's instance statistics of the last run, if it succeeded: one family per attribute
 *   of ksc::known_statistics() (its `metric`, help text and kind), and kscprobe_ksc_statistic
 *   {name[, record]} for each value the table does not know.
 * Nothing when there is no section.
 */
void write_discovery_metrics(std::string& out, std::span<const ksc::DiscoveryStatus> statuses);

}  // namespace kscprobe::exposition
