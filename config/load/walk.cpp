#include "config/load/walk.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace kscprobe::load {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      std::size_t subst = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, subst});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string describe(std::string_view what, const Effective& e) {
  std::string out = std::string(what) + " " + format_duration(e.value);
  if (!e.origin.empty()) out += " (" + std::string(e.origin) + ")";
  return out;
}

}  // namespace

std::string quote(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

std::string suggestion(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  std::size_t best_distance = 3;  // farther than 2 edits is a different word, not a typo
  for (auto c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance && d < std::max(word.size(), c.size())) {
      best = c;
      best_distance = d;
    }
  }
  if (best.empty()) return "";
  return " (did you mean " + quote(best) + "?)";
}

std::string join(std::span<const std::string_view> items) {
  std::string out;
  for (auto s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    default:
      return "nothing";
  }
}

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!std::isalnum(c) && c != '_' && c != '.' && c != ':' && c != '@' && c != '-') return false;
  }
  return true;
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

SourcePos Loader::pos(const toml::source_region& r) const {
  return SourcePos{source_, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}

void Loader::error(const toml::source_region& r, std::string message) {
  errors_.push_back(ConfigError{pos(r), std::move(message)});
}

std::string Loader::in(const std::string& context, std::string message) {
  if (context.empty()) return message;
  return context + ": " + message;
}

void Loader::reject_unknown_keys(const toml::table& t, std::span<const std::string_view> known,
                                 const std::string& context) {
  for (auto&& [key, value] : t) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    error(key.source(),
          in(context, "unknown key " + quote(key.str()) + suggestion(key.str(), known)));
  }
}

std::optional<std::string> Loader::string_value(const toml::node& n, std::string_view key,
                                                const std::string& context) {
  if (const auto* s = n.as_string()) return s->get();
  error(n.source(),
        in(context, std::string(key) + " must be a string, not " + std::string(type_name(n))));
  return std::nullopt;
}

std::optional<Duration> Loader::duration_value(const toml::node& n, std::string_view key,
                                               const std::string& context) {
  const auto* s = n.as_string();
  if (!s) {
    error(n.source(), in(context, std::string(key) + " must be a string like \"15s\", not " +
                                      std::string(type_name(n))));
    return std::nullopt;
  }
  std::string why;
  auto d = parse_duration(s->get(), &why);
  if (!d) {
    error(n.source(), in(context, std::string(key) + ": " + why));
    return std::nullopt;
  }
  if (d->count() <= 0) {
    error(n.source(), in(context, std::string(key) + " must be greater than 0"));
    return std::nullopt;
  }
  return d;
}

void Loader::check_timing(const Effective& interval, const Effective& timeout,
                          const toml::node* interval_node, const toml::node* timeout_node,
                          const std::string& context) {
  if (!interval.known || !timeout.known) return;
  // A default timeout follows a short interval (effective_timeout): only a written one errs.
  if (timeout.origin == "default") return;
  if (timeout.value < interval.value) return;
  const toml::node* at = timeout_node ? timeout_node : interval_node;
  if (!at) return;
  error(at->source(), in(context, describe("timeout", timeout) + " must be shorter than " +
                                      describe("interval", interval)));
}

Timing Loader::load_timing(const toml::table& t, Timing inherited,
                           std::optional<Duration>* interval, std::optional<Duration>* timeout,
                           const std::string& context) {
  const toml::node* interval_node = t.get("interval");
  const toml::node* timeout_node = t.get("timeout");
  Timing out = inherited;
  if (interval_node) {
    *interval = duration_value(*interval_node, "interval", context);
    out.interval = Effective{interval->value_or(Duration{0}), interval->has_value(), ""};
  }
  if (timeout_node) {
    *timeout = duration_value(*timeout_node, "timeout", context);
    out.timeout = Effective{timeout->value_or(Duration{0}), timeout->has_value(), ""};
  }
  if (interval_node || timeout_node)
    check_timing(out.interval, out.timeout, interval_node, timeout_node, context);
  return out;
}

std::optional<unsigned> Loader::unsigned_value(const toml::node& n, std::string_view key,
                                               long long min, long long max,
                                               const std::string& context) {
  const auto* v = n.as_integer();
  if (!v) {
    error(n.source(),
          in(context, std::string(key) + " must be an integer, not " + std::string(type_name(n))));
    return std::nullopt;
  }
  long long value = v->get();
  if (value < min || value > max) {
    error(n.source(), in(context, std::string(key) + " " + std::to_string(value) + " is outside " +
                                      std::to_string(min) + ".." + std::to_string(max)));
    return std::nullopt;
  }
  return static_cast<unsigned>(value);
}

std::optional<std::uint16_t> Loader::port_value(const toml::node& n, const std::string& what,
                                                const std::string& context) {
  const auto* v = n.as_integer();
  if (!v) {
    error(n.source(),
          in(context, what + " must be an integer port, not " + std::string(type_name(n))));
    return std::nullopt;
  }
  if (v->get() < 1 || v->get() > 65535) {
    error(n.source(), in(context, what + " " + std::to_string(v->get()) + " is outside 1..65535"));
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(v->get());
}

std::optional<std::string> Loader::readable_file(const toml::node& n, std::string_view key,
                                                 const std::string& context) {
  auto file = string_value(n, key, context);
  if (!file) return std::nullopt;
  if (file->empty()) {
    error(n.source(), in(context, std::string(key) + " must not be empty"));
    return std::nullopt;
  }
  std::filesystem::path path(*file);
  if (path.is_relative() && !base_dir_.empty()) path = base_dir_ / path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error(n.source(),
          in(context, std::string(key) + " " + quote(path.string()) + " is a directory"));
    return std::nullopt;
  }
  errno = 0;
  std::ifstream in_file(path);
  if (!in_file) {
    int err = errno;
    error(n.source(),
          in(context, std::string(key) + " " + quote(path.string()) +
                          " cannot be opened: " + (err ? std::strerror(err) : "unreadable")));
    return std::nullopt;
  }
  return path.string();
}

}  // namespace kscprobe::load
