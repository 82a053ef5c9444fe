#pragma once
// Internal to the TOML loader (config/loader.cpp and config/load/*.cpp): the walk over the file,
// one member function per section, and the helpers its messages share. load_config_file and
// load_config_string (config/loader.hpp) are the only way in.
//
//   config/loader.cpp     the file and its top level (sections, target_files, [[target]])
//   config/load/walk.cpp  value readers, positions, "did you mean" suggestions
//   config/load/daemon.cpp, metrics.cpp, web.cpp, probe.cpp    [daemon] [metrics] [web] [probe]
//   config/load/target.cpp  [[target]];  config/load/check.cpp  [[target.check]]
//   config/load/ksc.cpp  [[ksc]]
#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"

namespace kscprobe::load {

/// `"s"`, for messages.
std::string quote(std::string_view s);
/// " (did you mean "x"?)" when one candidate is a likely typo of `word`, else "".
std::string suggestion(std::string_view word, std::span<const std::string_view> candidates);
/// "a, b, c".
std::string join(std::span<const std::string_view> items);
/// "a string", "an integer", ...: what a message says was found instead.
std::string_view type_name(const toml::node& n);
/// Target and check names become label values and log keys: keep them free of quoting issues.
bool valid_name(std::string_view s);
bool has_space_or_control(std::string_view s);

/// A timing value after inheritance, with where it came from for messages.
struct Effective {
  Duration value{0};
  bool known = false;       // false when the value it inherits from was itself invalid
  std::string_view origin;  // e.g. "from [daemon]"; empty when set at this level
};

/// A level's effective interval and timeout.
struct Timing {
  Effective interval;
  Effective timeout;
};

/// One load of one file: collects every error instead of stopping at the first.
class Loader {
 public:
  Loader(std::string source, std::filesystem::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  LoadResult load(std::string_view text);

 private:
  // config/loader.cpp
  void load_root(const toml::table& root, Config& config);

  // config/load/walk.cpp
  SourcePos pos(const toml::source_region& r) const;
  void error(const toml::source_region& r, std::string message);
  static std::string in(const std::string& context, std::string message);
  void reject_unknown_keys(const toml::table& t, std::span<const std::string_view> known,
                           const std::string& context);
  std::optional<std::string> string_value(const toml::node& n, std::string_view key,
                                          const std::string& context);
  std::optional<Duration> duration_value(const toml::node& n, std::string_view key,
                                         const std::string& context);
  std::optional<unsigned> unsigned_value(const toml::node& n, std::string_view key, long long min,
                                         long long max, const std::string& context);
  std::optional<std::uint16_t> port_value(const toml::node& n, const std::string& what,
                                          const std::string& context);
  // A file the daemon must read (certificates, keys, CA bundles): relative to the config.
  std::optional<std::string> readable_file(const toml::node& n, std::string_view key,
                                           const std::string& context);
  // Reports timeout >= interval at the timeout's own position when this level sets it.
  void check_timing(const Effective& interval, const Effective& timeout,
                    const toml::node* interval_node, const toml::node* timeout_node,
                    const std::string& context);
  // The one rule of inheritance for a target and a check: the level's own interval and timeout
  // (written to *interval, *timeout) over `inherited`; returns the effective pair, and checks
  // it when this level writes one of them (a bad pair above is reported there, once).
  Timing load_timing(const toml::table& t, Timing inherited, std::optional<Duration>* interval,
                     std::optional<Duration>* timeout, const std::string& context);

  // config/load/daemon.cpp, metrics.cpp, web.cpp, probe.cpp
  void load_daemon(const toml::table& t, DaemonConfig& daemon);
  void load_metrics(const toml::table& t, MetricsConfig& metrics);
  void load_web(const toml::table& t, WebConfig& web);
  void load_probe(const toml::table& t, ProbeEndpointConfig& probe);

  // config/load/target.cpp
  TargetConfig load_target(const toml::table& t, std::size_t index);
  void load_address(const toml::node& n, const std::string& address, TargetConfig& target,
                    const std::string& context);
  void load_features(const toml::node& n, TargetConfig& target, const std::string& context);
  void load_labels(const toml::node& n, TargetConfig& target, const std::string& context);
  void load_ca_file(const toml::node& n, const std::string& file, TargetConfig& target,
                    const std::string& context);
  void load_fingerprint(const toml::node& n, const std::string& text, TargetConfig& target,
                        const std::string& context);
  void load_ports(const toml::node& n, const std::optional<Role>& role,
                  const std::vector<std::string_view>& ids, TargetConfig& target,
                  const std::string& context);

  // config/load/ksc.cpp
  KscSource load_ksc(const toml::table& t, std::size_t index);
  void load_ksc_sections(const toml::node& n, Config& config);

  // config/load/check.cpp
  ExtraCheckConfig load_check(const toml::table& t, std::size_t index,
                              const std::optional<Role>& role, const TargetConfig& target,
                              const Effective& target_interval, const Effective& target_timeout,
                              const std::string& target_context);
  void load_status(const toml::node& n, ExtraCheckConfig& check, const std::string& context);

  std::string source_;
  std::filesystem::path base_dir_;
  Duration target_files_refresh_ = std::chrono::seconds(10);  // set by [daemon]
  std::vector<ConfigError> errors_;
  std::map<std::string, int> target_lines_;  // target name -> line of its first definition
  Effective daemon_interval_;                // what targets inherit
  Effective daemon_timeout_;
};

}  // namespace kscprobe::load
