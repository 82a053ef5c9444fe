#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kscprobe {

/// Decodes an application/x-www-form-urlencoded query ("a=1&b=x+y&c=%2F") into (name, value)
/// pairs in order: '+' is a space, %XX a byte, a pair without '=' has an empty value, empty
/// pairs are skipped. Returns false with *error on a malformed %-escape or more than
/// `max_pairs` pairs, so every route reads a query the same way.
bool parse_query(std::string_view query, std::vector<std::pair<std::string, std::string>>* out,
                 std::string* error, std::size_t max_pairs = 64);

/// Percent-encodes everything but RFC 3986's unreserved characters.
std::string url_encode(std::string_view s);

}  // namespace kscprobe
