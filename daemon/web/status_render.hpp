#pragma once
// The status page's formats: each writes a StatusModel (status_model.hpp) out, walking it once.
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "daemon/web/status_model.hpp"

namespace kscprobe {

/// The page for a browser: tables, filters as a GET form, links between pages
/// (status_render_html.cpp).
std::string render_status_html(const StatusModel& m);
/// The page for scripts: one JSON object (status_render_json.cpp).
std::string render_status_json(const StatusModel& m);
/// The page for a terminal and `cut`: tab-separated tables under '#' headings
/// (status_render_text.cpp).
std::string render_status_text(const StatusModel& m);

/// Agent evidence details are cut to this on the HTML and text pages (whole in JSON).
inline constexpr std::size_t kEvidenceDetailBytes = 80;

/// Escapes text for HTML element content and attribute values; bytes that are not UTF-8 become
/// U+FFFD.
std::string html_escape(std::string_view s);

/// `v` with `decimals` decimals, as the JSON and text formats write times and durations.
inline std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace kscprobe
