#include "config/loader.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>

#include "config/plan.hpp"
#include "config/rules.hpp"

namespace kscprobe {

namespace {

constexpr std::string_view kTopKeys[] = {"daemon", "target",       "web",
                                         "probe",  "target_files", "metrics"};
constexpr std::string_view kDaemonKeys[] = {"interval",
                                            "timeout",
                                            "max_in_flight",
                                            "max_datagram_in_flight",
                                            "max_quiet_in_flight",
                                            "shard",
                                            "tls_full_handshake_interval",
                                            "target_files_refresh"};
constexpr std::string_view kMetricsKeys[] = {"detail", "aggregate_labels"};
constexpr std::string_view kDetailNames[] = {"full", "basic", "aggregate"};
constexpr std::string_view kWebKeys[] = {"tls_cert_file", "tls_key_file", "tls_client_ca_file",
                                         "tls_min_version", "basic_auth_users"};
constexpr std::string_view kProbeKeys[] = {"allow", "max_concurrent"};
constexpr std::string_view kTargetKeys[] = {"name",        "role",
                                            "address",     "features",
                                            "labels",      "disable",
                                            "interval",    "timeout",
                                            "engine",      "metrics_path",
                                            "udp_payload", "server_name",
                                            "ca_file",     "fingerprint_sha256",
                                            "ports",       "check"};
constexpr std::string_view kCheckKeys[] = {"name",    "port",     "transport",
                                           "path",    "status",   "expect_metrics",
                                           "payload", "interval", "timeout"};
constexpr std::string_view kRoleNames[] = {
    "server", "distribution_point", "agent", "web_console", "ios_mdm", "database"};
constexpr std::string_view kTransportNames[] = {"tcp", "tls", "udp", "http", "https", "icmp"};
constexpr std::string_view kFeatureNames[] = {"ksn_proxy",       "mobile",      "uefi", "local",
                                              "on_admin_server", "push_server", "icmp"};
constexpr std::string_view kEngineNames[] = {"mysql", "mssql", "postgresql"};

constexpr long long kMaxInFlight = 65536;

std::string quote(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

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

// " (did you mean "x"?)" when one candidate is a likely typo of `word`, else "".
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

// Target and check names become label values and log keys: keep them free of quoting issues.
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

// The check ids of one role, each once, in catalog order (database_tcp appears per engine).
std::vector<std::string_view> role_check_ids(Role role) {
  std::vector<std::string_view> ids;
  for (const auto& e : catalog()) {
    if (e.role == role && std::find(ids.begin(), ids.end(), e.id) == ids.end()) {
      ids.push_back(e.id);
    }
  }
  return ids;
}

/// A timing value after inheritance, with where it came from for messages.
struct Effective {
  Duration value{0};
  bool known = false;       // false when the value it inherits from was itself invalid
  std::string_view origin;  // e.g. "from [daemon]"; empty when set at this level
};

std::string describe(std::string_view what, const Effective& e) {
  std::string out = std::string(what) + " " + format_duration(e.value);
  if (!e.origin.empty()) out += " (" + std::string(e.origin) + ")";
  return out;
}

class Loader {
 public:
  Loader(std::string source, std::filesystem::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  LoadResult load(std::string_view text) {
    LoadResult result;
    Config config;
    config.source = source_;
#if TOML_EXCEPTIONS
    try {
      toml::table root = toml::parse(text, std::string_view(source_));
      load_root(root, config);
    } catch (const toml::parse_error& e) {
      error(e.source(), std::string(e.description()));
    }
#else
    toml::parse_result parsed = toml::parse(text, std::string_view(source_));
    if (!parsed) {
      error(parsed.error().source(), std::string(parsed.error().description()));
    } else {
      load_root(parsed.table(), config);
    }
#endif
    std::stable_sort(
        errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
          return std::pair(a.pos.line, a.pos.column) < std::pair(b.pos.line, b.pos.column);
        });
    result.errors = std::move(errors_);
    if (result.errors.empty()) result.config = std::move(config);
    return result;
  }

 private:
  SourcePos pos(const toml::source_region& r) const {
    return SourcePos{source_, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
  }

  void error(const toml::source_region& r, std::string message) {
    errors_.push_back(ConfigError{pos(r), std::move(message)});
  }

  static std::string in(const std::string& context, std::string message) {
    if (context.empty()) return message;
    return context + ": " + message;
  }

  void reject_unknown_keys(const toml::table& t, std::span<const std::string_view> known,
                           const std::string& context) {
    for (auto&& [key, value] : t) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      error(key.source(),
            in(context, "unknown key " + quote(key.str()) + suggestion(key.str(), known)));
    }
  }

  std::optional<std::string> string_value(const toml::node& n, std::string_view key,
                                          const std::string& context) {
    if (const auto* s = n.as_string()) return s->get();
    error(n.source(),
          in(context, std::string(key) + " must be a string, not " + std::string(type_name(n))));
    return std::nullopt;
  }

  std::optional<Duration> duration_value(const toml::node& n, std::string_view key,
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

  // Reports timeout >= interval at the timeout's own position when this level sets it.
  void check_timing(const Effective& interval, const Effective& timeout,
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

  void load_root(const toml::table& root, Config& config) {
    reject_unknown_keys(root, kTopKeys, "");
    daemon_interval_ = Effective{config.daemon.interval, true, "default"};
    daemon_timeout_ = Effective{config.daemon.timeout, true, "default"};
    if (const toml::node* d = root.get("daemon")) {
      if (const auto* t = d->as_table()) {
        load_daemon(*t, config.daemon);
      } else {
        error(d->source(), "daemon must be a table ([daemon]), not " + std::string(type_name(*d)));
      }
    }
    if (const toml::node* w = root.get("web")) {
      if (const auto* t = w->as_table()) {
        load_web(*t, config.web);
      } else {
        error(w->source(), "web must be a table ([web]), not " + std::string(type_name(*w)));
      }
    }
    if (const toml::node* m = root.get("metrics")) {
      if (const auto* t = m->as_table()) {
        load_metrics(*t, config.metrics);
      } else {
        error(m->source(),
              "metrics must be a table ([metrics]), not " + std::string(type_name(*m)));
      }
    }
    if (const toml::node* p = root.get("probe")) {
      if (const auto* t = p->as_table()) {
        load_probe(*t, config.probe);
      } else {
        error(p->source(), "probe must be a table ([probe]), not " + std::string(type_name(*p)));
      }
    }
    if (const toml::node* f = root.get("target_files")) {
      const auto* arr = f->as_array();
      if (!arr) {
        error(f->source(),
              "target_files must be an array of file patterns like "
              "[\"targets/*.json\"], not " +
                  std::string(type_name(*f)));
      } else {
        for (const auto& item : *arr) {
          auto v = string_value(item, "target_files entry", "");
          if (!v) continue;
          if (v->empty()) {
            error(item.source(), "target_files entries must not be empty");
            continue;
          }
          std::filesystem::path path(*v);
          if (path.is_relative() && !base_dir_.empty()) path = base_dir_ / path;
          config.target_files.patterns.push_back(path.string());
        }
      }
    }
    config.target_files.refresh = target_files_refresh_;
    if (const toml::node* targets = root.get("target")) {
      const auto* arr = targets->as_array();
      if (!arr) {
        error(targets->source(), "target must be an array of tables ([[target]]), not " +
                                     std::string(type_name(*targets)));
        return;
      }
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& item = (*arr)[i];
        if (const auto* t = item.as_table()) {
          config.targets.push_back(load_target(*t, i + 1));
        } else {
          error(item.source(), "target #" + std::to_string(i + 1) + " must be a table, not " +
                                   std::string(type_name(item)));
        }
      }
    }
  }

  void load_daemon(const toml::table& t, DaemonConfig& daemon) {
    const std::string context = "[daemon]";
    reject_unknown_keys(t, kDaemonKeys, context);
    const toml::node* interval_node = t.get("interval");
    const toml::node* timeout_node = t.get("timeout");
    Effective interval{daemon.interval, true, interval_node ? "" : "default"};
    Effective timeout{daemon.timeout, true, timeout_node ? "" : "default"};
    if (interval_node) {
      auto d = duration_value(*interval_node, "interval", context);
      interval.known = d.has_value();
      if (d) daemon.interval = interval.value = *d;
    }
    if (timeout_node) {
      auto d = duration_value(*timeout_node, "timeout", context);
      timeout.known = d.has_value();
      if (d) daemon.timeout = timeout.value = *d;
      daemon.timeout_written = true;
    }
    check_timing(interval, timeout, interval_node, timeout_node, context);
    daemon_interval_ =
        Effective{interval.value, interval.known, interval_node ? "from [daemon]" : "default"};
    daemon_timeout_ =
        Effective{timeout.value, timeout.known, timeout_node ? "from [daemon]" : "default"};

    if (const toml::node* n = t.get("target_files_refresh")) {
      if (auto d = duration_value(*n, "target_files_refresh", context)) target_files_refresh_ = *d;
    }
    if (const toml::node* n = t.get("max_in_flight")) {
      if (auto v = unsigned_value(*n, "max_in_flight", 1, kMaxInFlight, context))
        daemon.max_in_flight = *v;
    }
    if (const toml::node* n = t.get("max_datagram_in_flight")) {
      if (auto v = unsigned_value(*n, "max_datagram_in_flight", 1, 1000000, context))
        daemon.max_datagram_in_flight = *v;
    }
    if (const toml::node* n = t.get("max_quiet_in_flight")) {
      if (auto v = unsigned_value(*n, "max_quiet_in_flight", 1, kMaxInFlight, context))
        daemon.max_quiet_in_flight = *v;
    }
    if (const toml::node* n = t.get("tls_full_handshake_interval")) {
      const auto* text = n->as_string();
      if (text && (text->get() == "0s" || text->get() == "0")) {
        daemon.tls_full_handshake_interval = Duration(0);
      } else if (auto d = duration_value(*n, "tls_full_handshake_interval", context)) {
        daemon.tls_full_handshake_interval = *d;
      }
    }
    if (const toml::node* n = t.get("shard")) {
      if (auto v = string_value(*n, "shard", context)) {
        std::string why;
        if (!parse_shard(*v, &daemon.shard_index, &daemon.shard_count, &why))
          error(n->source(), in(context, "shard: " + why));
      }
    }
  }

  std::optional<unsigned> unsigned_value(const toml::node& n, std::string_view key, long long min,
                                         long long max, const std::string& context) {
    const auto* v = n.as_integer();
    if (!v) {
      error(n.source(), in(context, std::string(key) + " must be an integer, not " +
                                        std::string(type_name(n))));
      return std::nullopt;
    }
    long long value = v->get();
    if (value < min || value > max) {
      error(n.source(),
            in(context, std::string(key) + " " + std::to_string(value) + " is outside " +
                            std::to_string(min) + ".." + std::to_string(max)));
      return std::nullopt;
    }
    return static_cast<unsigned>(value);
  }

  void load_metrics(const toml::table& t, MetricsConfig& metrics) {
    const std::string context = "[metrics]";
    reject_unknown_keys(t, kMetricsKeys, context);
    if (const toml::node* n = t.get("detail")) {
      if (const auto* roles = n->as_table()) {
        for (auto&& [role_key, level] : *roles) {
          auto role = parse_role(role_key.str());
          if (!role) {
            error(role_key.source(),
                  in(context, "detail: unknown role " + quote(role_key.str()) +
                                  suggestion(role_key.str(), kRoleNames) +
                                  "; valid roles: " + std::string(all_role_names())));
            continue;
          }
          auto name = string_value(level, "detail." + std::string(role_key.str()), context);
          if (!name) continue;
          auto it = std::find(std::begin(kDetailNames), std::end(kDetailNames), *name);
          if (it == std::end(kDetailNames)) {
            error(level.source(),
                  in(context, "detail." + std::string(role_key.str()) + ": " + quote(*name) +
                                  " is not a detail level" + suggestion(*name, kDetailNames) +
                                  "; levels are full, basic, aggregate"));
            continue;
          }
          metrics.detail[static_cast<int>(*role)] =
              static_cast<Detail>(it - std::begin(kDetailNames));
        }
      } else {
        error(n->source(), in(context,
                              "detail must be a table of role = level, like "
                              "{ agent = \"basic\" }, not " +
                                  std::string(type_name(*n))));
      }
    }
    if (const toml::node* n = t.get("aggregate_labels")) {
      const auto* arr = n->as_array();
      if (!arr) {
        error(n->source(), in(context,
                              "aggregate_labels must be an array of label names like "
                              "[\"site\"], not " +
                                  std::string(type_name(*n))));
        return;
      }
      metrics.aggregate_labels.clear();  // the list replaces the default ["site"]
      for (const auto& item : *arr) {
        auto v = string_value(item, "aggregate_labels entry", context);
        if (!v) continue;
        if (!rules::is_label_name(*v) || rules::is_reserved_label(*v)) {
          error(item.source(), in(context, "aggregate_labels: " + quote(*v) +
                                               " is not a target label name (it must match "
                                               "[a-zA-Z_][a-zA-Z0-9_]* and not be one of the "
                                               "exporter's own labels)"));
          continue;
        }
        if (std::find(metrics.aggregate_labels.begin(), metrics.aggregate_labels.end(), *v) !=
            metrics.aggregate_labels.end()) {
          error(item.source(), in(context, "aggregate_labels: " + quote(*v) + " is listed twice"));
          continue;
        }
        metrics.aggregate_labels.push_back(*v);
      }
    }
  }

  TargetConfig load_target(const toml::table& t, std::size_t index) {
    TargetConfig target;
    target.pos = pos(t.source());
    std::string context = "target #" + std::to_string(index);

    // The name first: every other message of this target is prefixed with it.
    if (const toml::node* n = t.get("name")) {
      if (auto s = string_value(*n, "name", context)) {
        target.name = *s;
        if (!s->empty()) context = "target " + quote(*s);
        if (s->empty()) {
          error(n->source(), in(context, "name must not be empty"));
        } else if (!valid_name(*s)) {
          error(n->source(), in(context, "name " + quote(*s) +
                                             " may only contain letters, digits and _ . : @ -"));
        } else if (auto it = target_lines_.find(*s); it != target_lines_.end()) {
          error(n->source(), in(context, "duplicate target name (first defined on line " +
                                             std::to_string(it->second) + ")"));
        } else {
          target_lines_.emplace(*s, static_cast<int>(n->source().begin.line));
        }
      }
    } else {
      error(t.source(), in(context, "missing required key \"name\""));
    }

    reject_unknown_keys(t, kTargetKeys, context);

    std::optional<Role> role;
    if (const toml::node* n = t.get("role")) {
      if (auto s = string_value(*n, "role", context)) {
        role = parse_role(*s);
        if (role) {
          target.role = *role;
        } else {
          error(n->source(), in(context, "unknown role " + quote(*s) + suggestion(*s, kRoleNames) +
                                             "; valid roles: " + std::string(all_role_names())));
        }
      }
    } else {
      error(t.source(), in(context, "missing required key \"role\" (one of " +
                                        std::string(all_role_names()) + ")"));
    }
    const std::vector<std::string_view> ids =
        role ? role_check_ids(*role) : std::vector<std::string_view>{};

    if (const toml::node* n = t.get("address")) {
      if (auto s = string_value(*n, "address", context)) load_address(*n, *s, target, context);
    } else {
      error(t.source(), in(context, "missing required key \"address\""));
    }

    if (const toml::node* n = t.get("features")) load_features(*n, target, context);

    const toml::node* engine_node = t.get("engine");
    if (engine_node) {
      if (auto s = string_value(*engine_node, "engine", context)) {
        auto engine = parse_engine(*s);
        if (!engine) {
          error(engine_node->source(),
                in(context, "unknown engine " + quote(*s) + suggestion(*s, kEngineNames) +
                                "; valid engines: " + join(kEngineNames)));
        } else if (role && *role != Role::database) {
          error(engine_node->source(), in(context, "engine is only valid for role database, not " +
                                                       std::string(to_string(*role))));
        } else {
          target.engine = engine;
        }
      }
    } else if (role == Role::database) {
      error(t.source(), in(context, "missing required key \"engine\" for role database (one of " +
                                        join(kEngineNames) + ")"));
    }

    if (const toml::node* n = t.get("labels")) load_labels(*n, target, context);

    if (const toml::node* n = t.get("disable")) {
      if (const auto* arr = n->as_array()) {
        for (const toml::node& item : *arr) {
          const auto* s = item.as_string();
          if (!s) {
            error(item.source(), in(context, "disable entries must be strings (check ids), not " +
                                                 std::string(type_name(item))));
            continue;
          }
          if (role && !catalog_has_check(*role, s->get())) {
            error(item.source(),
                  in(context, "disable: " + quote(s->get()) + " is not a check of role " +
                                  std::string(to_string(*role)) + suggestion(s->get(), ids) +
                                  "; its checks: " + join(ids)));
            continue;
          }
          target.disable.push_back(s->get());
        }
      } else {
        error(n->source(), in(context, "disable must be an array of check ids, not " +
                                           std::string(type_name(*n))));
      }
    }

    const toml::node* interval_node = t.get("interval");
    const toml::node* timeout_node = t.get("timeout");
    Effective interval = daemon_interval_;
    Effective timeout = daemon_timeout_;
    if (interval_node) {
      target.interval = duration_value(*interval_node, "interval", context);
      interval = Effective{target.interval.value_or(Duration{0}), target.interval.has_value(), ""};
    }
    if (timeout_node) {
      target.timeout = duration_value(*timeout_node, "timeout", context);
      timeout = Effective{target.timeout.value_or(Duration{0}), target.timeout.has_value(), ""};
    }
    // Only when this target changes one of them: a bad [daemon] pair is reported there once.
    if (interval_node || timeout_node) {
      check_timing(interval, timeout, interval_node, timeout_node, context);
    }

    if (const toml::node* n = t.get("metrics_path")) {
      if (auto s = string_value(*n, "metrics_path", context)) {
        if (s->empty() || s->front() != '/') {
          error(n->source(), in(context, "metrics_path " + quote(*s) + " must start with \"/\""));
        } else if (has_space_or_control(*s)) {
          error(n->source(), in(context, "metrics_path must not contain spaces"));
        } else {
          target.metrics_path = *s;
        }
      }
    }
    if (const toml::node* n = t.get("udp_payload")) {
      if (auto s = string_value(*n, "udp_payload", context)) target.udp_payload = *s;
    }
    if (const toml::node* n = t.get("server_name")) {
      if (auto s = string_value(*n, "server_name", context)) {
        if (s->empty() || has_space_or_control(*s)) {
          error(n->source(), in(context, "server_name must be a host name without spaces"));
        } else {
          target.tls.server_name = *s;
        }
      }
    }
    if (const toml::node* n = t.get("ca_file")) {
      if (auto s = string_value(*n, "ca_file", context)) load_ca_file(*n, *s, target, context);
    }
    if (const toml::node* n = t.get("fingerprint_sha256")) {
      if (auto s = string_value(*n, "fingerprint_sha256", context)) {
        load_fingerprint(*n, *s, target, context);
      }
    }

    if (const toml::node* n = t.get("ports")) load_ports(*n, role, ids, target, context);

    if (const toml::node* n = t.get("check")) {
      const auto* arr = n->as_array();
      if (!arr) {
        error(n->source(), in(context, "check must be an array of tables ([[target.check]]), not " +
                                           std::string(type_name(*n))));
      } else {
        for (std::size_t j = 0; j < arr->size(); ++j) {
          const toml::node& item = (*arr)[j];
          if (const auto* table = item.as_table()) {
            target.checks.push_back(
                load_check(*table, j + 1, role, target, interval, timeout, context));
          } else {
            error(item.source(),
                  in(context, "check #" + std::to_string(j + 1) + " must be a table, not " +
                                  std::string(type_name(item))));
          }
        }
      }
    }
    return target;
  }

  void load_address(const toml::node& n, const std::string& address, TargetConfig& target,
                    const std::string& context) {
    std::string why;
    if (auto a = rules::parse_address(address, &why)) {
      target.address = std::move(*a);
    } else {
      error(n.source(),
            in(context, "address " + (address.empty() ? "" : quote(address) + " ") + why));
    }
  }

  void load_features(const toml::node& n, TargetConfig& target, const std::string& context) {
    const auto* arr = n.as_array();
    if (!arr) {
      error(n.source(),
            in(context, "features must be an array of strings, not " + std::string(type_name(n))));
      return;
    }
    for (const toml::node& item : *arr) {
      const auto* s = item.as_string();
      if (!s) {
        error(item.source(),
              in(context, "features entries must be strings, not " + std::string(type_name(item))));
        continue;
      }
      if (auto flag = parse_feature(s->get())) {
        target.features |= *flag;
      } else {
        error(
            item.source(),
            in(context, "unknown feature " + quote(s->get()) + suggestion(s->get(), kFeatureNames) +
                            "; valid features: " + std::string(all_feature_names())));
      }
    }
  }

  void load_labels(const toml::node& n, TargetConfig& target, const std::string& context) {
    const auto* t = n.as_table();
    if (!t) {
      error(n.source(), in(context, "labels must be a table like { site = \"paris\" }, not " +
                                        std::string(type_name(n))));
      return;
    }
    for (auto&& [key, value] : *t) {
      const std::string name(key.str());
      if (!rules::is_label_name(name)) {
        error(key.source(),
              in(context, "label name " + quote(name) + " must match [a-zA-Z_][a-zA-Z0-9_]*"));
        continue;
      }
      if (rules::is_reserved_label(name)) {
        error(key.source(), in(context, "label name " + quote(name) + " is reserved (" +
                                            std::string(rules::reserved_labels_text()) + ")"));
        continue;
      }
      const auto* s = value.as_string();
      if (!s) {
        error(value.source(), in(context, "label " + quote(name) + " must be a string, not " +
                                              std::string(type_name(value))));
        continue;
      }
      target.labels.emplace_back(name, s->get());
    }
    std::sort(target.labels.begin(), target.labels.end());
  }

  // A file the daemon must read (certificates, keys, CA bundles): relative to the config.
  std::optional<std::string> readable_file(const toml::node& n, std::string_view key,
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

  void load_web(const toml::table& t, WebConfig& web) {
    const std::string context = "[web]";
    reject_unknown_keys(t, kWebKeys, context);
    if (const toml::node* n = t.get("tls_cert_file"))
      if (auto f = readable_file(*n, "tls_cert_file", context)) web.tls_cert_file = *f;
    if (const toml::node* n = t.get("tls_key_file"))
      if (auto f = readable_file(*n, "tls_key_file", context)) web.tls_key_file = *f;
    if (const toml::node* n = t.get("tls_client_ca_file"))
      if (auto f = readable_file(*n, "tls_client_ca_file", context)) web.tls_client_ca_file = *f;
    if (const toml::node* n = t.get("tls_min_version")) {
      if (auto v = string_value(*n, "tls_min_version", context)) {
        if (*v != "TLS12" && *v != "TLS13") {
          error(n->source(),
                in(context, "tls_min_version " + quote(*v) + " must be TLS12 or TLS13"));
        } else {
          web.tls_min_version = *v;
        }
      }
    }
    const toml::node* cert = t.get("tls_cert_file");
    const toml::node* key = t.get("tls_key_file");
    if (cert && !key) error(cert->source(), in(context, "tls_cert_file needs tls_key_file"));
    if (key && !cert) error(key->source(), in(context, "tls_key_file needs tls_cert_file"));
    if (const toml::node* ca = t.get("tls_client_ca_file"); ca && !cert)
      error(ca->source(), in(context, "tls_client_ca_file needs tls_cert_file and tls_key_file"));
    if (const toml::node* n = t.get("basic_auth_users")) {
      const auto* users = n->as_table();
      if (!users) {
        error(n->source(), in(context,
                              "basic_auth_users must be a table of user = \"bcrypt hash\", "
                              "not " +
                                  std::string(type_name(*n))));
      } else {
        for (auto&& [user, hash] : *users) {
          auto h = string_value(hash, "basic_auth_users." + std::string(user.str()), context);
          if (!h) continue;
          if (user.str().empty() || user.str().find(':') != std::string_view::npos) {
            error(user.source(), in(context, "user name " + quote(user.str()) +
                                                 " must not be empty or contain ':'"));
            continue;
          }
          if (h->size() != 60 || (*h)[0] != '$' || (*h)[1] != '2' || (*h)[3] != '$') {
            error(hash.source(),
                  in(context, "password of " + quote(user.str()) +
                                  " must be a bcrypt hash ($2y$..., 60 characters), "
                                  "e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"));
            continue;
          }
          web.basic_auth_users.emplace_back(std::string(user.str()), *h);
        }
      }
    }
  }

  void load_probe(const toml::table& t, ProbeEndpointConfig& probe) {
    const std::string context = "[probe]";
    reject_unknown_keys(t, kProbeKeys, context);
    if (const toml::node* n = t.get("allow")) {
      const auto* arr = n->as_array();
      if (!arr) {
        error(n->source(), in(context, "allow must be an array of networks like [\"10.0.0.0/8\"]"));
      } else {
        for (const auto& item : *arr) {
          auto v = string_value(item, "allow entry", context);
          if (!v) continue;
          std::string why;
          if (auto net = rules::parse_network(*v, &why)) {
            probe.allow.push_back(*net);
          } else {
            error(item.source(), in(context, why));
          }
        }
      }
    }
    if (const toml::node* n = t.get("max_concurrent")) {
      const auto* v = n->as_integer();
      if (!v || v->get() < 1 || v->get() > 1024) {
        error(n->source(), in(context, "max_concurrent must be an integer in 1..1024"));
      } else {
        probe.max_concurrent = static_cast<unsigned>(v->get());
      }
    }
  }

  void load_ca_file(const toml::node& n, const std::string& file, TargetConfig& target,
                    const std::string& context) {
    if (file.empty()) {
      error(n.source(), in(context, "ca_file must not be empty"));
      return;
    }
    std::filesystem::path path(file);
    if (path.is_relative() && !base_dir_.empty()) path = base_dir_ / path;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      error(n.source(), in(context, "ca_file " + quote(path.string()) + " is a directory"));
      return;
    }
    errno = 0;
    std::ifstream in_file(path);
    if (!in_file) {
      int err = errno;
      error(n.source(), in(context, "ca_file " + quote(path.string()) + " cannot be opened: " +
                                        (err ? std::strerror(err) : "unreadable")));
      return;
    }
    target.tls.ca_file = path.string();
  }

  void load_fingerprint(const toml::node& n, const std::string& text, TargetConfig& target,
                        const std::string& context) {
    std::string hex;
    bool only_hex = true;
    for (unsigned char c : text) {
      if (c == ':' || c == ' ') continue;
      if (!std::isxdigit(c)) only_hex = false;
      hex += static_cast<char>(std::tolower(c));
    }
    if (!only_hex || hex.size() != 64) {
      error(n.source(), in(context,
                           "fingerprint_sha256 must be 64 hex digits (colons and spaces "
                           "allowed), got " +
                               (only_hex ? std::to_string(hex.size()) + " digits"
                                         : std::string("non-hex characters"))));
      return;
    }
    target.tls.fingerprint_sha256 = std::move(hex);
  }

  std::optional<std::uint16_t> port_value(const toml::node& n, const std::string& what,
                                          const std::string& context) {
    const auto* v = n.as_integer();
    if (!v) {
      error(n.source(),
            in(context, what + " must be an integer port, not " + std::string(type_name(n))));
      return std::nullopt;
    }
    if (v->get() < 1 || v->get() > 65535) {
      error(n.source(),
            in(context, what + " " + std::to_string(v->get()) + " is outside 1..65535"));
      return std::nullopt;
    }
    return static_cast<std::uint16_t>(v->get());
  }

  void load_ports(const toml::node& n, const std::optional<Role>& role,
                  const std::vector<std::string_view>& ids, TargetConfig& target,
                  const std::string& context) {
    const auto* t = n.as_table();
    if (!t) {
      error(n.source(), in(context, "ports must be a table of check id = port, not " +
                                        std::string(type_name(n))));
      return;
    }
    for (auto&& [key, value] : *t) {
      const std::string id(key.str());
      if (role && !catalog_has_check(*role, id)) {
        error(key.source(), in(context, "ports: " + quote(id) + " is not a check of role " +
                                            std::string(to_string(*role)) + suggestion(id, ids) +
                                            "; its checks: " + join(ids)));
        continue;
      }
      if (role && catalog_check_transport(*role, id) == Transport::icmp) {
        error(key.source(), in(context, "ports: " + quote(id) + " has no port (an ICMP echo)"));
        continue;
      }
      if (auto port = port_value(value, "ports." + id, context)) target.ports[id] = *port;
    }
  }

  ExtraCheckConfig load_check(const toml::table& t, std::size_t index,
                              const std::optional<Role>& role, const TargetConfig& target,
                              const Effective& target_interval, const Effective& target_timeout,
                              const std::string& target_context) {
    ExtraCheckConfig check;
    check.pos = pos(t.source());
    std::string context = target_context + ": check #" + std::to_string(index);

    if (const toml::node* n = t.get("name")) {
      if (auto s = string_value(*n, "name", context)) {
        check.name = *s;
        if (!s->empty()) context = target_context + ": check " + quote(*s);
        if (s->empty()) {
          error(n->source(), in(context, "name must not be empty"));
        } else if (!valid_name(*s)) {
          error(n->source(), in(context, "name " + quote(*s) +
                                             " may only contain letters, digits and _ . : @ -"));
        } else if (role && catalog_has_check(*role, *s)) {
          error(n->source(),
                in(context, "name " + quote(*s) + " is already a catalog check of role " +
                                std::string(to_string(*role)) +
                                " (move its port in [target.ports] instead)"));
        } else if (std::any_of(target.checks.begin(), target.checks.end(),
                               [&](const ExtraCheckConfig& c) { return c.name == *s; })) {
          const auto& first =
              *std::find_if(target.checks.begin(), target.checks.end(),
                            [&](const ExtraCheckConfig& c) { return c.name == *s; });
          error(n->source(), in(context, "duplicate check name (first defined on line " +
                                             std::to_string(first.pos.line) + ")"));
        }
      }
    } else {
      error(t.source(), in(context, "missing required key \"name\""));
    }

    reject_unknown_keys(t, kCheckKeys, context);

    // An ICMP echo has no port: none is required, and one given is a mistake.
    const toml::node* transport_node = t.get("transport");
    const bool is_icmp = transport_node && transport_node->value<std::string>() == "icmp";
    if (const toml::node* n = t.get("port")) {
      if (is_icmp) {
        error(n->source(), in(context, "port is not valid for icmp checks (no port to probe)"));
      } else if (auto port = port_value(*n, "port", context)) {
        check.port = *port;
      }
    } else if (!is_icmp) {
      error(t.source(), in(context, "missing required key \"port\""));
    }

    std::optional<Transport> transport;
    if (const toml::node* n = t.get("transport")) {
      if (auto s = string_value(*n, "transport", context)) {
        transport = parse_transport(*s);
        if (transport) {
          check.transport = *transport;
        } else {
          error(n->source(),
                in(context, "unknown transport " + quote(*s) + suggestion(*s, kTransportNames) +
                                "; valid transports: " + std::string(all_transport_names())));
        }
      }
    } else {
      error(t.source(), in(context, "missing required key \"transport\" (one of " +
                                        std::string(all_transport_names()) + ")"));
    }
    const bool is_http =
        transport && (*transport == Transport::http || *transport == Transport::https);
    const bool is_udp = transport == Transport::udp;
    // Settings that the transport would silently ignore are mistakes worth reporting.
    auto only_for = [&](std::string_view key, bool allowed, std::string_view which) {
      if (!transport || allowed) return true;
      for (auto&& [k, v] : t) {
        if (k.str() == key) {
          error(k.source(),
                in(context, std::string(key) + " is only valid for " + std::string(which) +
                                " checks, not " + std::string(to_string(*transport))));
        }
      }
      return false;
    };

    if (const toml::node* n = t.get("path")) {
      if (only_for("path", is_http, "http and https")) {
        if (auto s = string_value(*n, "path", context)) {
          if (s->empty() || s->front() != '/') {
            error(n->source(), in(context, "path " + quote(*s) + " must start with \"/\""));
          } else if (has_space_or_control(*s)) {
            error(n->source(), in(context, "path must not contain spaces"));
          } else {
            check.path = *s;
          }
        }
      }
    } else if (is_http) {
      check.path = "/";
    }

    if (const toml::node* n = t.get("status")) {
      if (only_for("status", is_http, "http and https")) load_status(*n, check, context);
    }
    if (const toml::node* n = t.get("expect_metrics")) {
      if (only_for("expect_metrics", is_http, "http and https")) {
        if (const auto* b = n->as_boolean()) {
          check.expect_metrics = b->get();
        } else {
          error(n->source(),
                in(context, "expect_metrics must be a boolean, not " + std::string(type_name(*n))));
        }
      }
    }
    if (const toml::node* n = t.get("payload")) {
      if (only_for("payload", is_udp, "udp")) {
        if (auto s = string_value(*n, "payload", context)) check.payload = *s;
      }
    }

    const toml::node* interval_node = t.get("interval");
    const toml::node* timeout_node = t.get("timeout");
    Effective interval = target_interval;
    Effective timeout = target_timeout;
    if (interval.origin.empty()) interval.origin = "from the target";
    if (timeout.origin.empty()) timeout.origin = "from the target";
    if (interval_node) {
      check.interval = duration_value(*interval_node, "interval", context);
      interval = Effective{check.interval.value_or(Duration{0}), check.interval.has_value(), ""};
    }
    if (timeout_node) {
      check.timeout = duration_value(*timeout_node, "timeout", context);
      timeout = Effective{check.timeout.value_or(Duration{0}), check.timeout.has_value(), ""};
    }
    if (interval_node || timeout_node) {
      check_timing(interval, timeout, interval_node, timeout_node, context);
    }
    return check;
  }

  void load_status(const toml::node& n, ExtraCheckConfig& check, const std::string& context) {
    const auto* arr = n.as_array();
    if (!arr) {
      error(n.source(), in(context, "status must be an array like [200, \"3xx\"], not " +
                                        std::string(type_name(n))));
      return;
    }
    if (arr->empty()) {
      error(n.source(), in(context, "status must list at least one code or class"));
      return;
    }
    StatusMatcher matcher;
    bool ok = true;
    for (const toml::node& item : *arr) {
      if (const auto* i = item.as_integer()) {
        if (i->get() < 100 || i->get() > 599) {
          error(item.source(),
                in(context, "status " + std::to_string(i->get()) + " is outside 100..599"));
          ok = false;
        } else {
          matcher.add(static_cast<int>(i->get()));
        }
      } else if (const auto* s = item.as_string()) {
        const std::string& v = s->get();
        if (v.size() == 3 && v[0] >= '1' && v[0] <= '5' && (v[1] == 'x' || v[1] == 'X') &&
            (v[2] == 'x' || v[2] == 'X')) {
          matcher.add_class(v[0] - '0');
        } else {
          error(item.source(),
                in(context, "status " + quote(v) + " is not a status class (\"1xx\" to \"5xx\")"));
          ok = false;
        }
      } else {
        error(item.source(), in(context,
                                "status entries must be integers or strings like "
                                "\"2xx\", not " +
                                    std::string(type_name(item))));
        ok = false;
      }
    }
    if (ok) check.statuses = matcher;
  }

  std::string source_;
  std::filesystem::path base_dir_;
  Duration target_files_refresh_ = std::chrono::seconds(10);
  std::vector<ConfigError> errors_;
  std::map<std::string, int> target_lines_;  // target name -> line of its first definition
  Effective daemon_interval_;
  Effective daemon_timeout_;
};

}  // namespace

std::string LoadResult::error_text() const {
  std::string out;
  for (const auto& e : errors) {
    out += e.format();
    out += '\n';
  }
  return out;
}

LoadResult load_config_string(std::string_view toml_text, std::string source_name) {
  return Loader(std::move(source_name), {}).load(toml_text);
}

LoadResult load_config_file(const std::string& path) {
  errno = 0;
  std::ifstream file(path, std::ios::binary);
  std::error_code ec;
  if (!file || std::filesystem::is_directory(path, ec)) {
    int err = errno;
    LoadResult result;
    std::string why = std::filesystem::is_directory(path, ec) ? "is a directory"
                      : err                                   ? std::strerror(err)
                                                              : "unreadable";
    result.errors.push_back(ConfigError{SourcePos{path, 0, 0}, "cannot read config file: " + why});
    return result;
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) {
    LoadResult result;
    result.errors.push_back(ConfigError{SourcePos{path, 0, 0}, "cannot read config file"});
    return result;
  }
  std::filesystem::path base = std::filesystem::path(path).parent_path();
  if (base.empty()) base = ".";
  return Loader(path, base).load(text.str());
}

}  // namespace kscprobe
