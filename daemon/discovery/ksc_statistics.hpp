#pragma once
// The instance statistics of a KSC Administration Server (HostGroup.GetInstanceStatistics):
// the attributes KSC's OpenAPI reference lists, what each one means and how it is exported, and
// the decoding of the answer. They are the OpenAPI's figures; KSC's metrics publisher (port
// 13296) reports series whose descriptions match some of them, but no public source maps one to
// the other, so the help texts say "likely corresponds" where a description matches, no more.
#include <boost/json/fwd.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kscprobe::ksc {

/// How a statistic is exported: a counter (cumulative since the server started: `_total`), a
/// gauge (a value now), or a timestamp (a datetime, as Unix seconds: `_timestamp_seconds`).
enum class StatisticKind : std::uint8_t { counter, gauge, timestamp };

/// One attribute KSC documents.
struct StatisticInfo {
  std::string_view record;  // the nested record it is found in ("" at the top level)
  std::string_view name;    // the attribute, e.g. "KLSRV_ST_PING_CNT"
  StatisticKind kind;
  std::string_view metric;  // its family in /metrics (with _total or _timestamp_seconds)
  std::string_view help;    // what the reference says it is
  double scale = 1;         // multiplies the value (milliseconds to seconds)
  bool ask = true;          // named in GetInstanceStatistics' vecFilterFields (statistic_fields)
};

/// The table of known attributes, in the order /metrics writes them.
std::span<const StatisticInfo> known_statistics();

/// What discovery asks GetInstanceStatistics for (vecFilterFields): the table's top-level
/// attributes and nested records. The reference marks some figures "0 if not requested" (the
/// connection counts), so an empty list would read them as 0; an attribute known only from an
/// old header, never seen in an answer, is not asked for, lest a server refuse the call.
const std::vector<std::string>& statistic_fields();

/// The known attribute `name` in `record` ("" at the top level), or null.
const StatisticInfo* find_statistic(std::string_view record, std::string_view name);

/// One value of the answer, numbers, bools (0/1) and datetimes (Unix seconds) alike.
struct Statistic {
  std::string record;  // the enclosing record's attribute ("" at the top level; "A/B" nested twice)
  std::string name;
  double value = 0;
  const StatisticInfo* info = nullptr;  // the table's entry, or null for an unknown attribute

  bool operator==(const Statistic&) const = default;
};

/// Bounds of decode_statistics: what a server cannot make the daemon keep.
inline constexpr std::size_t kMaxStatistics = 1000;
inline constexpr std::size_t kMaxStatisticName = 128;
inline constexpr std::size_t kMaxStatisticDepth = 2;  // records within records, at most

/**
 * Every value of GetInstanceStatistics' answer (PxgRetVal, a plain or wrapped record): plain and
 * wrapped numbers ({"type": "long"|"double"|"float"|"int", "value": ...}), bools as 0/1,
 * datetimes ({"type": "datetime", ...}) as Unix seconds, and the values of nested records
 * (KLSRV_ST_CON_EVENTS, KLASYNCACT_COUNTERS) with the record's attribute in `record`, down to
 * kMaxStatisticDepth. Strings, arrays and unreadable values are left out, as are names that are
 * empty, longer than kMaxStatisticName or hold control characters; at most kMaxStatistics values.
 * Sorted by (record, name), each once; the table's entries get `info`, with its scale applied.
 */
std::vector<Statistic> decode_statistics(const boost::json::value& answer);

}  // namespace kscprobe::ksc
