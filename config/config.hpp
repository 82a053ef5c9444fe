#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/catalog.hpp"
#include "config/duration.hpp"

namespace kscprobe {

/// Where a value came from, for error messages (`file:line:column`).
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
};

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

struct DaemonConfig {
  Duration interval = std::chrono::seconds(30);
  Duration timeout = std::chrono::seconds(5);
  unsigned max_in_flight = 256;
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
  std::vector<std::string> allow;  // CIDR networks that /probe may reach beside the targets
  unsigned max_concurrent = 16;    // /probe requests served at once
};

/// Prometheus file_sd files with more targets (top-level `target_files`), re-read when they
/// change.
struct TargetFilesConfig {
  std::vector<std::string> patterns;  // globs, relative to the config file's directory
  Duration refresh = std::chrono::seconds(10);
};

struct Config {
  DaemonConfig daemon;
  WebConfig web;
  ProbeEndpointConfig probe;
  TargetFilesConfig target_files;
  std::vector<TargetConfig> targets;
  std::string source;  // file name, for messages
};

}  // namespace kscprobe
