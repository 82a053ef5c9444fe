#include "config/plan.hpp"

#include <algorithm>

namespace kscprobe {

std::string CheckSpec::key(const PlannedTarget& t) const { return t.name + "/" + check; }

bool CheckSpec::same_settings(const CheckSpec& o) const {
  return check == o.check && address == o.address && port == o.port && transport == o.transport &&
         interval == o.interval && timeout == o.timeout && http_path == o.http_path &&
         statuses == o.statuses && expect_metrics == o.expect_metrics &&
         udp_payload == o.udp_payload && tls == o.tls;
}

namespace {

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

}  // namespace

Plan expand_plan(const Config& config) {
  Plan plan;
  plan.daemon = config.daemon;
  plan.web = config.web;
  plan.probe = config.probe;
  for (const TargetConfig& target : config.targets) {
    const auto target_index = static_cast<std::uint32_t>(plan.targets.size());
    plan.targets.push_back(PlannedTarget{target.name, target.role, target.address, target.labels});
    const Duration target_interval = target.interval.value_or(config.daemon.interval);
    const Duration target_timeout = target.timeout.value_or(config.daemon.timeout);

    for (const CatalogEntry& row : catalog()) {
      if (!row_applies(row, target)) continue;
      CheckSpec spec;
      spec.target_index = target_index;
      spec.check = std::string(row.id);
      spec.address = target.address;
      spec.port = row_port(row, target);
      spec.transport = row.transport;
      spec.interval = target_interval;
      spec.timeout = target_timeout;
      if (!row.http_path.empty()) spec.http_path = std::string(row.http_path);
      if (row.id == "metrics_https" && !target.metrics_path.empty()) {
        spec.http_path = target.metrics_path;
      }
      spec.expect_metrics = row.expects_metrics;
      spec.udp_payload = target.udp_payload;
      spec.tls = target.tls;
      plan.checks.push_back(std::move(spec));
    }

    for (const ExtraCheckConfig& extra : target.checks) {
      CheckSpec spec;
      spec.target_index = target_index;
      spec.check = extra.name;
      spec.address = target.address;
      spec.port = extra.port;
      spec.transport = extra.transport;
      spec.interval = extra.interval.value_or(target_interval);
      spec.timeout = extra.timeout.value_or(target_timeout);
      spec.http_path = extra.path.empty() ? std::string("/") : extra.path;
      if (extra.statuses) spec.statuses = *extra.statuses;
      spec.expect_metrics = extra.expect_metrics;
      spec.udp_payload = extra.payload.empty() ? target.udp_payload : extra.payload;
      spec.tls = target.tls;
      plan.checks.push_back(std::move(spec));
    }
  }
  return plan;
}

}  // namespace kscprobe
