#pragma once
// The configuration's vocabulary, written once: what a label name, an address, a feature list, a
// network or a number of seconds may be. The TOML loader, target files, /probe, the command
// line and the Windows config check all ask here, so the same text means the same thing from
// every entry point.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kscprobe::rules {

/// Prometheus's label name syntax, [a-zA-Z_][a-zA-Z0-9_]*.
bool is_label_name(std::string_view name);

/// Label names a target may not set: the exporter sets them itself (target, role, check, port,
/// transport, reason, phase), Prometheus attaches them at scrape time (instance, job), or
/// Prometheus keeps them for itself (a leading "__").
bool is_reserved_label(std::string_view name);
/// The list above, for error messages.
std::string_view reserved_labels_text();

/// A target's address: a host name or an IP literal ("[v6]" is unbracketed), with no port, path,
/// space or quote. Returns the address to use, or nullopt with the reason in *error (a phrase
/// to follow the quoted address, e.g. "must not include a port ...").
std::optional<std::string> parse_address(std::string_view text, std::string* error);

/// A comma-separated feature list ("icmp, ksn_proxy"): entries are trimmed, empty ones skipped.
/// Returns the feature flags, or nullopt with the first unknown feature named in *error.
std::optional<std::uint32_t> parse_feature_list(std::string_view text, std::string* error);

/// An IP network "10.0.0.0/8", "fd00::/8", or a single address (a full-length prefix).
struct Network {
  bool v6 = false;
  std::array<unsigned char, 16> bytes{};  // the first 4 for IPv4, network byte order
  int prefix = 0;
  /// True if `ip` (an IP literal, "[v6]" accepted, IPv4-mapped IPv6 read as IPv4) is inside.
  bool contains(std::string_view ip) const;
};
std::optional<Network> parse_network(std::string_view text, std::string* error);

/// A strictly positive decimal number of seconds ("10", "9.5"), as Prometheus sends in
/// X-Prometheus-Scrape-Timeout-Seconds; nullopt for anything else ("", "abc", "5s", "-1", "nan").
std::optional<double> parse_seconds(std::string_view text);

}  // namespace kscprobe::rules
