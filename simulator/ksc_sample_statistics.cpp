#include "simulator/ksc_sample_statistics.hpp"

namespace kscprobe::sim {

// The shapes, attribute by attribute:
// - names, and which are paramInt (plain JSON integers), paramBool and paramDateTime: KSC Open
//   API, "List of Server statistics attributes"
//   (https://support.kaspersky.com/help/KSC/16/KSCAPI/a00336.html);
// - the wrapped values ({"type": "long", ...} for KLTR_ST_*, KLFTS_ST_* and
//   KLASYNCACT_DURATION_MSEC; {"type": "double", ...} for KLSRV_ST_CPU_*; {"type": "datetime",
//   ...} for KLSRV_ST_LAST_*SCAN_TIME) and the nested records ({"type": "params", ...} for
//   KLSRV_ST_CON_EVENTS and KLASYNCACT_COUNTERS): the answer as a public client decodes it,
//   pixfid/go-ksc kaspersky/HostGroup.go (type ServerInstanceStatistics);
// - KLSRV_ST_NETWORK_DOMAIN_SCANNED, a string the daemon does not export, is there because the
//   same client reads it: a value that is no number must be skipped, not fail the decoding.
// The figures themselves are made up.
std::string sample_instance_statistics_json() {
  return R"({
  "KLSRV_ST_ALL_CONS_CNT": 12,
  "KLSRV_ST_NAG_CONS_CNT": 10,
  "KLSRV_ST_CTLNGT_CONS_CNT": 9,
  "KLSRV_ST_PING_CNT": 48211,
  "KLSRV_ST_PING_JN_CNT": 1,
  "KLSRV_ST_PING_ERROR_CNT": 3,
  "KLSRV_ST_PING_REJECTED_CNT": 0,
  "KLSRV_ST_SYNC_CNT": 5120,
  "KLSRV_ST_SYNC_JN_CNT": 0,
  "KLSRV_ST_SYNC_REAL_CNT": 870,
  "KLSRV_ST_SYNC_SUC_CNT": 5102,
  "KLSRV_ST_SYNC_QUEUE_SIZE": 2,
  "KLSRV_ST_EVENTS_CNT": 20411,
  "KLSRV_ST_EVENTS_ERROR_CNT": 0,
  "KLSRV_ST_EVENTS_JN_CNT": 0,
  "KLSRV_ST_EVENTS_REJECTED_CNT": 0,
  "KLSRV_ST_EVENTBULKS_CNT": 3311,
  "KLSRV_ST_EVENTBULKS_ERROR_CNT": 0,
  "KLSRV_ST_EVENTBULKS_JN_CNT": 0,
  "KLSRV_ST_EVENTBULKS_REJECTED_CNT": 0,
  "KLSRV_ST_GUI_CALLS_CNT": 1542,
  "KLSRV_ST_NETWORK_SCANNED": true,
  "KLSRV_ST_NETWORK_SCAN_PERCENT": 100,
  "KLSRV_ST_FULL_SCAN_PERCENT": 100,
  "KLSRV_ST_DPNS_SCAN_PERCENT": 40,
  "KLSRV_ST_AD_SCAN_PERCENT": 0,
  "KLSRV_ST_NETWORK_DOMAIN_SCANNED": "",
  "KLSRV_ST_LAST_FULLNETSCAN_TIME": {"type": "datetime", "value": "2026-03-19T02:00:11Z"},
  "KLSRV_ST_LAST_FASTNETSCAN_TIME": {"type": "datetime", "value": "2026-03-19T15:45:02Z"},
  "KLSRV_ST_LAST_ADSCAN_TIME": {"type": "datetime", "value": "2026-03-18T23:00:00Z"},
  "KLSRV_ST_LAST_DPNSSCAN_TIME": {"type": "datetime", "value": "2026-03-19T12:30:00Z"},
  "KLSRV_ST_CPU_KERNEL": {"type": "double", "value": 12.5},
  "KLSRV_ST_CPU_USER": {"type": "double", "value": 31.25},
  "KLTR_ST_ACCEPTS_TOTAL": {"type": "long", "value": 96233},
  "KLTR_ST_ACCEPTS_FAILED": {"type": "long", "value": 17},
  "KLTR_ST_SENT_BYTES": {"type": "long", "value": 7340032000},
  "KLTR_ST_RECEIVED_BYTES": {"type": "long", "value": 1288490188},
  "KLFTS_ST_GET_CHUNK_REQUESTS_TOTAL": {"type": "long", "value": 4411},
  "KLFTS_ST_GET_CHUNK_REQUESTS_REJECTED": {"type": "long", "value": 2},
  "KLFTS_ST_TRANSMITTED_SIZE": {"type": "long", "value": 2147483648},
  "KLSRV_ST_CON_EVENTS": {"type": "params", "value": {
    "KLSRV_ST_CON_EV_LOST_EVENTS_COUNT": 0,
    "KLSRV_ST_CON_EV_SESSION_COUNT": 4,
    "KLSRV_ST_CON_EV_SUBS_COUNT": 11,
    "KLSRV_ST_CON_EV_UNAVAIL_RETR_COUNT": 1,
    "KLSRV_ST_CON_EV_UNSUBS_RETR_COUNT": 0}},
  "KLASYNCACT_COUNTERS": {"type": "params", "value": {
    "KLASYNCACT_ACTION_COUNT": 3,
    "KLASYNCACT_CHECK_LIMIT_VIOLATION_COUNT": 0,
    "KLASYNCACT_CONNECTION_COUNT": 2,
    "KLASYNCACT_DURATION_MSEC": {"type": "long", "value": 1500},
    "KLASYNCACT_FINALIZED_ACTION_COUNT": 96,
    "KLASYNCACT_FINALIZED_ACTION_VIOLATION_COUNT": 0}}
})";
}

}  // namespace kscprobe::sim
