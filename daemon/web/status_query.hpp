#pragma once
// What the status page (`/`) was asked for: its query string, read into a typed query and
// written back into links.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/probe_result.hpp"
#include "config/catalog.hpp"
#include "daemon/exposition/agent_diagnosis.hpp"

namespace kscprobe {

struct Plan;

enum class StatusFormat : std::uint8_t { html, json, text };
enum class StateFilter : std::uint8_t { any, up, down, pending, filtered, expiring };

/// The states a query can ask for, in the order the page offers them.
inline constexpr std::array<StateFilter, 5> kStateFilters = {
    StateFilter::up, StateFilter::down, StateFilter::pending, StateFilter::filtered,
    StateFilter::expiring};
/// The parameter's value: "up", "down", ...; "" for any.
std::string_view to_string(StateFilter s);

inline constexpr std::size_t kStatusDefaultLimit = 200;
inline constexpr std::size_t kStatusMaxLimit = 1000;

/// What `/` was asked for: filters (all must hold), the page, the format.
struct StatusQuery {
  StatusFormat format = StatusFormat::html;
  std::optional<Role> role;
  std::string check;                                        // check id, exact
  StateFilter state = StateFilter::any;                     // up includes udp open|filtered
  std::optional<Reason> reason;                             // down for this reason
  std::string target;                                       // substring of the name, any case
  std::vector<std::pair<std::string, std::string>> labels;  // user labels, exact
  // Devices whose agent stopped connecting with this diagnosis: the agents listed, and the
  // checks of those devices.
  std::optional<exposition::Diagnosis> diagnosis;
  std::size_t offset = 0;
  std::size_t limit = kStatusDefaultLimit;

  /// The query string that asks for the same (canonical order, percent-encoded), starting with
  /// '?', or "" when everything is default.
  std::string to_query_string() const;
};

/// The link to the page of `q` that starts at `offset`: "/" plus its query string.
std::string page_link(const StatusQuery& q, std::size_t offset);

/// Parses the query string of `/` (undecoded, as sent). Parameters: format (html, json, text),
/// role, check, state (up, down, pending, filtered, expiring), reason, target, diagnosis
/// (agent_stopped, agent_cannot_reach_server, device_offline, unknown), offset, limit
/// (0..kStatusMaxLimit), `label.NAME` for a user label, or plain `NAME` for a label some target
/// of `plan` carries. An empty value sets no filter. Anything else, a repeated parameter, bad
/// percent-encoding or a value out of its set is an error: false, with `error` saying why.
bool parse_status_query(std::string_view query, const Plan* plan, StatusQuery* out,
                        std::string* error);

}  // namespace kscprobe
