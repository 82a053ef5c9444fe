#include "daemon/web/status_query.hpp"

#include <algorithm>
#include <charconv>

#include "config/plan.hpp"
#include "daemon/web/query_string.hpp"

namespace kscprobe {

namespace {

/// Bounds on what a query string may ask: the HTTP server already caps a request's headers, this
/// keeps the parser's work small whatever arrives.
constexpr std::size_t kMaxQueryBytes = 4096;
constexpr std::size_t kMaxParameters = 64;
constexpr std::size_t kMaxOffset = 1'000'000'000;

using exposition::Diagnosis;
using exposition::kDiagnosisCount;

bool parse_number(std::string_view s, std::size_t max, std::size_t* out) {
  if (s.empty() || s.size() > 10) return false;
  std::size_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

std::string_view to_string(StateFilter s) {
  switch (s) {
    case StateFilter::any:
      return "";
    case StateFilter::up:
      return "up";
    case StateFilter::down:
      return "down";
    case StateFilter::pending:
      return "pending";
    case StateFilter::filtered:
      return "filtered";
    case StateFilter::expiring:
      return "expiring";
  }
  return "";
}

std::string StatusQuery::to_query_string() const {
  std::string s;
  auto add = [&](std::string_view k, std::string_view v) {
    s += s.empty() ? '?' : '&';
    s += url_encode(k);
    s += '=';
    s += url_encode(v);
  };
  if (format == StatusFormat::json) add("format", "json");
  if (format == StatusFormat::text) add("format", "text");
  if (role) add("role", to_string(*role));
  if (!check.empty()) add("check", check);
  if (state != StateFilter::any) add("state", to_string(state));
  if (reason) add("reason", to_string(*reason));
  if (!target.empty()) add("target", target);
  for (const auto& [k, v] : labels) add("label." + k, v);
  if (diagnosis) add("diagnosis", exposition::to_string(*diagnosis));
  if (limit != kStatusDefaultLimit) add("limit", std::to_string(limit));
  if (offset) add("offset", std::to_string(offset));
  return s;
}

std::string page_link(const StatusQuery& q, std::size_t offset) {
  StatusQuery p = q;
  p.offset = offset;
  std::string s = p.to_query_string();
  return s.empty() ? "/" : "/" + s;
}

bool parse_status_query(std::string_view query, const Plan* plan, StatusQuery* out,
                        std::string* error) {
  *out = StatusQuery{};
  if (query.size() > kMaxQueryBytes) {
    *error = "the query string is longer than " + std::to_string(kMaxQueryBytes) + " bytes";
    return false;
  }
  std::vector<std::string> seen;
  std::vector<std::string> plan_labels;  // label names the plan's targets carry, when needed
  bool plan_labels_read = false;
  std::vector<std::pair<std::string, std::string>> pairs;
  if (!parse_query(query, &pairs, error, kMaxParameters)) return false;
  for (const auto& [key, value] : pairs) {
    // `label.NAME` or, for a label the plan's targets carry, plain `NAME`.
    std::string label;
    if (key.rfind("label.", 0) == 0) {
      label = key.substr(6);
      if (label.empty()) {
        *error = "parameter 'label.' names no label (use label.NAME=VALUE)";
        return false;
      }
    }
    static constexpr std::array<std::string_view, 9> kNames = {
        "format", "role", "check", "state", "reason", "target", "offset", "limit", "diagnosis"};
    const bool known = std::find(kNames.begin(), kNames.end(), key) != kNames.end();
    if (!known && label.empty()) {
      if (!plan_labels_read && plan) {
        plan_labels_read = true;
        plan_labels = plan->metrics.aggregate_labels;
        for (const auto& t : plan->targets)
          for (const auto& kv : t.labels)
            if (std::find(plan_labels.begin(), plan_labels.end(), kv.first) == plan_labels.end())
              plan_labels.push_back(kv.first);
      }
      if (std::find(plan_labels.begin(), plan_labels.end(), key) == plan_labels.end()) {
        *error = "unknown query parameter '" + key +
                 "' (filters: role, check, state, reason, target, diagnosis, label.NAME or a "
                 "label's name; also format, offset, limit)";
        return false;
      }
      label = key;
    }
    const std::string id = label.empty() ? key : "label." + label;
    if (std::find(seen.begin(), seen.end(), id) != seen.end()) {
      *error = "query parameter '" + (label.empty() ? key : label) + "' given twice";
      return false;
    }
    seen.push_back(id);
    if (value.empty()) continue;  // an empty form field sets no filter
    if (!label.empty()) {
      out->labels.push_back({label, value});
    } else if (key == "format") {
      if (value == "html")
        out->format = StatusFormat::html;
      else if (value == "json")
        out->format = StatusFormat::json;
      else if (value == "text")
        out->format = StatusFormat::text;
      else {
        *error = "unknown format '" + value + "' (html, json, text)";
        return false;
      }
    } else if (key == "role") {
      out->role = parse_role(value);
      if (!out->role) {
        *error = "unknown role '" + value + "' (";
        for (int r = 0; r < kRoleCount; ++r)
          *error += std::string(r ? ", " : "") + std::string(to_string(static_cast<Role>(r)));
        *error += ")";
        return false;
      }
    } else if (key == "check") {
      out->check = value;
    } else if (key == "target") {
      out->target = value;
    } else if (key == "state") {
      auto it = std::find_if(kStateFilters.begin(), kStateFilters.end(),
                             [&v = value](StateFilter s) { return to_string(s) == v; });
      if (it == kStateFilters.end()) {
        *error = "unknown state '" + value + "' (up, down, pending, filtered, expiring)";
        return false;
      }
      out->state = *it;
    } else if (key == "reason") {
      for (int r = 1; r < kReasonCount; ++r)
        if (to_string(static_cast<Reason>(r)) == value) out->reason = static_cast<Reason>(r);
      if (!out->reason) {
        *error = "unknown reason '" + value + "' (";
        for (int r = 1; r < kReasonCount; ++r)
          *error += std::string(r > 1 ? ", " : "") + std::string(to_string(static_cast<Reason>(r)));
        *error += ")";
        return false;
      }
    } else if (key == "diagnosis") {
      for (int d = 0; d < kDiagnosisCount; ++d)
        if (exposition::to_string(Diagnosis(d)) == value) out->diagnosis = Diagnosis(d);
      if (!out->diagnosis) {
        *error = "unknown diagnosis '" + value + "' (";
        for (int d = 0; d < kDiagnosisCount; ++d)
          *error += std::string(d ? ", " : "") + std::string(exposition::to_string(Diagnosis(d)));
        *error += ")";
        return false;
      }
    } else if (key == "offset") {
      if (!parse_number(value, kMaxOffset, &out->offset)) {
        *error = "offset must be a number from 0 to " + std::to_string(kMaxOffset);
        return false;
      }
    } else if (key == "limit") {
      if (!parse_number(value, kStatusMaxLimit, &out->limit)) {
        *error = "limit must be a number from 0 to " + std::to_string(kStatusMaxLimit);
        return false;
      }
    }
  }
  return true;
}

}  // namespace kscprobe
