// [[ksc]]: a KSC Administration Server whose OpenAPI lists the devices to probe.
#include <set>

#include "config/load/walk.hpp"
#include "config/rules.hpp"

namespace kscprobe::load {

namespace {

constexpr std::string_view kKscKeys[] = {"name",
                                         "url",
                                         "user",
                                         "password_file",
                                         "password_env",
                                         "domain",
                                         "internal",
                                         "vserver",
                                         "session",
                                         "ca_file",
                                         "fingerprint_sha256",
                                         "insecure_skip_verify",
                                         "server_name",
                                         "refresh",
                                         "stale_after",
                                         "host_filter",
                                         "roles",
                                         "labels",
                                         "features",
                                         "timeout",
                                         "page_size",
                                         "groups",
                                         "include_unassigned",
                                         "max_devices"};

constexpr std::string_view kKscRoles[] = {"agent", "distribution_point"};

// The labels that discovery gives every target it finds.
constexpr std::string_view kDiscoveryLabels[] = {"ksc_server", "ksc_group", "ksc_host_id",
                                                 "ksc_connection_gateway"};

// A group path is names below "Managed devices", separated by "/": none empty, none padded.
std::string check_group_path(std::string_view path) {
  if (path.empty()) return "must not be empty";
  if (path.size() > 1024) return "is longer than 1024 characters";
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    std::string_view part =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (part.empty()) return "has an empty name between slashes (write \"Lyon/Branch 2\")";
    if (part.front() == ' ' || part.back() == ' ')
      return "has a name with leading or trailing spaces";
    for (char c : part)
      if (static_cast<unsigned char>(c) < 0x20) return "holds a control character";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

}  // namespace

KscSource Loader::load_ksc(const toml::table& t, std::size_t index) {
  KscSource ksc;
  ksc.pos = pos(t.source());
  std::string context = "ksc #" + std::to_string(index);
  // Never echo what was written there: it is a password.
  if (const toml::node* p = t.get("password")) {
    error(p->source(), in(context,
                          "password must not be written in the configuration: put it in a file "
                          "(password_file) or an environment variable (password_env)"));
  }
  std::vector<std::string_view> known(std::begin(kKscKeys), std::end(kKscKeys));
  known.push_back("password");  // reported above
  reject_unknown_keys(t, known, context);

  if (const toml::node* n = t.get("name")) {
    if (auto s = string_value(*n, "name", context)) {
      if (!valid_name(*s)) {
        error(n->source(), in(context, "name " + quote(*s) +
                                           " must be letters, digits and _ . : @ - (it becomes "
                                           "the ksc_server label)"));
      } else {
        ksc.name = *s;
        context = "ksc " + quote(ksc.name);
      }
    }
  } else {
    error(t.source(), in(context, "name is required (it becomes the ksc_server label)"));
  }
  if (const toml::node* n = t.get("url")) {
    if (auto s = string_value(*n, "url", context)) {
      std::string why;
      if (parse_ksc_url(*s, &why)) {
        ksc.url = *s;
      } else {
        // Never echo user information: "https://user:secret@host" holds a password.
        error(n->source(), in(context, "url " + quote(redact_url(*s)) + " " + why +
                                           " (e.g. \"https://ksc01.corp.example:13299\")"));
      }
    }
  } else {
    error(t.source(), in(context, "url is required, e.g. \"https://ksc01.corp.example:13299\""));
  }
  if (const toml::node* n = t.get("user")) {
    if (auto s = string_value(*n, "user", context)) {
      if (s->empty()) error(n->source(), in(context, "user must not be empty"));
      ksc.user = *s;
    }
  } else {
    error(t.source(), in(context, "user is required (a read-only KSC account)"));
  }

  // The password: from exactly one place, readable now (and again at each discovery).
  const toml::node* file_node = t.get("password_file");
  const toml::node* env_node = t.get("password_env");
  if (file_node && env_node) {
    error(env_node->source(), in(context, "password_file and password_env exclude each other"));
  } else if (file_node) {
    if (auto f = readable_file(*file_node, "password_file", context)) ksc.password_file = *f;
  } else if (env_node) {
    if (auto s = string_value(*env_node, "password_env", context)) {
      if (s->empty()) {
        error(env_node->source(), in(context, "password_env must not be empty"));
      } else {
        ksc.password_env = *s;
      }
    }
  } else if (!t.get("password")) {
    error(t.source(), in(context, "needs password_file or password_env"));
  }
  if (!ksc.password_file.empty() || !ksc.password_env.empty()) {
    std::string why;
    if (!read_ksc_password(ksc, &why))
      error((file_node ? file_node : env_node)->source(), in(context, why));
  }

  if (const toml::node* n = t.get("domain")) {
    if (auto s = string_value(*n, "domain", context)) ksc.domain = *s;
  }
  if (const toml::node* n = t.get("internal")) {
    if (const auto* b = n->as_boolean()) {
      ksc.internal = b->get();
    } else {
      error(n->source(),
            in(context, "internal must be a boolean, not " + std::string(type_name(*n))));
    }
  }
  if (const toml::node* n = t.get("vserver")) {
    if (auto s = string_value(*n, "vserver", context)) ksc.vserver = *s;
  }
  if (const toml::node* n = t.get("session")) {
    if (auto s = string_value(*n, "session", context)) {
      if (*s == "connection") {
        ksc.session = KscSessionMode::connection;
      } else if (*s == "token") {
        ksc.session = KscSessionMode::token;
      } else {
        error(n->source(), in(context,
                              "session must be \"connection\" (login, the session lives "
                              "on the connection) or \"token\" (Session.StartSession), "
                              "not " +
                                  quote(*s)));
      }
    }
  }

  // Trust in the server's certificate.
  TargetConfig scratch;  // the target rules fill one; their results are copied below
  if (const toml::node* n = t.get("ca_file")) {
    if (auto f = readable_file(*n, "ca_file", context)) ksc.ca_file = *f;
  }
  if (const toml::node* n = t.get("fingerprint_sha256")) {
    if (auto s = string_value(*n, "fingerprint_sha256", context)) {
      load_fingerprint(*n, *s, scratch, context);
      ksc.fingerprint_sha256 = scratch.tls.fingerprint_sha256;
    }
  }
  if (const toml::node* n = t.get("insecure_skip_verify")) {
    if (const auto* b = n->as_boolean()) {
      ksc.insecure_skip_verify = b->get();
      if (ksc.insecure_skip_verify && (t.get("ca_file") || t.get("fingerprint_sha256")))
        error(n->source(), in(context,
                              "insecure_skip_verify = true contradicts ca_file and "
                              "fingerprint_sha256, which verify the certificate"));
    } else {
      error(n->source(), in(context, "insecure_skip_verify must be a boolean, not " +
                                         std::string(type_name(*n))));
    }
  }
  if (!t.get("ca_file") && !t.get("fingerprint_sha256") && !t.get("insecure_skip_verify")) {
    error(t.source(),
          in(context,
             "needs ca_file or fingerprint_sha256 to verify the server's certificate "
             "(KSC's own is self-signed), or insecure_skip_verify = true to skip that"));
  }
  if (const toml::node* n = t.get("server_name")) {
    if (auto s = string_value(*n, "server_name", context)) ksc.server_name = *s;
  }

  if (const toml::node* n = t.get("refresh")) {
    if (auto d = duration_value(*n, "refresh", context)) {
      if (*d < std::chrono::seconds(1)) {
        error(n->source(), in(context, "refresh must be at least 1s"));
      } else {
        ksc.refresh = *d;
      }
    }
  }
  if (const toml::node* n = t.get("stale_after")) {
    if (auto d = duration_value(*n, "stale_after", context)) ksc.stale_after = *d;
  }
  if (const toml::node* n = t.get("timeout")) {
    if (auto d = duration_value(*n, "timeout", context)) ksc.limits.request_timeout = *d;
  }
  if (const toml::node* n = t.get("page_size")) {
    if (auto v = unsigned_value(*n, "page_size", 10, 10000, context)) ksc.limits.page_size = *v;
  }
  if (const toml::node* n = t.get("max_devices")) {
    if (auto v = unsigned_value(*n, "max_devices", 1, 10000000, context))
      ksc.limits.max_devices = *v;
  }
  if (const toml::node* n = t.get("host_filter")) {
    if (auto s = string_value(*n, "host_filter", context)) {
      if (s->size() > 4096) {
        error(n->source(), in(context, "host_filter is longer than 4096 characters"));
      } else {
        ksc.host_filter = *s;
      }
    }
  }
  if (const toml::node* n = t.get("include_unassigned")) {
    if (const auto* b = n->as_boolean()) {
      ksc.include_unassigned = b->get();
    } else {
      error(n->source(),
            in(context, "include_unassigned must be a boolean, not " + std::string(type_name(*n))));
    }
  }
  if (const toml::node* n = t.get("groups")) {
    const auto* arr = n->as_array();
    if (!arr) {
      error(n->source(), in(context,
                            "groups must be an array of administration group paths, e.g. "
                            "[\"Paris\", \"Lyon/Branch 2\"]"));
    } else {
      std::set<std::string> seen;
      for (const toml::node& item : *arr) {
        auto s = string_value(item, "groups entry", context);
        if (!s) continue;
        std::string why = check_group_path(*s);
        if (!why.empty()) {
          error(item.source(), in(context, "group " + quote(*s) + " " + why));
        } else if (!seen.insert(*s).second) {
          error(item.source(), in(context, "group " + quote(*s) + " is listed twice"));
        } else {
          ksc.groups.push_back(*s);
        }
      }
    }
  }

  if (const toml::node* n = t.get("roles")) {
    const auto* arr = n->as_array();
    if (!arr || arr->empty()) {
      error(n->source(), in(context,
                            "roles must be a non-empty array of \"agent\" and "
                            "\"distribution_point\""));
    } else {
      ksc.roles.clear();
      for (const toml::node& item : *arr) {
        auto s = string_value(item, "roles entry", context);
        if (!s) continue;
        if (*s == "agent") {
          ksc.roles.push_back(Role::agent);
        } else if (*s == "distribution_point") {
          ksc.roles.push_back(Role::distribution_point);
        } else {
          error(item.source(),
                in(context, "role " + quote(*s) + suggestion(*s, kKscRoles) +
                                " is not one KSC discovery finds: " + join(kKscRoles)));
        }
      }
    }
  }
  if (const toml::node* n = t.get("labels")) {
    load_labels(*n, scratch, context);
    for (auto& [name, value] : scratch.labels) {
      bool taken = false;
      for (std::string_view own : kDiscoveryLabels) taken = taken || name == own;
      if (taken) {
        error(n->source(), in(context, "label " + quote(name) +
                                           " is set by discovery itself (ksc_server, ksc_group, "
                                           "ksc_host_id, ksc_connection_gateway)"));
      } else {
        ksc.labels.emplace_back(name, value);
      }
    }
  }
  if (const toml::node* n = t.get("features")) {
    load_features(*n, scratch, context);
    ksc.features = scratch.features;
  }
  return ksc;
}

void Loader::load_ksc_sections(const toml::node& n, Config& config) {
  const auto* arr = n.as_array();
  if (!arr) {
    error(n.source(), "ksc must be an array of tables ([[ksc]]), not " + std::string(type_name(n)));
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& item = (*arr)[i];
    const auto* t = item.as_table();
    if (!t) {
      error(item.source(), "ksc #" + std::to_string(i + 1) + " must be a table, not " +
                               std::string(type_name(item)));
      continue;
    }
    KscSource ksc = load_ksc(*t, i + 1);
    if (!ksc.name.empty() && !names.insert(ksc.name).second) {
      const toml::node* name = t->get("name");
      error(name ? name->source() : t->source(),
            "ksc " + quote(ksc.name) + ": another [[ksc]] already has this name");
      continue;
    }
    config.ksc.push_back(std::move(ksc));
  }
}

}  // namespace kscprobe::load
