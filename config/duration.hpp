#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kscprobe {

/// All configured durations are kept in milliseconds.
using Duration = std::chrono::milliseconds;

/// Parses a duration: one or more `<number><unit>` groups with units ms, s, m, h, d, where the
/// number may have a fraction (e.g. "500ms", "1.5s", "1m30s"), down to whole milliseconds.
/// Returns nullopt and sets *error otherwise.
std::optional<Duration> parse_duration(std::string_view text, std::string* error);

/// Formats a duration back in the shortest exact form ("1m30s", "500ms", "0s").
std::string format_duration(Duration d);

}  // namespace kscprobe
