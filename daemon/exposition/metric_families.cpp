#include "daemon/exposition/metric_families.hpp"

#include <array>
#include <cstddef>

namespace kscprobe::exposition {

namespace {

template <class Id>
struct Row {
  Id id;
  MetricFamily family;
};

// clang-format off
constexpr Row<Metric> kMetrics[] = {
    {Metric::probe_success, {"kscprobe_probe_success", "gauge",
     "1 if the last probe of the check succeeded (UDP: 1 unless refused)."}},
    {Metric::probe_failure_info, {"kscprobe_probe_failure_info", "gauge",
     "1 while the last probe of the check failed, with the reason of that failure."}},
    {Metric::probe_duration_seconds, {"kscprobe_probe_duration_seconds", "gauge",
     "Duration of the last probe of the check."}},
    {Metric::probe_phase_seconds, {"kscprobe_probe_phase_seconds", "gauge",
     "Duration of each phase of the last probe of the check."}},
    {Metric::probes_total, {"kscprobe_probes_total", "counter",
     "Probes run, per check (full detail) or per aggregate group."}},
    {Metric::probe_failures_total, {"kscprobe_probe_failures_total", "counter",
     "Failed probes by reason, per check (full detail) or per aggregate group."}},
    {Metric::probe_consecutive_failures, {"kscprobe_probe_consecutive_failures", "gauge",
     "Failed probes of the check since its last success."}},
    {Metric::last_success_timestamp_seconds, {"kscprobe_last_success_timestamp_seconds", "gauge",
     "Unix time of the check's last successful probe (0: never)."}},
    {Metric::tls_cert_not_after_timestamp_seconds,
     {"kscprobe_tls_cert_not_after_timestamp_seconds", "gauge",
      "Unix time at which the peer's leaf certificate expires."}},
    {Metric::tls_info, {"kscprobe_tls_info", "gauge",
     "TLS version and leaf certificate seen on the last handshake."}},
    {Metric::probe_http_status_code, {"kscprobe_probe_http_status_code", "gauge",
     "HTTP status code of the last probe (0: no response)."}},
    {Metric::probe_udp_reply, {"kscprobe_probe_udp_reply", "gauge",
     "1 if the UDP port answered (confirmed open); 0 if silent (open or filtered) or "
     "refused."}},
    {Metric::probe_latency_seconds, {"kscprobe_probe_latency_seconds", "histogram",
     "Duration of successful probes, per role and check (all targets)."}},
    {Metric::aggregate_checks, {"kscprobe_aggregate_checks", "gauge",
     "Checks per role, check, transport and aggregate label set, by the outcome of "
     "their last probe: up, unknown (not probed yet), or the failure reason."}},
    {Metric::ksc_agent_last_connected_timestamp_seconds,
     {"kscprobe_ksc_agent_last_connected_timestamp_seconds", "gauge",
      "When the device's Network Agent last connected to its KSC Administration Server "
      "(Unix time, KLHST_WKS_LAST_NAGENT_CONNECTED), as of the last discovery. Absent "
      "when KSC has none."}},
    {Metric::ksc_host_last_visible_timestamp_seconds,
     {"kscprobe_ksc_host_last_visible_timestamp_seconds", "gauge",
      "When KSC last saw the device on the network (Unix time, KLHST_WKS_LAST_VISIBLE), "
      "as of the last discovery. Absent when KSC has none."}},
    {Metric::ksc_agent_running, {"kscprobe_ksc_agent_running", "gauge",
     "1 if KSC reports the device's Network Agent as running (KLHST_WKS_STATUS bit "
     "0x8), as of the last discovery."}},
    {Metric::agent_diagnosis, {"kscprobe_agent_diagnosis", "gauge",
     "1 for a device whose Network Agent has not connected to KSC within the "
     "section's stale_after, with what the probes say of it: agent_stopped (the "
     "device answers, the agent's ports are refused), agent_cannot_reach_server (the "
     "device answers), device_offline (nothing answers), unknown (not probed yet, or "
     "no evidence either way)."}},
    {Metric::checks, {"kscprobe_checks", "gauge", "Checks in the running plan, per role."}},
    {Metric::targets, {"kscprobe_targets", "gauge", "Targets in the running plan."}},
    {Metric::shard_info, {"kscprobe_shard_info", "gauge",
     "This instance probes the targets of shard `shard` of `shards` ([daemon] shard, "
     "--shard)."}},
    {Metric::probes_in_flight, {"kscprobe_probes_in_flight", "gauge",
     "Probes running now, per budget lane."}},
    {Metric::probes_queued, {"kscprobe_probes_queued", "gauge",
     "Due probes waiting for a slot of their lane's in-flight budget."}},
    {Metric::scheduler_oldest_wait_seconds, {"kscprobe_scheduler_oldest_wait_seconds", "gauge",
     "How long the longest-waiting due probe of each lane has waited for a slot so "
     "far (0: none waits)."}},
    {Metric::scheduler_overdue_checks, {"kscprobe_scheduler_overdue_checks", "gauge",
     "Checks waiting for a slot for at least their own interval: a round missed."}},
    {Metric::scheduler_lag_seconds, {"kscprobe_scheduler_lag_seconds", "histogram",
     "Delay between a probe's due time and its start."}},
    {Metric::scheduler_skipped_total, {"kscprobe_scheduler_skipped_total", "counter",
     "Probes not started because the previous probe of the same check was still running "
     "or waiting (overruns)."}},
    {Metric::metrics_render_cpu_seconds, {"kscprobe_metrics_render_cpu_seconds", "gauge",
     "CPU time the previous /metrics render took on the event loop."}},
    {Metric::metrics_render_bytes, {"kscprobe_metrics_render_bytes", "gauge",
     "Size of the previous /metrics render, uncompressed."}},
    {Metric::build_info, {"kscprobe_build_info", "gauge",
     "A metric with a constant 1 labelled by version of kscprobe."}},
    {Metric::config_last_reload_successful, {"kscprobe_config_last_reload_successful", "gauge",
     "1 if the last configuration load succeeded."}},
    {Metric::config_last_reload_success_timestamp_seconds,
     {"kscprobe_config_last_reload_success_timestamp_seconds", "gauge",
      "Unix time of the last successful configuration load."}},
    {Metric::discovery_success, {"kscprobe_discovery_success", "gauge",
     "Whether the last discovery of managed devices from this KSC Administration "
     "Server (OpenAPI) succeeded (1) or failed (0). After a failure the devices of "
     "the last successful discovery are still probed."}},
    {Metric::discovery_duration_seconds, {"kscprobe_discovery_duration_seconds", "gauge",
     "How long the last discovery from this KSC Administration Server took "
     "(login, device list, groups, distribution points, statistics), failed or not."}},
    {Metric::discovery_failure_info, {"kscprobe_discovery_failure_info", "gauge",
     "Present (1) while the last discovery from this KSC Administration Server "
     "failed, with why: config, password (its file or variable cannot be read), "
     "resolve, connect, tls (handshake or certificate), timeout, closed, "
     "unauthorized (login refused), http_status, pxg (an OpenAPI error), "
     "malformed, too_large."}},
    {Metric::discovery_stale, {"kscprobe_discovery_stale", "gauge",
     "Whether the devices in use from this KSC Administration Server come from a "
     "discovery older than the section's stale_after (1): they may no longer match "
     "the estate, and kscprobe_agent_diagnosis is suspended for them. 0 otherwise."}},
    {Metric::discovery_last_success_timestamp_seconds,
     {"kscprobe_discovery_last_success_timestamp_seconds", "gauge",
      "When the last successful discovery from this KSC Administration Server ended "
      "(Unix time). Absent until one succeeds."}},
    {Metric::discovery_targets, {"kscprobe_discovery_targets", "gauge",
     "Targets probed because this KSC Administration Server manages them, by role "
     "(agent: a device with Network Agent; distribution_point: an update agent), "
     "as of its last successful discovery."}},
    {Metric::discovery_skipped_hosts, {"kscprobe_discovery_skipped_hosts", "gauge",
     "Devices this KSC Administration Server lists that are not probed, by reason "
     "(no_address: no IP address, FQDN or DNS name; duplicate_name; no_id; "
     "not_a_record; over_limit: past the device limit), as of its last successful "
     "discovery."}},
    {Metric::ksc_statistic, {"kscprobe_ksc_statistic", "gauge",
     "A value of the KSC Administration Server's OpenAPI instance statistics "
     "(HostGroup.GetInstanceStatistics) that kscprobe has no metric of its own for "
     "(the known ones are kscprobe_ksc_*), by attribute name, and `record` for a "
     "value of a nested record; bools as 0/1, datetimes as Unix time. Read at the "
     "last discovery; absent when that discovery failed."}},
    {Metric::local_errors_total, {"kscprobe_local_errors_total", "counter",
     "Probes that failed on this host (out of descriptors, local ports, buffers, "
     "memory, or no right to an ICMP socket) and say nothing of their target."}},
    {Metric::local_errors_active, {"kscprobe_local_errors_active", "gauge",
     "1 while probes fail on this host (one within the last minute): /-/ready "
     "answers 503."}},
    {Metric::open_files_limit, {"kscprobe_open_files_limit", "gauge",
     "The open-file limit the in-flight budgets are fitted to (0: none)."}},
    {Metric::probe_budget_clamped, {"kscprobe_probe_budget_clamped", "gauge",
     "1 when the plan's in-flight budgets were lowered to fit the open-file limit."}},
    {Metric::probe_budget, {"kscprobe_probe_budget", "gauge",
     "Probes allowed in flight at once, per budget lane, as in force."}},
    {Metric::resolver_lookups_total, {"kscprobe_resolver_lookups_total", "counter",
     "Host-name lookups by how they were answered: cache (an answer or failure "
     "still within its TTL), joined (a query for the same name already running), "
     "query (asked of the DNS servers), queue_full (refused: a local fault)."}},
    {Metric::resolver_queries_in_flight, {"kscprobe_resolver_queries_in_flight", "gauge",
     "Host-name queries in progress now."}},
    {Metric::resolver_queued, {"kscprobe_resolver_queued", "gauge",
     "Host names waiting for a query slot now."}},
};

constexpr Row<BlackboxMetric> kBlackbox[] = {
    {BlackboxMetric::probe_success, {"probe_success", "gauge",
     "Whether the probe of the check succeeded."}},
    {BlackboxMetric::probe_duration_seconds, {"probe_duration_seconds", "gauge",
     "How long the probe took."}},
    {BlackboxMetric::probe_dns_lookup_time_seconds, {"probe_dns_lookup_time_seconds", "gauge",
     "How long the DNS lookup took."}},
    {BlackboxMetric::probe_http_duration_seconds, {"probe_http_duration_seconds", "gauge",
     "Duration of each phase of the probe (resolve, connect, tls, processing)."}},
    {BlackboxMetric::probe_icmp_duration_seconds, {"probe_icmp_duration_seconds", "gauge",
     "Duration of each phase of the ICMP echo (resolve, rtt)."}},
    {BlackboxMetric::probe_http_status_code, {"probe_http_status_code", "gauge",
     "HTTP status code of the response."}},
    {BlackboxMetric::probe_ssl_earliest_cert_expiry, {"probe_ssl_earliest_cert_expiry", "gauge",
     "Expiry of the peer's leaf certificate (unix seconds)."}},
    {BlackboxMetric::probe_tls_version_info, {"probe_tls_version_info", "gauge",
     "TLS version of the handshake."}},
    {BlackboxMetric::probe_ssl_last_chain_info, {"probe_ssl_last_chain_info", "gauge",
     "Leaf certificate of the handshake."}},
    {BlackboxMetric::probe_failure_info, {"probe_failure_info", "gauge",
     "Why the probe of the check failed."}},
    {BlackboxMetric::probe_local_error_info, {"probe_local_error_info", "gauge",
     "The probe failed on this host (no verdict on the target), and why."}},
};
// clang-format on

/// The families of a table, checked at compile time to be in the order of their enum (so
/// family(id) is an index) and to cover it to its last value.
template <class Id, std::size_t N>
constexpr std::array<MetricFamily, N> in_enum_order(const Row<Id> (&rows)[N], Id last) {
  if (static_cast<std::size_t>(last) + 1 != N) throw "a family is missing from the table";
  std::array<MetricFamily, N> families{};
  for (std::size_t i = 0; i < N; ++i) {
    if (static_cast<std::size_t>(rows[i].id) != i) throw "the table is not in enum order";
    families[i] = rows[i].family;
  }
  return families;
}

constexpr auto kMetricFamilies = in_enum_order(kMetrics, Metric::resolver_queued);
constexpr auto kBlackboxFamilies = in_enum_order(kBlackbox, BlackboxMetric::probe_local_error_info);

}  // namespace

const MetricFamily& family(Metric m) { return kMetricFamilies[static_cast<std::size_t>(m)]; }
const MetricFamily& family(BlackboxMetric m) {
  return kBlackboxFamilies[static_cast<std::size_t>(m)];
}

std::span<const MetricFamily> metric_families() { return kMetricFamilies; }
std::span<const MetricFamily> blackbox_families() { return kBlackboxFamilies; }

}  // namespace kscprobe::exposition
