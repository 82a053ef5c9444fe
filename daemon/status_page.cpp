#include "daemon/status_page.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

#include "daemon/platform.hpp"
#include "daemon/result_table.hpp"

namespace kscprobe {

namespace {

constexpr double kCertWarnDays = 30;

enum class Severity { down = 0, pending = 1, cert = 2, up = 3 };

std::string ago(double seconds) {
  if (seconds < 0) seconds = 0;
  char buf[32];
  if (seconds < 120)
    std::snprintf(buf, sizeof buf, "%.0fs ago", seconds);
  else if (seconds < 7200)
    std::snprintf(buf, sizeof buf, "%.0fm ago", seconds / 60);
  else if (seconds < 172800)
    std::snprintf(buf, sizeof buf, "%.0fh ago", seconds / 3600);
  else
    std::snprintf(buf, sizeof buf, "%.0fd ago", seconds / 86400);
  return buf;
}

std::string date_of(std::int64_t t) {
  std::tm tm = platform::utc_tm(static_cast<std::time_t>(t));
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string ms(double seconds) {
  char buf[32];
  if (seconds < 1)
    std::snprintf(buf, sizeof buf, "%.1f ms", seconds * 1000);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", seconds);
  return buf;
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_status_page(const ResultTable& table, const StatusPageInfo& info) {
  const Plan* plan = table.plan_ptr() ? &table.plan() : nullptr;
  struct Row {
    std::uint32_t index;
    Severity severity;
    double days_left;
  };
  std::vector<Row> rows;
  std::size_t up = 0, down = 0, pending = 0, expiring = 0;
  if (plan) {
    rows.reserve(table.size());
    for (std::uint32_t i = 0; i < table.size(); ++i) {
      const CheckState& s = table.state(i);
      double days = 1e9;
      if (s.tls && s.tls->not_after > 0) days = (s.tls->not_after - info.now_unix) / 86400.0;
      Severity sev = !s.has_result          ? Severity::pending
                     : !s.success           ? Severity::down
                     : days < kCertWarnDays ? Severity::cert
                                            : Severity::up;
      if (!s.has_result)
        ++pending;
      else if (!s.success)
        ++down;
      else
        ++up;
      if (days < kCertWarnDays) ++expiring;
      rows.push_back({i, sev, days});
    }
  }
  // Worst first: down (longest failing first), pending, certificates expiring, then the rest.
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    if (a.severity != b.severity) return a.severity < b.severity;
    const CheckState& sa = table.state(a.index);
    const CheckState& sb = table.state(b.index);
    if (a.severity == Severity::down && sa.consecutive_failures != sb.consecutive_failures)
      return sa.consecutive_failures > sb.consecutive_failures;
    if (a.days_left != b.days_left) return a.days_left < b.days_left;
    return false;
  });

  std::string h;
  h.reserve(512 + rows.size() * 400);
  h += R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<title>kscprobe</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .2em}
.summary span{display:inline-block;margin-right:1.2em;font-weight:600}
table{border-collapse:collapse;margin-top:1em;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;white-space:nowrap}
th{background:#f4f4f4}
.state{font-weight:700;border-radius:3px;padding:.1em .4em}
.down{background:#d93025;color:#fff}.up{background:#188038;color:#fff}
.pending{background:#9aa0a6;color:#fff}.filtered{background:#1a73e8;color:#fff}
.warn{color:#b06000;font-weight:600}.detail{white-space:normal;color:#555}
</style></head><body>
<h1>kscprobe</h1>
<div>Kaspersky Security Center network paths &middot; version )";
  h += html_escape(info.version);
  h += " &middot; config " + html_escape(info.config_source);
  if (!info.last_reload_ok) h += " &middot; <span class=\"warn\">last reload FAILED</span>";
  h += "</div>\n<p class=\"summary\"><span id=\"down\">" + std::to_string(down) +
       " down</span><span id=\"up\">" + std::to_string(up) + " up</span><span id=\"pending\">" +
       std::to_string(pending) + " pending</span><span id=\"expiring\">" +
       std::to_string(expiring) +
       (expiring == 1 ? " certificate expires" : " certificates expire") +
       " within 30 days</span></p>\n";
  h += "<table id=\"checks\"><thead><tr><th>State</th><th>Target</th><th>Role</th><th>Check</th>"
       "<th>Address</th><th>Port</th><th>Transport</th><th>Latency</th><th>Last failure</th>"
       "<th>Last success</th><th>Certificate expiry</th><th>Detail</th></tr></thead><tbody>\n";
  for (const Row& row : rows) {
    const CheckSpec& c = plan->checks[row.index];
    const PlannedTarget& t = plan->target_of(c);
    const CheckState& s = table.state(row.index);
    std::string state_class, state_text;
    if (!s.has_result) {
      state_class = "pending";
      state_text = "PENDING";
    } else if (!s.success) {
      state_class = "down";
      state_text = "DOWN";
    } else if (c.transport == Transport::udp && !s.udp_reply) {
      state_class = "filtered";
      state_text = "OPEN|FILTERED";
    } else {
      state_class = "up";
      state_text = "UP";
    }
    h += "<tr class=\"row-" + state_class + "\"><td><span class=\"state " + state_class + "\">" +
         state_text + "</span></td><td>" + html_escape(t.name) + "</td><td>" +
         html_escape(to_string(t.role)) + "</td><td>" + html_escape(c.check) + "</td><td>" +
         html_escape(c.address) + "</td><td>" + std::to_string(c.port) + "</td><td>" +
         html_escape(to_string(c.transport)) + "</td><td>" +
         (s.has_result ? ms(s.duration) : std::string("-")) + "</td><td>";
    if (s.last_failure_reason != Reason::none) {
      h += html_escape(to_string(s.last_failure_reason));
      h += " (" + ago(info.now_unix - s.last_failure_ts) + ")";
      if (s.consecutive_failures > 0)
        h += ", " + std::to_string(s.consecutive_failures) + " in a row";
    } else {
      h += "-";
    }
    h += "</td><td>";
    h += s.last_success_ts > 0 ? ago(info.now_unix - s.last_success_ts) : std::string("never");
    h += "</td><td>";
    if (s.tls && s.tls->not_after > 0) {
      bool warn = row.days_left < kCertWarnDays;
      h += warn ? "<span class=\"warn\">" : "<span>";
      h += date_of(s.tls->not_after) + " (" + std::to_string(static_cast<long>(row.days_left)) +
           " days)</span>";
    } else {
      h += "-";
    }
    h += "</td><td class=\"detail\">" + html_escape(s.last_detail) + "</td></tr>\n";
  }
  h += "</tbody></table>\n<p><a href=\"/metrics\">/metrics</a> &middot; <a "
       "href=\"/-/healthy\">/-/healthy</a> &middot; <a href=\"/-/ready\">/-/ready</a> &middot; "
       "/probe?target=NAME</p>\n</body></html>\n";
  return h;
}

}  // namespace kscprobe
