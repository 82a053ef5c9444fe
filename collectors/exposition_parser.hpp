#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace kscprobe {

/// What a validation of Prometheus text exposition found.
struct ExpositionSummary {
  std::size_t samples = 0;   ///< sample lines
  std::size_t families = 0;  ///< distinct metric families (declared by HELP/TYPE or sampled)
  int error_line = 0;        ///< 1-based line of the first error; 0 when valid
  std::string error;         ///< the first error, without the line number
};

/// Validates `text` as Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE` lines
/// (types counter, gauge, histogram, summary, untyped; at most one of each per family, TYPE before
/// the family's samples), other comments, blank lines, and samples
/// `name{label="value",...} value [timestamp]` with label escapes \\ \" \n, float values
/// (NaN, +Inf, -Inf, exponents) and integer millisecond timestamps. Histogram buckets need an
/// `le` label and summary quantiles a `quantile` label. Line endings must be "\n" (a missing final
/// newline is tolerated). Runs in time and memory linear in the input, whatever the bytes.
/// Returns true if valid; fills `*out` (which may be null) either way, stopping at the first error.
bool parse_exposition(std::string_view text, ExpositionSummary* out);

}  // namespace kscprobe
