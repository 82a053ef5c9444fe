#pragma once
// The one list of the families kscprobe writes: each family's name, type and HELP text, used by
// every writer (/metrics, the discovery and self-metrics, /probe), and against which the
// README's metric tables are checked (tests/unit/exposition/metric_families_test.cpp). The
// instance statistics of a KSC server have a table of their own, ksc::known_statistics().
#include <cstdint>
#include <span>
#include <string_view>

namespace kscprobe::exposition {

struct MetricFamily {
  std::string_view name;
  std::string_view type;  // gauge, counter or histogram
  std::string_view help;
};

/// kscprobe's own families, in the order they are written.
enum class Metric : std::uint8_t {
  // Per check (metrics_renderer).
  probe_success,
  probe_failure_info,
  probe_duration_seconds,
  probe_phase_seconds,
  probes_total,
  probe_failures_total,
  probe_consecutive_failures,
  last_success_timestamp_seconds,
  tls_cert_not_after_timestamp_seconds,
  tls_info,
  probe_http_status_code,
  probe_udp_reply,
  probe_latency_seconds,
  aggregate_checks,
  // Per discovered target, the server's view (metrics_renderer).
  ksc_agent_last_connected_timestamp_seconds,
  ksc_host_last_visible_timestamp_seconds,
  ksc_agent_running,
  agent_diagnosis,
  // The plan and the scheduler (metrics_renderer).
  checks,
  targets,
  shard_info,
  probes_in_flight,
  probes_queued,
  scheduler_oldest_wait_seconds,
  scheduler_overdue_checks,
  scheduler_lag_seconds,
  scheduler_skipped_total,
  metrics_render_cpu_seconds,
  metrics_render_bytes,
  // The daemon itself (self_metrics).
  build_info,
  config_last_reload_successful,
  config_last_reload_success_timestamp_seconds,
  // Discovery from KSC, per server (discovery_metrics).
  discovery_success,
  discovery_duration_seconds,
  discovery_failure_info,
  discovery_stale,
  discovery_last_success_timestamp_seconds,
  discovery_targets,
  discovery_skipped_hosts,
  ksc_statistic,
  // The host's limits and the name resolver (self_metrics).
  local_errors_total,
  local_errors_active,
  open_files_limit,
  probe_budget_clamped,
  probe_budget,
  resolver_lookups_total,
  resolver_queries_in_flight,
  resolver_queued,
};

/// blackbox_exporter's families, as /probe writes them.
enum class BlackboxMetric : std::uint8_t {
  probe_success,
  probe_duration_seconds,
  probe_dns_lookup_time_seconds,
  probe_http_duration_seconds,
  probe_icmp_duration_seconds,
  probe_http_status_code,
  probe_ssl_earliest_cert_expiry,
  probe_tls_version_info,
  probe_ssl_last_chain_info,
  probe_failure_info,
  probe_local_error_info,
};

const MetricFamily& family(Metric m);
const MetricFamily& family(BlackboxMetric m);

/// Every family of each enum, in its order.
std::span<const MetricFamily> metric_families();
std::span<const MetricFamily> blackbox_families();

}  // namespace kscprobe::exposition
