#include "daemon/web/query_string.hpp"

namespace kscprobe {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      *out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;  // "%" or "%4" at the end
      int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      *out += in[i];
    }
  }
  return true;
}

}  // namespace

bool parse_query(std::string_view query, std::vector<std::pair<std::string, std::string>>* out,
                 std::string* error, std::size_t max_pairs) {
  out->clear();
  std::string key, value;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    if (out->size() >= max_pairs) {
      *error = "more than " + std::to_string(max_pairs) + " query parameters";
      return false;
    }
    std::size_t eq = part.find('=');
    if (!decode(part.substr(0, eq), &key) ||
        !decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), &value)) {
      *error = "malformed %-escape in the query string";
      return false;
    }
    out->emplace_back(key, value);
  }
  return true;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace kscprobe
