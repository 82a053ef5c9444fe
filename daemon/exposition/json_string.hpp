#pragma once
#include <string>
#include <string_view>

namespace kscprobe {

/// Appends `s` as a JSON string: quotes, backslashes and control characters escaped, and bytes
/// that are not UTF-8 (a peer's banner, a file name, can be anything) replaced by U+FFFD, so
/// the document always parses. The status page's JSON and both log formats write strings so.
void append_json_string(std::string& out, std::string_view s);

}  // namespace kscprobe
