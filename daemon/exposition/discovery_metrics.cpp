#include "daemon/exposition/discovery_metrics.hpp"

#include "daemon/exposition/text_writer.hpp"

namespace kscprobe::exposition {

void write_discovery_metrics(std::string& out, std::span<const ksc::DiscoveryStatus> statuses) {
  auto server = [](const ksc::DiscoveryStatus& s) { return label("ksc_server", s.name); };
  {
    FamilyWriter w(out, "kscprobe_discovery_success",
                   "Whether the last discovery of managed devices from this KSC Administration "
                   "Server (OpenAPI) succeeded (1) or failed (0). After a failure the devices of "
                   "the last successful discovery are still probed.",
                   "gauge");
    for (const auto& s : statuses)
      if (s.ran) w.sample(server(s), {}, s.success ? 1 : 0);
  }
  {
    FamilyWriter w(out, "kscprobe_discovery_duration_seconds",
                   "How long the last discovery from this KSC Administration Server took "
                   "(login, device list, groups, distribution points, statistics), failed or not.",
                   "gauge");
    for (const auto& s : statuses)
      if (s.ran) w.sample(server(s), {}, s.duration_seconds);
  }
  {
    FamilyWriter w(out, "kscprobe_discovery_failure_info",
                   "Present (1) while the last discovery from this KSC Administration Server "
                   "failed, with why: config, password (its file or variable cannot be read), "
                   "resolve, connect, tls (handshake or certificate), timeout, closed, "
                   "unauthorized (login refused), http_status, pxg (an OpenAPI error), "
                   "malformed, too_large.",
                   "gauge");
    for (const auto& s : statuses)
      if (s.ran && !s.success)
        w.sample(server(s), label("reason", s.error_kind.empty() ? "unknown" : s.error_kind), 1);
  }
  {
    FamilyWriter w(out, "kscprobe_discovery_stale",
                   "Whether the devices in use from this KSC Administration Server come from a "
                   "discovery older than the section's stale_after (1): they may no longer match "
                   "the estate, and kscprobe_agent_diagnosis is suspended for them. 0 otherwise.",
                   "gauge");
    for (const auto& s : statuses)
      if (s.ran) w.sample(server(s), {}, s.stale ? 1 : 0);
  }
  {
    FamilyWriter w(out, "kscprobe_discovery_last_success_timestamp_seconds",
                   "When the last successful discovery from this KSC Administration Server ended "
                   "(Unix time). Absent until one succeeds.",
                   "gauge");
    for (const auto& s : statuses)
      if (s.last_success_unix) w.sample(server(s), {}, *s.last_success_unix);
  }
  {
    FamilyWriter w(out, "kscprobe_discovery_targets",
                   "Targets probed because this KSC Administration Server manages them, by role "
                   "(agent: a device with Network Agent; distribution_point: an update agent), "
                   "as of its last successful discovery.",
                   "gauge");
    for (const auto& s : statuses) {
      std::string labels = server(s);
      for (const auto& [role, count] : s.targets_by_role)
        w.sample(labels, label("role", to_string(role)), count);
    }
  }
  {
    FamilyWriter w(out, "kscprobe_discovery_skipped_hosts",
                   "Devices this KSC Administration Server lists that are not probed, by reason "
                   "(no_address: no IP address, FQDN or DNS name; duplicate_name; no_id; "
                   "not_a_record; over_limit: past the device limit), as of its last successful "
                   "discovery.",
                   "gauge");
    for (const auto& s : statuses) {
      std::string labels = server(s);
      for (const auto& [reason, count] : s.skipped)
        w.sample(labels, label("reason", reason), count);
    }
  }
  {
    FamilyWriter w(out, "kscprobe_ksc_statistic",
                   "A figure of the KSC Administration Server's instance statistics "
                   "(HostGroup.GetInstanceStatistics, e.g. KLSRV_ST_ALL_CONS_CNT: connections; "
                   "the values its metrics publisher on port 13296 reports), read at the last "
                   "discovery. Absent when that discovery failed.",
                   "gauge");
    for (const auto& s : statuses) {
      std::string labels = server(s);
      for (const auto& [name, value] : s.statistics) w.sample(labels, label("name", name), value);
    }
  }
}

}  // namespace kscprobe::exposition
