#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/catalog.hpp"
#include "config/duration.hpp"
#include "config/ksc.hpp"
#include "config/rules.hpp"
#include "config/source_pos.hpp"

namespace kscprobe {

struct ConfigError {
  SourcePos pos;
  std::string message;
  /// `file:line:column: message` (line and column omitted when unknown).
  std::string format() const;
};

/// Which HTTP status codes count as "the service answered". Stored as a bitmap of 100..599.
struct StatusMatcher {
  /// Default: 2xx, 3xx and 4xx (a 401 or 404 still proves the web service is alive).
  static StatusMatcher answering();
  bool matches(int status) const;
  void add(int status);
  void add_class(int hundred);  // 2 -> 200..299
  bool empty() const;
  std::string to_string() const;
  bool operator==(const StatusMatcher&) const = default;
  std::uint64_t bits[8] = {};  // 500 codes (100..599) as bits
};

/// TLS options of a target or check.
struct TlsOptions {
  std::string server_name;         // SNI; default: the address when it is a DNS name
  std::string ca_file;             // verify the chain against these CAs
  std::string fingerprint_sha256;  // lowercase hex without separators: pin the leaf certificate
  bool operator==(const TlsOptions&) const = default;
};

/// An extra `[[target.check]]` beside the catalog's.
struct ExtraCheckConfig {
  std::string name;
  std::uint16_t port = 0;
  Transport transport = Transport::tcp;
  std::string path;                       // http(s); default "/"
  std::optional<StatusMatcher> statuses;  // http(s)
  bool expect_metrics = false;            // http(s): body must parse as exposition text
  std::string payload;                    // udp
  std::optional<Duration> interval;
  std::optional<Duration> timeout;
  SourcePos pos;
};

struct TargetConfig {
  std::string name;
  Role role = Role::server;
  std::string address;
  std::uint32_t features = 0;
  std::optional<DbEngine> engine;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name
  std::vector<std::string> disable;
  std::optional<Duration> interval;
  std::optional<Duration> timeout;
  std::map<std::string, std::uint16_t> ports;  // check id -> port
  std::string metrics_path;                    // path of metrics_https; default "/metrics"
  std::string udp_payload;                     // default payload of the catalog's UDP checks
  TlsOptions tls;
  std::vector<ExtraCheckConfig> checks;
  SourcePos pos;
};

/// A target that discovery found (a device of a `[[ksc]]` section): only what a device sets.
/// Every other setting is TargetConfig's default, and its features and position are its
/// section's, so a list of 100 000 of them is a quarter of the size of as many TargetConfigs.
struct DiscoveredTarget {
  std::string name;
  Role role = Role::agent;
  std::string address;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name
  bool operator==(const DiscoveredTarget&) const = default;
};

/// The TargetConfig a discovered target stands for, with its section's features and position.
TargetConfig to_target_config(const DiscoveredTarget& target, std::uint32_t features,
                              const SourcePos& pos);

struct DaemonConfig {
  Duration interval = std::chrono::seconds(30);
  Duration timeout = std::chrono::seconds(5);
  bool timeout_written = false;         // [daemon] timeout set in the file (not the default)
  unsigned max_in_flight = 256;         // TCP, TLS and HTTP(S) probes at once
  unsigned max_datagram_in_flight = 0;  // UDP and ICMP probes waiting at once; 0: follows the plan
  unsigned max_quiet_in_flight = 0;     // probes of checks that last got no answer; 0: 1/4
                                        // of max_in_flight
  // TLS checks resume their session between full handshakes this far apart ("0s": never).
  Duration tls_full_handshake_interval = std::chrono::hours(1);
  unsigned shard_index = 0;  // this instance probes the targets of shard
  unsigned shard_count = 1;  // shard_index of shard_count (see shard_of)
};

/// How much of a check's state /metrics shows, per role ([metrics] detail).
enum class Detail : std::uint8_t {
  full,       // every series per check
  basic,      // per check: kscprobe_probe_success and kscprobe_last_success_timestamp_seconds;
              // counters and the rest as aggregates
  aggregate,  // aggregates only; failing checks are still named by kscprobe_probe_success 0
};
inline constexpr EnumName<Detail> kDetailRows[] = {
    {Detail::full, "full"}, {Detail::basic, "basic"}, {Detail::aggregate, "aggregate"}};
inline constexpr EnumTable kDetails{kDetailRows};
inline std::string_view to_string(Detail d) { return kDetails.name(d); }

/// The timeout of a check probed every `interval` when no level of the configuration writes
/// one: the daemon's default, but never as long as a shorter interval (as Prometheus caps
/// scrape_timeout at the scrape interval), so `interval = "5s"` alone stays valid. A timeout the
/// user wrote is kept as written, and must be shorter than the interval.
Duration effective_timeout(const DaemonConfig& daemon, std::optional<Duration> written,
                           Duration interval);

/// The /metrics output ([metrics]).
struct MetricsConfig {
  /// Per role, in Role's order. Agents default to aggregate (sums per group, series per agent
  /// only for a failing check): the output's size follows what is wrong, not the estate's size;
  /// 500 000 agents at basic were two million series.
  std::array<Detail, kRoleCount> detail = default_detail();
  /// Target labels kept by the aggregates beside role/check/transport. `site` by default: the
  /// alert rules in monitoring/ group agents by it.
  std::vector<std::string> aggregate_labels = {"site"};
  static std::array<Detail, kRoleCount> default_detail() {
    std::array<Detail, kRoleCount> d{};
    d.fill(Detail::full);
    d[static_cast<int>(Role::agent)] = Detail::aggregate;
    return d;
  }
  bool operator==(const MetricsConfig&) const = default;
};

/// The HTTP listener's security, in exporter-toolkit's terms ([web] or --web.config.file).
struct WebConfig {
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;         // set: clients must present a certificate signed by it
  std::string tls_min_version = "TLS12";  // TLS12 | TLS13
  std::vector<std::pair<std::string, std::string>> basic_auth_users;  // user -> bcrypt hash
  bool tls_enabled() const { return !tls_cert_file.empty(); }
  bool operator==(const WebConfig&) const = default;
};

/// The blackbox-style /probe endpoint ([probe]).
struct ProbeEndpointConfig {
  std::vector<rules::Network> allow;  // networks that /probe may reach beside the targets
  unsigned max_concurrent = 16;       // /probe requests served at once
};

/// Prometheus file_sd files with more targets (top-level `target_files`), re-read when they
/// change.
struct TargetFilesConfig {
  std::vector<std::string> patterns;  // globs, relative to the config file's directory
  Duration refresh = std::chrono::seconds(10);
};

struct Config {
  DaemonConfig daemon;
  MetricsConfig metrics;
  WebConfig web;
  ProbeEndpointConfig probe;
  TargetFilesConfig target_files;
  std::vector<TargetConfig> targets;
  std::vector<KscSource> ksc;  // [[ksc]]: KSC Administration Servers to learn targets from
  std::string source;          // file name, for messages
};

}  // namespace kscprobe
