#pragma once
#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace kscprobe {

/// The IP address written in `text` ("10.0.0.1", "::1", "[::1]", "fe80::1%eth0"), or nullopt
/// when `text` is a DNS name.
inline std::optional<boost::asio::ip::address> parse_ip_literal(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty()) return std::nullopt;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return address;
}

/// True for names under the reserved ".invalid" TLD, which RFC 6761 6.4 says resolvers should
/// answer negatively without asking anyone.
inline bool is_reserved_invalid_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  constexpr std::string_view kTld = "invalid";
  if (name.size() < kTld.size()) return false;
  std::string_view tail = name.substr(name.size() - kTld.size());
  for (std::size_t i = 0; i < kTld.size(); ++i) {
    char c = tail[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kTld[i]) return false;
  }
  return name.size() == kTld.size() || name[name.size() - kTld.size() - 1] == '.';
}

/// `address` as it goes into a URL authority or Host header: IPv6 literals in brackets.
inline std::string host_for_authority(std::string_view address) {
  if (!address.empty() && address.front() != '[' && address.find(':') != std::string_view::npos) {
    return "[" + std::string(address) + "]";
  }
  return std::string(address);
}

}  // namespace kscprobe
