#pragma once
// What one `[[ksc]]` section's discovery looks like from outside: a plain snapshot, for the
// metrics (daemon/exposition/discovery_metrics.hpp) and the status page. No I/O here.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/catalog.hpp"
#include "daemon/discovery/ksc_statistics.hpp"

namespace kscprobe::ksc {

struct DiscoveryStatus {
  std::string name;  // the section's name: the `ksc_server` label
  // Whether a run has finished (success or failure) since the section (re)started; the fields
  // below that describe "the last run" mean nothing before.
  bool ran = false;
  bool success = false;         // the last run succeeded
  double duration_seconds = 0;  // of the last run
  // Unix time (seconds) of the end of the last successful run; none before a first success.
  std::optional<double> last_success_unix;
  // The targets in use (those of the last successful run), by role: one entry per role the
  // section asks for, in the order of the section's `roles`, zeros included.
  std::vector<std::pair<Role, std::size_t>> targets_by_role;
  std::size_t targets = 0;  // in use, all roles
  std::size_t devices = 0;  // devices the server listed at the last successful run
  // Devices of the last successful run that made no target, by reason (known reasons are
  // present with 0): "no_address", "duplicate_name", "no_id", "not_a_record", "over_limit".
  std::map<std::string, std::size_t> skipped;
  // The server's instance statistics (GetInstanceStatistics, decode_statistics), as of the last
  // run when it succeeded; empty after a failed run (the figures are the server's present
  // state, which is then unknown).
  std::vector<Statistic> statistics;
  // The last run's failure: its kind (ksc::to_string(ErrorKind): "password" when the
  // password could not be read) and its message (never the password); empty after a success.
  std::string error_kind;
  std::string error;
  // The last success is older than the section's stale_after: the targets still in use may no
  // longer match the estate.
  bool stale = false;
  // Runs finished since the section (re)started, and of them the failed ones.
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;
};

}  // namespace kscprobe::ksc
