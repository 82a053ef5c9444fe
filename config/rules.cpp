#include "config/rules.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

#include "config/catalog.hpp"
#include "platform/net.hpp"

namespace kscprobe::rules {

namespace {

constexpr std::string_view kReservedLabels[] = {"target", "role",  "check",    "port", "transport",
                                                "reason", "phase", "instance", "job"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string_view unbracket(std::string_view s) {
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') return s.substr(1, s.size() - 2);
  return s;
}

// Parses an IP literal into 16 bytes (IPv4 in the first 4); false if it is none.
bool parse_ip(std::string_view text, bool* v6, std::array<unsigned char, 16>* bytes) {
  if (text.empty() || text.size() > 64) return false;
  std::string s(text);
  in_addr a4{};
  in6_addr a6{};
  bytes->fill(0);
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    *v6 = false;
    std::memcpy(bytes->data(), &a4, 4);
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    *v6 = true;
    std::memcpy(bytes->data(), &a6, 16);
    // IPv4-mapped (::ffff:a.b.c.d) is the IPv4 address.
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes->data(), kMapped, 12) == 0) {
      *v6 = false;
      std::memmove(bytes->data(), bytes->data() + 12, 4);
      std::fill(bytes->begin() + 4, bytes->end(), 0);
    }
    return true;
  }
  return false;
}

}  // namespace

bool is_label_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    bool ok = (c < 128 && std::isalpha(c)) || c == '_' || (i > 0 && c < 128 && std::isdigit(c));
    if (!ok) return false;
  }
  return true;
}

bool is_reserved_label(std::string_view name) {
  return name.starts_with("__") || std::find(std::begin(kReservedLabels), std::end(kReservedLabels),
                                             name) != std::end(kReservedLabels);
}

std::string_view reserved_labels_text() {
  return "target, role, check, port, transport, reason, phase, instance, job and __*";
}

std::optional<std::string> parse_address(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<std::string> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (text.empty()) return fail("must not be empty");
  if (text.size() > 255) return fail("is longer than 255 characters");
  if (std::any_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); }))
    return fail("must not contain spaces");
  if (std::any_of(text.begin(), text.end(),
                  [](unsigned char c) { return c < ' ' || c == 0x7f || c == '"'; }))
    return fail("must not contain control characters or quotes");
  if (text.find('/') != std::string_view::npos)
    return fail("must be a host name or IP address, not a URL");
  // "[2001:db8::1]" is how people write IPv6 hosts in URLs; the resolver wants it bare.
  std::string_view bare = text;
  if (text.front() == '[') {
    if (text.find("]:") != std::string_view::npos)
      return fail("must not include a port (move ports in [target.ports])");
    if (text.size() < 3 || text.back() != ']') return fail("has an unbalanced \"[\"");
    bare = text.substr(1, text.size() - 2);
  }
  if (std::count(bare.begin(), bare.end(), ':') == 1)
    return fail("must not include a port (move ports in [target.ports])");
  return std::string(bare);
}

std::optional<std::uint32_t> parse_feature_list(std::string_view text, std::string* error) {
  std::uint32_t flags = 0;
  std::size_t i = 0;
  while (i <= text.size()) {
    std::size_t end = text.find(',', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view f = trim(text.substr(i, end - i));
    i = end + 1;
    if (f.empty()) continue;
    auto flag = parse_feature(f);
    if (!flag) {
      if (error)
        *error =
            "unknown feature \"" + std::string(f) + "\" (" + std::string(all_feature_names()) + ")";
      return std::nullopt;
    }
    flags |= *flag;
  }
  return flags;
}

bool Network::contains(std::string_view ip) const {
  bool is_v6 = false;
  std::array<unsigned char, 16> b{};
  if (!parse_ip(unbracket(ip), &is_v6, &b) || is_v6 != v6) return false;
  int full = prefix / 8;
  if (std::memcmp(b.data(), bytes.data(), static_cast<std::size_t>(full)) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (b[full] & mask) == (bytes[full] & mask);
}

std::optional<Network> parse_network(std::string_view text, std::string* error) {
  Network n;
  auto slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  if (!parse_ip(addr, &n.v6, &n.bytes)) {
    if (error)
      *error = "\"" + std::string(text) + "\" is not an IP network like 10.0.0.0/8 or fd00::/8";
    return std::nullopt;
  }
  const int max = n.v6 ? 128 : 32;
  n.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    int v = -1;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || p.size() > 3 || ec != std::errc() || end != p.data() + p.size() || v < 0 ||
        v > max) {
      if (error)
        *error = "\"" + std::string(text) + "\" has an invalid prefix length (0.." +
                 std::to_string(max) + ")";
      return std::nullopt;
    }
    n.prefix = v;
  }
  return n;
}

std::optional<double> parse_seconds(std::string_view text) {
  if (text.empty() || text.size() > 32) return std::nullopt;
  // Digits with at most one decimal point, nothing else: no sign, exponent, "inf" or "nan".
  bool dot = false, digit = false;
  for (char c : text) {
    if (c == '.' && !dot) {
      dot = true;
    } else if (c >= '0' && c <= '9') {
      digit = true;
    } else {
      return std::nullopt;
    }
  }
  if (!digit) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v <= 0)
    return std::nullopt;
  return v;
}

}  // namespace kscprobe::rules
