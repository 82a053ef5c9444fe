#include "daemon/exposition/discovery_metrics.hpp"

#include "daemon/exposition/text_writer.hpp"

namespace kscprobe::exposition {

void write_discovery_metrics(std::string& out, std::span<const ksc::DiscoveryStatus> statuses) {
  auto server = [](const ksc::DiscoveryStatus& s) { return label("ksc_server", s.name); };
  {
    FamilyWriter w(out, family(Metric::discovery_success));
    for (const auto& s : statuses)
      if (s.ran) w.sample(server(s), {}, s.success ? 1 : 0);
  }
  {
    FamilyWriter w(out, family(Metric::discovery_duration_seconds));
    for (const auto& s : statuses)
      if (s.ran) w.sample(server(s), {}, s.duration_seconds);
  }
  {
    FamilyWriter w(out, family(Metric::discovery_failure_info));
    for (const auto& s : statuses)
      if (s.ran && !s.success)
        w.sample(server(s), label("reason", s.error_kind.empty() ? "unknown" : s.error_kind), 1);
  }
  {
    FamilyWriter w(out, family(Metric::discovery_stale));
    for (const auto& s : statuses)
      if (s.ran) w.sample(server(s), {}, s.stale ? 1 : 0);
  }
  {
    FamilyWriter w(out, family(Metric::discovery_last_success_timestamp_seconds));
    for (const auto& s : statuses)
      if (s.last_success_unix) w.sample(server(s), {}, *s.last_success_unix);
  }
  {
    FamilyWriter w(out, family(Metric::discovery_targets));
    for (const auto& s : statuses) {
      std::string labels = server(s);
      for (const auto& [role, count] : s.targets_by_role)
        w.sample(labels, label("role", to_string(role)), count);
    }
  }
  {
    FamilyWriter w(out, family(Metric::discovery_skipped_hosts));
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
    FamilyWriter w(out, family(Metric::ksc_statistic));
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
