#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "config/shared_text.hpp"

namespace kscprobe {

/// One target as the plan sees it: identity and labels shared by its checks.
struct PlannedTarget {
  std::string name;
  Role role = Role::server;
  SharedText address;                                       // one copy, shared with its checks
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name
};

/// What a check sends and accepts beyond where and when (http, udp, tls). Equal for most checks
/// of a plan, so a plan keeps one copy of each distinct set and its checks share it.
struct ProbeOptions {
  // http/https
  std::string http_path = "/";
  StatusMatcher statuses = StatusMatcher::answering();
  bool expect_metrics = false;
  // udp
  std::string udp_payload;
  // tls/https
  TlsOptions tls;
  /// Resume TLS sessions between full handshakes at most this far apart; 0: every probe runs a
  /// full handshake (the /probe endpoint, tools). Not part of same_settings: it changes cost,
  /// not what is checked.
  Duration tls_full_handshake_interval{0};
  bool operator==(const ProbeOptions&) const = default;
};

/// One probe to run on a schedule: everything a prober needs, resolved from config + catalog.
/// Kept small: a 100 000-device estate has hundreds of thousands of them.
struct CheckSpec {
  std::uint32_t target_index = 0;  // into Plan::targets
  std::uint16_t port = 0;
  Transport transport = Transport::tcp;
  SharedText check;    // check id: catalog id or extra check name (one copy per plan)
  SharedText address;  // DNS name or IP literal (the target's copy)
  Duration interval{0};
  Duration timeout{0};

  /// The options, shared with the checks that have the same; defaults when none were set.
  const ProbeOptions& options() const { return options_ ? *options_ : kDefaultOptions; }
  /// The options of this check alone, to change them (copied first if shared).
  ProbeOptions& mutable_options();
  /// Shares `o` (expand_plan gives equal options one copy).
  void share_options(std::shared_ptr<const ProbeOptions> o) { options_ = std::move(o); }

  /// Identity across reloads: same key and same settings keep state and counters.
  std::string key(const PlannedTarget& t) const;
  /// True if the probe itself would behave the same (used to keep state on reload).
  bool same_settings(const CheckSpec& o) const;

 private:
  static const ProbeOptions kDefaultOptions;
  std::shared_ptr<const ProbeOptions> options_;
};

struct Plan {
  DaemonConfig daemon;
  MetricsConfig metrics;
  WebConfig web;
  ProbeEndpointConfig probe;
  std::vector<PlannedTarget> targets;
  std::vector<CheckSpec> checks;
  const PlannedTarget& target_of(const CheckSpec& c) const { return targets[c.target_index]; }
};

/// Expands targets × catalog into checks: features, engine, port overrides, `disable`, the 13001
/// rule for a distribution point on the server host, extra checks, interval/timeout inheritance.
/// The config must already be validated (see load_config). The targets are config.targets, then
/// the discovered ones `more` points to, each with its section's features (held by the
/// discovery: read, never copied whole).
struct DiscoveredPick {
  const DiscoveredTarget* target = nullptr;
  std::uint32_t features = 0;
};
Plan expand_plan(const Config& config, std::span<const DiscoveredPick> more = {});

/// Whether catalog row `row` is a check of `target`: its role, one of its features (when the
/// row names any), its database engine, and not disabled. The one rule for the plan and for the
/// simulated estate, so the two cannot drift.
bool row_applies(const CatalogEntry& row, const TargetConfig& target);

/// The port of `row`'s check on `target`: the target's own (`ports`), else the row's, except a
/// distribution point on the administration server's host, which takes the row's other port.
std::uint16_t row_port(const CatalogEntry& row, const TargetConfig& target);

/// The shard in [0, count) a target belongs to: a jump consistent hash of its name, so every
/// instance sharing one configuration agrees, and going from n to n+1 shards moves only about
/// 1/(n+1) of the targets.
unsigned shard_of(std::string_view target_name, unsigned count);

/// Shard `index` of `count` (0 <= index < count <= 1024).
struct Shard {
  unsigned index = 0;
  unsigned count = 1;
};

/// Parses "i/n" as given to `--shard` and `[daemon] shard`; nullopt and `error` if it is not
/// one (CONTRIBUTING.md: a value from text is an optional with an error sentence).
std::optional<Shard> parse_shard(std::string_view text, std::string* error);

/// Default UDP payload: a few bytes that no KSC service acts on.
inline constexpr std::string_view kDefaultUdpPayload = "kscprobe\n";

}  // namespace kscprobe
