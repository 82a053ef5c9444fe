#pragma once
// How a latency and a date read to a person, the same in `--once`'s table and on the status page.
#include <cstdint>
#include <string>

namespace kscprobe {

/// "12.3ms" under a second, "1.23s" from one on: one word, so the columns of `--once`'s table
/// split on blanks (the fault matrix reads them so, and so may a user's script).
std::string human_latency(double seconds);

/// The UTC date of a Unix time, "2027-03-01".
std::string utc_date(std::int64_t unix_seconds);

}  // namespace kscprobe
