#include "config/config.hpp"

#include <algorithm>

namespace kscprobe {

Duration effective_timeout(const DaemonConfig& daemon, std::optional<Duration> written,
                           Duration interval) {
  if (written) return *written;
  if (daemon.timeout_written || daemon.timeout < interval) return daemon.timeout;
  // The default would reach the next probe: leave a fifth of the interval between them.
  return std::max(Duration(1), interval * 4 / 5);
}

TargetConfig to_target_config(const DiscoveredTarget& target, std::uint32_t features,
                              const SourcePos& pos) {
  TargetConfig t;
  t.name = target.name;
  t.role = target.role;
  t.address = target.address;
  t.features = features;
  t.labels = target.labels;
  t.pos = pos;
  return t;
}

std::string ConfigError::format() const {
  std::string out = pos.file.empty() ? std::string("<config>") : pos.file;
  if (pos.line > 0) {
    out += ':' + std::to_string(pos.line);
    if (pos.column > 0) out += ':' + std::to_string(pos.column);
  }
  out += ": ";
  out += message;
  return out;
}

StatusMatcher StatusMatcher::answering() {
  StatusMatcher m;
  m.add_class(2);
  m.add_class(3);
  m.add_class(4);
  return m;
}

bool StatusMatcher::matches(int status) const {
  if (status < 100 || status > 599) return false;
  int bit = status - 100;
  return (bits[bit / 64] >> (bit % 64)) & 1u;
}

void StatusMatcher::add(int status) {
  if (status < 100 || status > 599) return;
  int bit = status - 100;
  bits[bit / 64] |= std::uint64_t{1} << (bit % 64);
}

void StatusMatcher::add_class(int hundred) {
  for (int s = hundred * 100; s < hundred * 100 + 100; ++s) add(s);
}

bool StatusMatcher::empty() const {
  for (auto b : bits)
    if (b) return false;
  return true;
}

std::string StatusMatcher::to_string() const {
  std::string out;
  for (int s = 100; s <= 599;) {
    if (s % 100 == 0) {
      bool whole = true;
      for (int k = s; k < s + 100; ++k) whole = whole && matches(k);
      if (whole) {
        if (!out.empty()) out += ',';
        out += std::to_string(s / 100) + "xx";
        s += 100;
        continue;
      }
    }
    if (matches(s)) {
      if (!out.empty()) out += ',';
      out += std::to_string(s);
    }
    ++s;
  }
  return out;
}

}  // namespace kscprobe
