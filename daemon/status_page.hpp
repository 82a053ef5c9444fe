#pragma once
#include <string>

namespace kscprobe {

class ResultTable;

struct StatusPageInfo {
  std::string version;
  std::string config_source;
  bool last_reload_ok = true;
  double now_unix = 0;
};

/// The HTML page served on `/`: every target and check with its state, latency, last failure
/// reason, time since last success and certificate expiry, worst first.
std::string render_status_page(const ResultTable& table, const StatusPageInfo& info);

/// Escapes text for HTML element content and attribute values.
std::string html_escape(std::string_view s);

}  // namespace kscprobe
