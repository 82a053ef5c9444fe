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
  // The server's instance statistics. One family per attribute KSC documents
  // (kscprobe_ksc_heartbeats_total, kscprobe_ksc_sync_queue_size, ...) rather than one family
  // per kind with a `name` label: the figures mean different things (heartbeats and bytes do
  // not add up), Prometheus's conventions ask for one metric per meaning, and only a family of
  // its own can carry the figure's help text and type. What the table does not know (a newer
  // server's attributes) still goes out as before, kscprobe_ksc_statistic{name}, with `record`
  // for a value of a nested record, so nothing a newer server adds is lost.
  for (const ksc::StatisticInfo& info : ksc::known_statistics()) {
    FamilyWriter w(out, info.metric, info.help,
                   info.kind == ksc::StatisticKind::counter ? "counter" : "gauge");
    for (const auto& s : statuses)
      for (const ksc::Statistic& st : s.statistics)
        if (st.info == &info) w.sample(server(s), {}, st.value);
  }
  {
    FamilyWriter w(out, "kscprobe_ksc_statistic",
                   "A value of the KSC Administration Server's OpenAPI instance statistics "
                   "(HostGroup.GetInstanceStatistics) that kscprobe has no metric of its own for "
                   "(the known ones are kscprobe_ksc_*), by attribute name, and `record` for a "
                   "value of a nested record; bools as 0/1, datetimes as Unix time. Read at the "
                   "last discovery; absent when that discovery failed.",
                   "gauge");
    std::string extra;
    for (const auto& s : statuses) {
      std::string labels = server(s);
      for (const ksc::Statistic& st : s.statistics) {
        if (st.info) continue;
        extra = label("name", st.name);
        if (!st.record.empty()) append_label(extra, "record", st.record);
        w.sample(labels, extra, st.value);
      }
    }
  }
}

}  // namespace kscprobe::exposition
