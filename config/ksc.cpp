#include "config/ksc.hpp"

#include <cstdlib>

#include "platform/ascii.hpp"
#include "platform/files.hpp"

namespace kscprobe {

std::optional<KscEndpoint> parse_ksc_url(std::string_view url, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<KscEndpoint> {
    if (error) *error = why;
    return std::nullopt;
  };
  constexpr std::string_view kScheme = "https://";
  if (!ascii::istarts_with(url, kScheme)) return fail("must start with https://");
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@ \t") != std::string_view::npos)
    return fail("must be https://host[:port], with no path, query or user");
  KscEndpoint out;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail("has an unclosed [");
    out.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("has text after the ]");
      port_text = after.substr(1);
      if (port_text.empty()) return fail("has an empty port");
    }
  } else {
    std::size_t colon = rest.find(':');
    if (colon != std::string_view::npos && rest.find(':', colon + 1) != std::string_view::npos)
      return fail("must write an IPv6 address in brackets");
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return fail("has an empty port");
    }
  }
  if (out.host.empty()) return fail("has no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    if (port_text.size() > 5) return fail("has a port out of range");
    for (char c : port_text) {
      if (c < '0' || c > '9') return fail("has a port that is not a number");
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) return fail("has a port out of range");
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

std::optional<std::string> read_ksc_password(const KscSource& source, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<std::string> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  std::string out;
  if (!source.password_file.empty()) {
    std::string why;
    if (!platform::read_small_regular_file(source.password_file, kMaxKscPasswordBytes, &out, &why))
      return fail("cannot read password_file " + source.password_file + ": " + why);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    if (out.empty()) return fail("password_file " + source.password_file + " is empty");
  } else if (!source.password_env.empty()) {
    const char* value = std::getenv(source.password_env.c_str());
    if (value == nullptr)
      return fail("environment variable " + source.password_env + " is not set");
    out = value;
    if (out.empty()) return fail("environment variable " + source.password_env + " is empty");
  } else {
    return fail("neither password_file nor password_env is set");
  }
  return out;
}

std::vector<std::string> ksc_security_warnings(const KscSource& source) {
  std::vector<std::string> out;
  if (!source.password_file.empty() && platform::readable_by_others(source.password_file))
    out.push_back("password_file " + source.password_file +
                  " is readable by every user of this machine: chmod 600 (or 640 with the "
                  "daemon's group)");
  if (source.insecure_skip_verify)
    out.push_back(
        "insecure_skip_verify = true: the server's certificate is not checked, so anyone on the "
        "path can read the discovery account's password; set ca_file or fingerprint_sha256");
  return out;
}

std::string redact_url(std::string_view url) {
  const std::size_t scheme = url.find("://");
  const std::size_t from = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t end = url.find_first_of("/?#", from);
  const std::size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < from) return std::string(url);
  return std::string(url.substr(0, from)) + "***@" + std::string(url.substr(at + 1));
}

}  // namespace kscprobe
