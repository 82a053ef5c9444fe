#include "config/ksc.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace kscprobe {

std::optional<KscEndpoint> parse_ksc_url(std::string_view url, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<KscEndpoint> {
    if (error) *error = why;
    return std::nullopt;
  };
  constexpr std::string_view kScheme = "https://";
  if (url.size() < kScheme.size()) return fail("must start with https://");
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = url[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return fail("must start with https://");
  }
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

bool read_ksc_password(const KscSource& source, std::string* password, std::string* error) {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return false;
  };
  std::string out;
  if (!source.password_file.empty()) {
    std::ifstream in(source.password_file, std::ios::binary);
    if (!in) return fail("cannot read password_file " + source.password_file);
    std::istreambuf_iterator<char> it(in), end;
    for (; it != end; ++it) {
      if (out.size() >= kMaxKscPasswordBytes)
        return fail("password_file " + source.password_file + " is over 4096 bytes");
      out += *it;
    }
    if (in.bad()) return fail("cannot read password_file " + source.password_file);
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
  *password = std::move(out);
  return true;
}

}  // namespace kscprobe
