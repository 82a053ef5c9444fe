#pragma once
// The hosts file (/etc/hosts, hosts(5)), read once and again only when it changes: the name
// resolver answers its names without a query, as getaddrinfo does with "hosts: files dns".
// Reading the file for every lookup, as c-ares's "f" lookups do, cost a file opened, read,
// parsed and closed per name: at thousands of names a second, a share of a core.
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kscprobe {

/// Names (lower case, no final dot) to their addresses in the order of the file: every line
/// that names one adds its address (as glibc's "multi on"). A line is an address, then the
/// canonical name and aliases; '#' starts a comment; a line whose address does not parse is
/// skipped.
using HostsTable = std::unordered_map<std::string, std::vector<boost::asio::ip::address>>;
HostsTable parse_hosts(std::string_view text);

class HostsFile {
 public:
  using Clock = std::chrono::steady_clock;

  /// `path` may be missing (then no name is in it); `check_every` bounds how often its size and
  /// time of change are looked at.
  explicit HostsFile(std::filesystem::path path,
                     std::chrono::milliseconds check_every = std::chrono::seconds(1));

  /// The addresses the file gives `name` (any case, a final dot ignored), or null. Reads the
  /// file again if, when last looked at over `check_every` ago, it has changed. The pointer is
  /// valid until the next call.
  const std::vector<boost::asio::ip::address>* find(std::string_view name, Clock::time_point now);

  /// How many times the file was read (the first time included).
  std::uint64_t reads() const { return reads_; }

 private:
  void refresh(Clock::time_point now);

  std::filesystem::path path_;
  std::chrono::milliseconds check_every_;
  bool checked_ = false;
  Clock::time_point last_check_{};
  std::filesystem::file_time_type mtime_{};
  std::uintmax_t size_ = 0;
  bool present_ = false;
  HostsTable table_;
  std::uint64_t reads_ = 0;
};

}  // namespace kscprobe
