#pragma once
// Just enough JSON writing for the benchmark's results file (scripts/bench_table.py reads it).
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/exposition/json_string.hpp"

namespace kscprobe::bench {

/// The daemon's own JSON string writer (daemon/exposition/json_string.cpp, compiled into the
/// benchmark).
inline std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

/// A figure that was not measured (NaN, infinite) is null: the table shows it as n/a.
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

/// Members in the order they are added.
class JsonObject {
 public:
  JsonObject& num(std::string_view key, double v) { return raw(key, json_number(v)); }
  JsonObject& str(std::string_view key, std::string_view v) { return raw(key, json_string(v)); }
  JsonObject& flag(std::string_view key, bool v) { return raw(key, v ? "true" : "false"); }
  JsonObject& obj(std::string_view key, const JsonObject& v) { return raw(key, v.text()); }
  JsonObject& raw(std::string_view key, std::string_view json) {
    members_.push_back(json_string(key) + ": " + std::string(json));
    return *this;
  }
  bool empty() const { return members_.empty(); }
  std::string text(int indent = 0) const {
    if (members_.empty()) return "{}";
    std::string pad(static_cast<std::size_t>(indent + 2), ' ');
    std::string out = "{\n";
    for (std::size_t i = 0; i < members_.size(); ++i)
      out += pad + members_[i] + (i + 1 < members_.size() ? ",\n" : "\n");
    return out + std::string(static_cast<std::size_t>(indent), ' ') + "}";
  }

 private:
  std::vector<std::string> members_;
};

inline std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + "]";
}

}  // namespace kscprobe::bench
