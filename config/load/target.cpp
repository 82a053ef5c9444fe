// [[target]]: one device, its role, address, labels and the catalog checks it changes.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "config/load/walk.hpp"
#include "config/rules.hpp"

namespace kscprobe::load {

namespace {

constexpr std::string_view kTargetKeys[] = {"name",        "role",
                                            "address",     "features",
                                            "labels",      "disable",
                                            "interval",    "timeout",
                                            "engine",      "metrics_path",
                                            "udp_payload", "server_name",
                                            "ca_file",     "fingerprint_sha256",
                                            "ports",       "check"};
constexpr std::string_view kFeatureNames[] = {"ksn_proxy",       "mobile",      "uefi", "local",
                                              "on_admin_server", "push_server", "icmp"};

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

}  // namespace

TargetConfig Loader::load_target(const toml::table& t, std::size_t index) {
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
        error(n->source(),
              in(context, "name " + quote(*s) + " may only contain letters, digits and _ . : @ -"));
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
        error(n->source(),
              in(context, "unknown role " + quote(*s) + suggestion(*s, kRoles.names()) +
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
              in(context, "unknown engine " + quote(*s) + suggestion(*s, kEngines.names()) +
                              "; valid engines: " + kEngines.joined()));
      } else if (role && *role != Role::database) {
        error(engine_node->source(), in(context, "engine is only valid for role database, not " +
                                                     std::string(to_string(*role))));
      } else {
        target.engine = engine;
      }
    }
  } else if (role == Role::database) {
    error(t.source(), in(context, "missing required key \"engine\" for role database (one of " +
                                      kEngines.joined() + ")"));
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

  const Timing timing = load_timing(t, Timing{daemon_interval_, daemon_timeout_}, &target.interval,
                                    &target.timeout, context);

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
              load_check(*table, j + 1, role, target, timing.interval, timing.timeout, context));
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

void Loader::load_address(const toml::node& n, const std::string& address, TargetConfig& target,
                          const std::string& context) {
  std::string why;
  if (auto a = rules::parse_address(address, &why)) {
    target.address = std::move(*a);
  } else {
    error(n.source(),
          in(context, "address " + (address.empty() ? "" : quote(address) + " ") + why));
  }
}

void Loader::load_features(const toml::node& n, TargetConfig& target, const std::string& context) {
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
      error(item.source(),
            in(context, "unknown feature " + quote(s->get()) + suggestion(s->get(), kFeatureNames) +
                            "; valid features: " + std::string(all_feature_names())));
    }
  }
}

void Loader::load_labels(const toml::node& n, TargetConfig& target, const std::string& context) {
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

void Loader::load_ca_file(const toml::node& n, const std::string& file, TargetConfig& target,
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

void Loader::load_fingerprint(const toml::node& n, const std::string& text, TargetConfig& target,
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

void Loader::load_ports(const toml::node& n, const std::optional<Role>& role,
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

}  // namespace kscprobe::load
