#include "daemon/runtime/human_text.hpp"

#include <cstdio>
#include <ctime>

#include "platform/platform.hpp"

namespace kscprobe {

std::string human_latency(double seconds) {
  char buf[32];
  if (seconds < 1)
    std::snprintf(buf, sizeof buf, "%.1fms", seconds * 1000);
  else
    std::snprintf(buf, sizeof buf, "%.2fs", seconds);
  return buf;
}

std::string utc_date(std::int64_t unix_seconds) {
  std::tm tm = platform::utc_tm(static_cast<std::time_t>(unix_seconds));
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace kscprobe
