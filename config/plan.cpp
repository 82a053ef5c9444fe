#include "config/plan.hpp"

#include <algorithm>
#include <deque>

namespace kscprobe {

std::string CheckSpec::key(const PlannedTarget& t) const { return t.name + "/" + check; }

const ProbeOptions CheckSpec::kDefaultOptions{};

ProbeOptions& CheckSpec::mutable_options() {
  if (!options_ || options_.use_count() > 1) options_ = std::make_shared<ProbeOptions>(options());
  // Owned by this check alone from here on (see above), so changing it changes no other check.
  return const_cast<ProbeOptions&>(*options_);
}

bool CheckSpec::same_settings(const CheckSpec& o) const {
  const ProbeOptions& a = options();
  const ProbeOptions& b = o.options();
  return check == o.check && address == o.address && port == o.port && transport == o.transport &&
         interval == o.interval && timeout == o.timeout && a.http_path == b.http_path &&
         a.statuses == b.statuses && a.expect_metrics == b.expect_metrics &&
         a.udp_payload == b.udp_payload && a.tls == b.tls;
}

bool row_applies(const CatalogEntry& row, const TargetConfig& target) {
  if (row.role != target.role) return false;
  if (row.any_of_features != kFeatureNone && (row.any_of_features & target.features) == 0) {
    return false;
  }
  // A database target is one engine: the other engines' rows describe other hosts.
  if (row.engine && row.engine != target.engine) return false;
  return std::find(target.disable.begin(), target.disable.end(), row.id) == target.disable.end();
}

std::uint16_t row_port(const CatalogEntry& row, const TargetConfig& target) {
  if (auto it = target.ports.find(std::string(row.id)); it != target.ports.end()) {
    return it->second;
  }
  // A distribution point on the administration server's host cannot share 13000 with klserver.
  if (target.role == Role::distribution_point && (target.features & kFeatureOnAdminServer) &&
      row.port_on_admin_server != 0) {
    return row.port_on_admin_server;
  }
  return row.port;
}

namespace {

/// One shared copy per distinct ProbeOptions. Checks come target by target and the targets of a
/// group have the same settings, so the few most recent distinct sets catch nearly every check.
class OptionsPool {
 public:
  std::shared_ptr<const ProbeOptions> get(ProbeOptions&& o) {
    for (const auto& p : recent_)
      if (*p == o) return p;
    auto p = std::make_shared<const ProbeOptions>(std::move(o));
    if (recent_.size() == kRecent) recent_.erase(recent_.begin());
    recent_.push_back(p);
    return p;
  }

 private:
  static constexpr std::size_t kRecent = 16;
  std::vector<std::shared_ptr<const ProbeOptions>> recent_;
};

/// One copy of each check id of a plan (the catalog's and the extra checks' names), shared by
/// every check that has it.
class IdPool {
 public:
  const SharedText& get(std::string_view id) {
    for (const SharedText& t : ids_)
      if (t == id) return t;
    return ids_.emplace_back(id);
  }

 private:
  std::deque<SharedText> ids_;  // few: the catalog's rows and the extra checks' names
};

}  // namespace

unsigned shard_of(std::string_view target_name, unsigned count) {
  if (count <= 1) return 0;
  std::uint64_t key = 1469598103934665603ull;  // FNV-1a of the name
  for (unsigned char c : target_name) {
    key ^= c;
    key *= 1099511628211ull;
  }
  // Jump consistent hash (Lamping and Veach, 2014).
  std::int64_t bucket = -1, next = 0;
  while (next < static_cast<std::int64_t>(count)) {
    bucket = next;
    key = key * 2862933555777941757ull + 1;
    next = static_cast<std::int64_t>(
        static_cast<double>(bucket + 1) *
        (static_cast<double>(1ll << 31) / static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<unsigned>(bucket);
}

std::optional<Shard> parse_shard(std::string_view text, std::string* error) {
  auto slash = text.find('/');
  auto number = [](std::string_view s, unsigned* out) {
    if (s.empty() || s.size() > 6) return false;
    unsigned v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    *out = v;
    return true;
  };
  unsigned i = 0, n = 0;
  if (slash == std::string_view::npos || !number(text.substr(0, slash), &i) ||
      !number(text.substr(slash + 1), &n)) {
    *error = "\"" + std::string(text) + "\" is not i/n, like \"0/3\" (shards are numbered from 0)";
    return std::nullopt;
  }
  if (n < 1 || n > 1024) {
    *error = "the number of shards must be in 1..1024, not " + std::to_string(n);
    return std::nullopt;
  }
  if (i >= n) {
    *error = "shard " + std::to_string(i) + " does not exist with " + std::to_string(n) +
             " shards: they are numbered 0.." + std::to_string(n - 1);
    return std::nullopt;
  }
  return Shard{i, n};
}

Plan expand_plan(const Config& config, std::span<const DiscoveredPick> more) {
  Plan plan;
  plan.daemon = config.daemon;
  plan.web = config.web;
  plan.probe = config.probe;
  plan.metrics = config.metrics;
  const unsigned shards = config.daemon.shard_count;
  auto in_shard = [&](const TargetConfig& target) {
    return shards <= 1 || shard_of(target.name, shards) == config.daemon.shard_index;
  };
  // Sized exactly first: at 100 000 targets a vector grown by doubling, then fitted, would hold
  // up to three times the checks for a moment.
  std::size_t targets = 0, checks = 0;
  auto count = [&](const TargetConfig& target) {
    if (!in_shard(target)) return;
    ++targets;
    for (const CatalogEntry& row : catalog()) checks += row_applies(row, target) ? 1 : 0;
    checks += target.checks.size();
  };
  // A discovered target is planned as the TargetConfig it stands for, made in one scratch
  // object in turn (its name, address and labels only for the second pass).
  TargetConfig scratch;
  for (const TargetConfig& target : config.targets) count(target);
  for (const DiscoveredPick& pick : more) {
    scratch.name = pick.target->name;  // the shard of a target follows its name
    scratch.role = pick.target->role;
    scratch.features = pick.features;
    count(scratch);
  }
  plan.targets.reserve(targets);
  plan.checks.reserve(checks);
  OptionsPool pool;
  IdPool ids;
  auto add = [&](const TargetConfig& target) {
    if (!in_shard(target)) return;
    const auto target_index = static_cast<std::uint32_t>(plan.targets.size());
    const PlannedTarget& planned = plan.targets.emplace_back(
        PlannedTarget{target.name, target.role, SharedText(target.address), target.labels});
    const Duration target_interval = target.interval.value_or(config.daemon.interval);
    const Duration target_timeout =
        effective_timeout(config.daemon, target.timeout, target_interval);

    for (const CatalogEntry& row : catalog()) {
      if (!row_applies(row, target)) continue;
      CheckSpec spec;
      spec.target_index = target_index;
      spec.check = ids.get(row.id);
      spec.address = planned.address;
      spec.port = row_port(row, target);
      spec.transport = row.transport;
      spec.interval = target_interval;
      spec.timeout = target_timeout;
      ProbeOptions o;
      if (!row.http_path.empty()) o.http_path = std::string(row.http_path);
      if (row.id == "metrics_https" && !target.metrics_path.empty()) {
        o.http_path = target.metrics_path;
      }
      o.expect_metrics = row.expects_metrics;
      o.udp_payload = target.udp_payload;
      o.tls = target.tls;
      o.tls_full_handshake_interval = config.daemon.tls_full_handshake_interval;
      spec.share_options(pool.get(std::move(o)));
      plan.checks.push_back(std::move(spec));
    }

    for (const ExtraCheckConfig& extra : target.checks) {
      CheckSpec spec;
      spec.target_index = target_index;
      spec.check = ids.get(extra.name);
      spec.address = planned.address;
      spec.port = extra.port;
      spec.transport = extra.transport;
      spec.interval = extra.interval.value_or(target_interval);
      spec.timeout = effective_timeout(
          config.daemon, extra.timeout ? extra.timeout : target.timeout, spec.interval);
      ProbeOptions o;
      o.http_path = extra.path.empty() ? std::string("/") : extra.path;
      if (extra.statuses) o.statuses = *extra.statuses;
      o.expect_metrics = extra.expect_metrics;
      o.udp_payload = extra.payload.empty() ? target.udp_payload : extra.payload;
      o.tls = target.tls;
      o.tls_full_handshake_interval = config.daemon.tls_full_handshake_interval;
      spec.share_options(pool.get(std::move(o)));
      plan.checks.push_back(std::move(spec));
    }
  };
  for (const TargetConfig& target : config.targets) add(target);
  for (const DiscoveredPick& pick : more) {
    scratch.name = pick.target->name;
    scratch.role = pick.target->role;
    scratch.features = pick.features;
    scratch.address = pick.target->address;
    scratch.labels = pick.target->labels;
    add(scratch);
  }
  return plan;
}

}  // namespace kscprobe
