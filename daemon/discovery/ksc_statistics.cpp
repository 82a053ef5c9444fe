#include "daemon/discovery/ksc_statistics.hpp"

#include <algorithm>
#include <array>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include "daemon/discovery/ksc_json.hpp"

namespace kscprobe::ksc {

namespace json = boost::json;

namespace {

using K = StatisticKind;

// Every help text ends the same way: what the figure is, and that it is read at each discovery.
#define KSC_ST(text) text " (KSC OpenAPI instance statistics, read at each discovery)."
#define KSC_LIKELY(series) " Likely corresponds to the metrics publisher's " series " (port 13296)."

// The attributes of HostGroup.GetInstanceStatistics that KSC documents, with what the reference
// says each one means:
// - names, descriptions and types: KSC Open API, "List of Server statistics attributes"
//   (https://support.kaspersky.com/help/KSC/16/KSCAPI/a00336.html), and the comments of the
//   KLSRV_ST_* constants in Kaspersky's server constants header;
// - which values come wrapped ({"type": "long" | "double" | "datetime", ...}) and the nested
//   records (KLSRV_ST_CON_EVENTS, KLASYNCACT_COUNTERS): the answer as a public client reads it,
//   pixfid/go-ksc kaspersky/HostGroup.go (ServerInstanceStatistics);
// - the publisher's series whose description matches: "Metrics of Kaspersky Security Center"
//   (https://support.kaspersky.com/ksc/15.1/en-US/177080.htm). A match of descriptions, not a
//   documented identity.
// Kinds: what the reference describes as received, processed, sent or accepted (since the
// server started) is a counter; what is "just now", a queue, a percentage, a count of hosts or of
// connections (open now; the old figure read them so) is a gauge. The members of
// KLSRV_ST_CON_EVENTS and KLASYNCACT_COUNTERS and the CPU figures have no description in the
// reference: their help says so, and only those whose name says they count what happened (lost,
// retried, finalized, violations) are counters.
constexpr std::array kKnown = {
    StatisticInfo{"", "KLSRV_ST_ALL_CONS_CNT", K::gauge, "kscprobe_ksc_connections",
                  KSC_ST("Number of all connections of the Administration Server, "
                         "KLSRV_ST_ALL_CONS_CNT")
                      KSC_LIKELY("ksc_Transport__Number_of_all_connections")},
    StatisticInfo{"", "KLSRV_ST_NAG_CONS_CNT", K::gauge, "kscprobe_ksc_agent_connections",
                  KSC_ST("Number of all Network Agent connections, KLSRV_ST_NAG_CONS_CNT")
                      KSC_LIKELY("ksc_Transport__Number_of_all_nagent_connection")},
    StatisticInfo{"", "KLSRV_ST_CTLNGT_CONS_CNT", K::gauge,
                  "kscprobe_ksc_controlled_agent_connections",
                  KSC_ST("Number of controlled Network Agent connections, KLSRV_ST_CTLNGT_CONS_CNT")
                      KSC_LIKELY("ksc_Transport__Number_of_controlled_nagent_connections")},
    StatisticInfo{"", "KLSRV_ST_TOTAL_HOSTS_COUNT", K::gauge, "kscprobe_ksc_active_hosts",
                  KSC_ST("Total active hosts count, KLSRV_ST_TOTAL_HOSTS_COUNT")
                      KSC_LIKELY("ksc_Transport__Total_active_hosts_count")},
    StatisticInfo{"", "KLSRV_ST_VIRT_SERVER_COUNT", K::gauge, "kscprobe_ksc_virtual_servers",
                  KSC_ST("Virtual Administration Servers count, KLSRV_ST_VIRT_SERVER_COUNT")},
    StatisticInfo{"", "KLSRV_ST_KEEPCONN_HOSTS_CNT", K::gauge, "kscprobe_ksc_keep_connection_hosts",
                  KSC_ST("Number of hosts with the 'keep connection' attribute set, "
                         "KLSRV_ST_KEEPCONN_HOSTS_CNT"),
                  1, /*ask=*/false},
    StatisticInfo{"", "KLSRV_ST_PING_CNT", K::counter, "kscprobe_ksc_heartbeats_total",
                  KSC_ST("Heartbeats (pings) from Network Agents received, KLSRV_ST_PING_CNT")
                      KSC_LIKELY("ksc_Transport__Number_of_pings_processed")},
    StatisticInfo{
        "", "KLSRV_ST_PING_REJECTED_CNT", K::counter, "kscprobe_ksc_heartbeats_rejected_total",
        KSC_ST("Heartbeats received but rejected for lack of resources, "
               "KLSRV_ST_PING_REJECTED_CNT") KSC_LIKELY("ksc_Transport__Number_of_pings_rejected")},
    StatisticInfo{"", "KLSRV_ST_PING_ERROR_CNT", K::counter, "kscprobe_ksc_heartbeat_errors_total",
                  KSC_ST("Heartbeats received but not processed because of errors (typically "
                         "other than lack of resources), KLSRV_ST_PING_ERROR_CNT")
                      KSC_LIKELY("ksc_Transport__Number_of_ping_processing_errors")},
    StatisticInfo{"", "KLSRV_ST_PING_JN_CNT", K::gauge, "kscprobe_ksc_heartbeats_in_progress",
                  KSC_ST("Heartbeats being processed just now, KLSRV_ST_PING_JN_CNT")},
    StatisticInfo{"", "KLSRV_ST_SYNC_CNT", K::counter, "kscprobe_ksc_syncs_total",
                  KSC_ST("Synchronization attempts processed, KLSRV_ST_SYNC_CNT")},
    StatisticInfo{"", "KLSRV_ST_SYNC_REAL_CNT", K::counter, "kscprobe_ksc_syncs_real_total",
                  KSC_ST("Real synchronizations processed, KLSRV_ST_SYNC_REAL_CNT")},
    StatisticInfo{"", "KLSRV_ST_SYNC_SUC_CNT", K::counter, "kscprobe_ksc_syncs_successful_total",
                  KSC_ST("Successful synchronization attempts, KLSRV_ST_SYNC_SUC_CNT")},
    StatisticInfo{"", "KLSRV_ST_SYNC_JN_CNT", K::gauge, "kscprobe_ksc_syncs_in_progress",
                  KSC_ST("Synchronizations being processed just now, KLSRV_ST_SYNC_JN_CNT")},
    StatisticInfo{"", "KLSRV_ST_SYNC_QUEUE_SIZE", K::gauge, "kscprobe_ksc_sync_queue_size",
                  KSC_ST("Hosts in the synchronization queue, KLSRV_ST_SYNC_QUEUE_SIZE")},
    StatisticInfo{"", "KLSRV_ST_EVENTS_CNT", K::counter, "kscprobe_ksc_events_total",
                  KSC_ST("Events received, KLSRV_ST_EVENTS_CNT")},
    StatisticInfo{"", "KLSRV_ST_EVENTS_REJECTED_CNT", K::counter,
                  "kscprobe_ksc_events_rejected_total",
                  KSC_ST("Events received but rejected, KLSRV_ST_EVENTS_REJECTED_CNT")},
    StatisticInfo{"", "KLSRV_ST_EVENTS_ERROR_CNT", K::counter, "kscprobe_ksc_event_errors_total",
                  KSC_ST("Events received but not processed because of errors, "
                         "KLSRV_ST_EVENTS_ERROR_CNT")},
    StatisticInfo{"", "KLSRV_ST_EVENTS_JN_CNT", K::gauge, "kscprobe_ksc_events_in_progress",
                  KSC_ST("Events being processed just now, KLSRV_ST_EVENTS_JN_CNT")},
    StatisticInfo{"", "KLSRV_ST_EVENTBULKS_CNT", K::counter, "kscprobe_ksc_event_bulks_total",
                  KSC_ST("Event bulks received, KLSRV_ST_EVENTBULKS_CNT")},
    StatisticInfo{"", "KLSRV_ST_EVENTBULKS_REJECTED_CNT", K::counter,
                  "kscprobe_ksc_event_bulks_rejected_total",
                  KSC_ST("Event bulks received but rejected, KLSRV_ST_EVENTBULKS_REJECTED_CNT")},
    StatisticInfo{"", "KLSRV_ST_EVENTBULKS_ERROR_CNT", K::counter,
                  "kscprobe_ksc_event_bulk_errors_total",
                  KSC_ST("Event bulks received but not processed because of errors, "
                         "KLSRV_ST_EVENTBULKS_ERROR_CNT")},
    StatisticInfo{"", "KLSRV_ST_EVENTBULKS_JN_CNT", K::gauge,
                  "kscprobe_ksc_event_bulks_in_progress",
                  KSC_ST("Event bulks being processed just now, KLSRV_ST_EVENTBULKS_JN_CNT")},
    StatisticInfo{"", "KLSRV_ST_GUI_CALLS_CNT", K::counter, "kscprobe_ksc_gui_calls_total",
                  KSC_ST("Calls from consoles (GUI) processed, KLSRV_ST_GUI_CALLS_CNT")},
    StatisticInfo{"", "KLSRV_ST_NETWORK_SCANNED", K::gauge, "kscprobe_ksc_network_scanned",
                  KSC_ST("1 if the network was successfully scanned at least once, else 0, "
                         "KLSRV_ST_NETWORK_SCANNED")},
    StatisticInfo{"", "KLSRV_ST_NETWORK_SCAN_PERCENT", K::gauge, "kscprobe_ksc_fast_scan_percent",
                  KSC_ST("Completion of the network fast scan task, in percent, "
                         "KLSRV_ST_NETWORK_SCAN_PERCENT")},
    StatisticInfo{"", "KLSRV_ST_FULL_SCAN_PERCENT", K::gauge, "kscprobe_ksc_full_scan_percent",
                  KSC_ST("Completion of the network full scan task, in percent, "
                         "KLSRV_ST_FULL_SCAN_PERCENT")},
    StatisticInfo{"", "KLSRV_ST_DPNS_SCAN_PERCENT", K::gauge, "kscprobe_ksc_dpns_scan_percent",
                  KSC_ST("Completion of the IP range (DPNS) scan task, in percent, "
                         "KLSRV_ST_DPNS_SCAN_PERCENT")},
    StatisticInfo{"", "KLSRV_ST_AD_SCAN_PERCENT", K::gauge, "kscprobe_ksc_ad_scan_percent",
                  KSC_ST("Completion of the Active Directory scan task, in percent, "
                         "KLSRV_ST_AD_SCAN_PERCENT")},
    StatisticInfo{"", "KLSRV_ST_LAST_FULLNETSCAN_TIME", K::timestamp,
                  "kscprobe_ksc_last_full_scan_timestamp_seconds",
                  KSC_ST("When the last full network scan ran (Unix time), "
                         "KLSRV_ST_LAST_FULLNETSCAN_TIME")},
    StatisticInfo{"", "KLSRV_ST_LAST_FASTNETSCAN_TIME", K::timestamp,
                  "kscprobe_ksc_last_fast_scan_timestamp_seconds",
                  KSC_ST("When the last fast network scan ran (Unix time), "
                         "KLSRV_ST_LAST_FASTNETSCAN_TIME")},
    StatisticInfo{"", "KLSRV_ST_LAST_ADSCAN_TIME", K::timestamp,
                  "kscprobe_ksc_last_ad_scan_timestamp_seconds",
                  KSC_ST("When the last Active Directory scan ran (Unix time), "
                         "KLSRV_ST_LAST_ADSCAN_TIME")},
    StatisticInfo{"", "KLSRV_ST_LAST_DPNSSCAN_TIME", K::timestamp,
                  "kscprobe_ksc_last_dpns_scan_timestamp_seconds",
                  KSC_ST("When the last IP range (DPNS) scan ran (Unix time), "
                         "KLSRV_ST_LAST_DPNSSCAN_TIME")},
    StatisticInfo{"", "KLSRV_ST_CPU_KERNEL", K::gauge, "kscprobe_ksc_cpu_kernel",
                  KSC_ST("The Administration Server's kernel-mode CPU figure as it reports it "
                         "(a double; the reference gives no unit), KLSRV_ST_CPU_KERNEL")},
    StatisticInfo{"", "KLSRV_ST_CPU_USER", K::gauge, "kscprobe_ksc_cpu_user",
                  KSC_ST("The Administration Server's user-mode CPU figure as it reports it "
                         "(a double; the reference gives no unit), KLSRV_ST_CPU_USER")},
    StatisticInfo{"", "KLTR_ST_ACCEPTS_TOTAL", K::counter, "kscprobe_ksc_transport_accepts_total",
                  KSC_ST("Connections the server's transport accepted, KLTR_ST_ACCEPTS_TOTAL")
                      KSC_LIKELY("ksc_Transport__Number_of_TCP_connections_accepted")},
    StatisticInfo{"", "KLTR_ST_ACCEPTS_FAILED", K::counter,
                  "kscprobe_ksc_transport_accepts_failed_total",
                  KSC_ST("Connections the server's transport failed to accept, "
                         "KLTR_ST_ACCEPTS_FAILED")
                      KSC_LIKELY("ksc_Transport__Number_of_failed_TCP_connections")},
    StatisticInfo{"", "KLTR_ST_SENT_BYTES", K::counter, "kscprobe_ksc_transport_sent_bytes_total",
                  KSC_ST("Bytes the server's transport sent, KLTR_ST_SENT_BYTES")
                      KSC_LIKELY("ksc_Transport__Bytes_sent_by_TCP")},
    StatisticInfo{"", "KLTR_ST_RECEIVED_BYTES", K::counter,
                  "kscprobe_ksc_transport_received_bytes_total",
                  KSC_ST("Bytes the server's transport received, KLTR_ST_RECEIVED_BYTES")
                      KSC_LIKELY("ksc_Transport__Bytes_received_by_TCP")},
    StatisticInfo{"", "KLFTS_ST_GET_CHUNK_REQUESTS_TOTAL", K::counter,
                  "kscprobe_ksc_file_chunk_requests_total",
                  KSC_ST("File chunk requests to the server's file transfer service, "
                         "KLFTS_ST_GET_CHUNK_REQUESTS_TOTAL")
                      KSC_LIKELY("ksc_Transport__Number_of_GetNextFileChunk_requests")},
    StatisticInfo{"", "KLFTS_ST_GET_CHUNK_REQUESTS_REJECTED", K::counter,
                  "kscprobe_ksc_file_chunk_requests_rejected_total",
                  KSC_ST("File chunk requests the file transfer service rejected, "
                         "KLFTS_ST_GET_CHUNK_REQUESTS_REJECTED")
                      KSC_LIKELY("ksc_Transport__Number_of_GetNextFileChunk_rejected")},
    StatisticInfo{"", "KLFTS_ST_TRANSMITTED_SIZE", K::counter,
                  "kscprobe_ksc_file_transmitted_bytes_total",
                  KSC_ST("Bytes the file transfer service transmitted, KLFTS_ST_TRANSMITTED_SIZE")
                      KSC_LIKELY("ksc_Transport__Bytes_transmitted_through_GetNextFileChunk")},
    // KLSRV_ST_CON_EVENTS: "Container with ConEvents statistics" (event subscriptions of
    // connected clients); the reference describes the members by their names only.
    StatisticInfo{"KLSRV_ST_CON_EVENTS", "KLSRV_ST_CON_EV_SESSION_COUNT", K::gauge,
                  "kscprobe_ksc_con_events_sessions",
                  KSC_ST("Sessions of the event subscription service, KLSRV_ST_CON_EVENTS/"
                         "KLSRV_ST_CON_EV_SESSION_COUNT; described by its name only")},
    StatisticInfo{"KLSRV_ST_CON_EVENTS", "KLSRV_ST_CON_EV_SUBS_COUNT", K::gauge,
                  "kscprobe_ksc_con_events_subscriptions",
                  KSC_ST("Event subscriptions, KLSRV_ST_CON_EVENTS/KLSRV_ST_CON_EV_SUBS_COUNT; "
                         "described by its name only")},
    StatisticInfo{"KLSRV_ST_CON_EVENTS", "KLSRV_ST_CON_EV_LOST_EVENTS_COUNT", K::counter,
                  "kscprobe_ksc_con_events_lost_total",
                  KSC_ST("Events lost by the event subscription service, KLSRV_ST_CON_EVENTS/"
                         "KLSRV_ST_CON_EV_LOST_EVENTS_COUNT; described by its name only")},
    StatisticInfo{"KLSRV_ST_CON_EVENTS", "KLSRV_ST_CON_EV_UNAVAIL_RETR_COUNT", K::counter,
                  "kscprobe_ksc_con_events_unavailable_retries_total",
                  KSC_ST("Retries because a subscriber was unavailable, KLSRV_ST_CON_EVENTS/"
                         "KLSRV_ST_CON_EV_UNAVAIL_RETR_COUNT; described by its name only")},
    StatisticInfo{"KLSRV_ST_CON_EVENTS", "KLSRV_ST_CON_EV_UNSUBS_RETR_COUNT", K::counter,
                  "kscprobe_ksc_con_events_unsubscribe_retries_total",
                  KSC_ST("Unsubscribe retries, KLSRV_ST_CON_EVENTS/"
                         "KLSRV_ST_CON_EV_UNSUBS_RETR_COUNT; described by its name only")},
    // KLASYNCACT_COUNTERS: the server's asynchronous actions (long operations a client polls).
    StatisticInfo{"KLASYNCACT_COUNTERS", "KLASYNCACT_ACTION_COUNT", K::gauge,
                  "kscprobe_ksc_async_actions",
                  KSC_ST("Asynchronous actions, KLASYNCACT_COUNTERS/KLASYNCACT_ACTION_COUNT; "
                         "described by its name only")},
    StatisticInfo{"KLASYNCACT_COUNTERS", "KLASYNCACT_CONNECTION_COUNT", K::gauge,
                  "kscprobe_ksc_async_action_connections",
                  KSC_ST("Connections with asynchronous actions, KLASYNCACT_COUNTERS/"
                         "KLASYNCACT_CONNECTION_COUNT; described by its name only")},
    StatisticInfo{"KLASYNCACT_COUNTERS", "KLASYNCACT_FINALIZED_ACTION_COUNT", K::counter,
                  "kscprobe_ksc_async_actions_finalized_total",
                  KSC_ST("Asynchronous actions finalized, KLASYNCACT_COUNTERS/"
                         "KLASYNCACT_FINALIZED_ACTION_COUNT; described by its name only")},
    StatisticInfo{"KLASYNCACT_COUNTERS", "KLASYNCACT_CHECK_LIMIT_VIOLATION_COUNT", K::counter,
                  "kscprobe_ksc_async_action_limit_violations_total",
                  KSC_ST("Asynchronous action limit violations found by checks, "
                         "KLASYNCACT_COUNTERS/KLASYNCACT_CHECK_LIMIT_VIOLATION_COUNT; described "
                         "by its name only")},
    StatisticInfo{"KLASYNCACT_COUNTERS", "KLASYNCACT_FINALIZED_ACTION_VIOLATION_COUNT", K::counter,
                  "kscprobe_ksc_async_actions_finalized_violations_total",
                  KSC_ST("Asynchronous actions finalized for a limit violation, "
                         "KLASYNCACT_COUNTERS/KLASYNCACT_FINALIZED_ACTION_VIOLATION_COUNT; "
                         "described by its name only")},
    StatisticInfo{"KLASYNCACT_COUNTERS", "KLASYNCACT_DURATION_MSEC", K::gauge,
                  "kscprobe_ksc_async_actions_duration_seconds",
                  KSC_ST("Duration of asynchronous actions in seconds (KSC sends milliseconds), "
                         "KLASYNCACT_COUNTERS/KLASYNCACT_DURATION_MSEC; described by its name "
                         "only"),
                  0.001},
};

#undef KSC_ST
#undef KSC_LIKELY

// The type name of a {"type": ..., "value": ...} wrapper, or "".
std::string_view wrapper_type(const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr || o->size() != 2 || !o->contains("value")) return {};
  auto type = o->find("type");
  if (type == o->end() || !type->value().is_string()) return {};
  return type->value().get_string();
}

bool usable_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxStatisticName) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// Recursive over nested records, bounded by `depth`.
// NOLINTNEXTLINE(misc-no-recursion)
void collect(const json::object& record, const std::string& path, std::size_t depth,
             std::vector<Statistic>* out) {
  for (const auto& kv : record) {
    if (out->size() >= kMaxStatistics) return;
    const std::string_view name = kv.key();
    if (!usable_name(name)) continue;
    const json::value& v = kv.value();
    const std::string_view type = wrapper_type(v);
    std::optional<double> value;
    if (type == "datetime") {
      if (auto t = as_datetime(v); t && *t > 0) value = static_cast<double>(*t);
    } else if (type.empty() || type != "params") {
      value = as_number(v);
      if (!value) {
        if (auto b = as_bool(v)) value = *b ? 1.0 : 0.0;
      }
    }
    if (value) {
      out->push_back(Statistic{path, std::string(name), *value, nullptr});
      continue;
    }
    // A nested record (plain or wrapped params): its values, with its attribute as the record.
    if (type == "params" || (type.empty() && v.is_object())) {
      if (depth >= kMaxStatisticDepth) continue;
      if (const json::object* inner = as_params(v))
        collect(*inner, path.empty() ? std::string(name) : path + "/" + std::string(name),
                depth + 1, out);
    }
  }
}

}  // namespace

std::span<const StatisticInfo> known_statistics() { return kKnown; }

const std::vector<std::string>& statistic_fields() {
  static const std::vector<std::string> fields = [] {
    std::vector<std::string> out;
    for (const StatisticInfo& s : kKnown) {
      if (!s.ask) continue;
      std::string f(s.record.empty() ? s.name : s.record);
      if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(std::move(f));
    }
    return out;
  }();
  return fields;
}

const StatisticInfo* find_statistic(std::string_view record, std::string_view name) {
  for (const StatisticInfo& s : kKnown)
    if (s.name == name && s.record == record) return &s;
  return nullptr;
}

std::vector<Statistic> decode_statistics(const json::value& answer) {
  std::vector<Statistic> out;
  const json::object* o = answer.if_object();
  if (o == nullptr) return out;
  const json::value* ret = field(*o, "PxgRetVal");
  if (ret == nullptr) return out;
  const json::object* stats = as_params(*ret);
  if (stats == nullptr) return out;
  collect(*stats, "", 0, &out);
  std::sort(out.begin(), out.end(), [](const Statistic& a, const Statistic& b) {
    return a.record != b.record ? a.record < b.record : a.name < b.name;
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Statistic& a, const Statistic& b) {
                          return a.record == b.record && a.name == b.name;
                        }),
            out.end());
  for (Statistic& s : out) {
    s.info = find_statistic(s.record, s.name);
    if (s.info) s.value *= s.info->scale;
  }
  return out;
}

}  // namespace kscprobe::ksc
