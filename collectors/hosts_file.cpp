#include "collectors/hosts_file.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include "collectors/address.hpp"
#include "collectors/resolver_cache.hpp"

namespace kscprobe {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// The cache's key (lower case), without a final dot.
std::string lower_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return ResolverCache::key(name);
}

}  // namespace

HostsTable parse_hosts(std::string_view text) {
  HostsTable table;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (const auto hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    std::vector<std::string_view> fields;
    while (true) {
      while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
      if (line.empty()) break;
      std::size_t n = 0;
      while (n < line.size() && !is_blank(line[n])) ++n;
      fields.push_back(line.substr(0, n));
      line.remove_prefix(n);
    }
    if (fields.size() < 2) continue;
    // Brackets are a URL's, not the file's: "[::1]" is not an address here.
    if (fields[0].front() == '[') continue;
    const auto address = parse_ip_literal(fields[0]);
    if (!address) continue;
    for (std::size_t i = 1; i < fields.size(); ++i) {
      auto& addresses = table[lower_name(fields[i])];
      if (std::find(addresses.begin(), addresses.end(), *address) == addresses.end())
        addresses.push_back(*address);
    }
  }
  return table;
}

HostsFile::HostsFile(std::filesystem::path path, std::chrono::milliseconds check_every)
    : path_(std::move(path)), check_every_(check_every) {}

void HostsFile::refresh(Clock::time_point now) {
  if (checked_ && now - last_check_ < check_every_) return;
  checked_ = true;
  last_check_ = now;
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path_, ec);
  const auto size = ec ? 0 : std::filesystem::file_size(path_, ec);
  const bool present = !ec;
  if (present == present_ && (!present || (mtime == mtime_ && size == size_))) return;
  present_ = present;
  mtime_ = present ? mtime : std::filesystem::file_time_type{};
  size_ = size;
  table_.clear();
  if (!present) return;
  std::ifstream in(path_, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  table_ = parse_hosts(text.str());
  ++reads_;
}

const std::vector<boost::asio::ip::address>* HostsFile::find(std::string_view name,
                                                             Clock::time_point now) {
  refresh(now);
  if (table_.empty()) return nullptr;
  const auto it = table_.find(lower_name(name));
  return it == table_.end() ? nullptr : &it->second;
}

}  // namespace kscprobe
