#include "config/duration.hpp"

#include <cctype>
#include <cstdint>
#include <limits>

namespace kscprobe {

std::optional<Duration> parse_duration(std::string_view text, std::string* error) {
  auto fail = [&](std::string msg) -> std::optional<Duration> {
    if (error) *error = std::move(msg);
    return std::nullopt;
  };
  if (text.empty()) return fail("empty duration (expected e.g. \"500ms\", \"1.5s\", \"2m\")");
  std::int64_t total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return fail("invalid duration \"" + std::string(text) +
                  "\" (expected <number><unit> with unit ms, s, m, h or d)");
    }
    // The integer part, then an optional fraction ("1.5s", as Go's durations and blackbox's
    // configuration accept): the value is kept in thousandths so "1.5s" is exactly 1500 ms.
    std::int64_t value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value = value * 10 + (text[i] - '0');
      if (value > 1'000'000'000) return fail("duration \"" + std::string(text) + "\" is too large");
      ++i;
    }
    std::int64_t thousandths = value * 1000;
    if (i < text.size() && text[i] == '.') {
      ++i;
      std::size_t digits = 0;
      std::int64_t scale = 100;
      bool finer = false;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (scale > 0)
          thousandths += (text[i] - '0') * scale;
        else if (text[i] != '0')
          finer = true;
        scale /= 10;
        ++digits;
        ++i;
      }
      if (digits == 0)
        return fail("invalid duration \"" + std::string(text) +
                    "\" (a decimal point needs digits after it, e.g. \"1.5s\")");
      if (finer)
        return fail("duration \"" + std::string(text) +
                    "\" has more than three decimals (write \"1.5s\" or \"1500ms\")");
    }
    std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t factor = 0;
    if (unit == "ms")
      factor = 1;
    else if (unit == "s")
      factor = 1000;
    else if (unit == "m")
      factor = 60'000;
    else if (unit == "h")
      factor = 3'600'000;
    else if (unit == "d")
      factor = 86'400'000;
    else if (unit.empty() && i < text.size())
      return fail("invalid duration \"" + std::string(text) + "\": unexpected \"" +
                  std::string(1, text[i]) + "\" (expected <number><unit>, e.g. \"1.5s\")");
    else if (unit.empty())
      return fail("duration \"" + std::string(text) + "\" lacks a unit (ms, s, m, h or d)");
    else
      return fail("duration \"" + std::string(text) + "\" has unknown unit \"" + std::string(unit) +
                  "\" (use ms, s, m, h or d)");
    // Thousandths of a unit times the unit in ms: whole milliseconds, unless finer than that.
    constexpr std::int64_t kYearMs = std::int64_t{365} * 86'400'000;
    if (thousandths / 1000 > kYearMs / factor)  // before multiplying: no overflow
      return fail("duration \"" + std::string(text) + "\" is longer than a year");
    std::int64_t scaled = thousandths * factor;
    if (scaled % 1000 != 0)
      return fail("duration \"" + std::string(text) + "\" is finer than a millisecond");
    total_ms += scaled / 1000;
    if (total_ms > kYearMs)
      return fail("duration \"" + std::string(text) + "\" is longer than a year");
  }
  return Duration(total_ms);
}

std::string format_duration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  struct Unit {
    std::int64_t size;
    const char* name;
  };
  static constexpr Unit units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& u : units) {
    if (ms >= u.size) {
      out += std::to_string(ms / u.size) + u.name;
      ms %= u.size;
    }
  }
  return out;
}

}  // namespace kscprobe
