// [[target.check]]: an extra check beside the catalog's.
#include <algorithm>

#include "config/load/walk.hpp"

namespace kscprobe::load {

namespace {

constexpr std::string_view kCheckKeys[] = {"name",    "port",     "transport",
                                           "path",    "status",   "expect_metrics",
                                           "payload", "interval", "timeout"};

}  // namespace

ExtraCheckConfig Loader::load_check(const toml::table& t, std::size_t index,
                                    const std::optional<Role>& role, const TargetConfig& target,
                                    const Effective& target_interval,
                                    const Effective& target_timeout,
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
        error(n->source(),
              in(context, "name " + quote(*s) + " may only contain letters, digits and _ . : @ -"));
      } else if (role && catalog_has_check(*role, *s)) {
        error(n->source(),
              in(context, "name " + quote(*s) + " is already a catalog check of role " +
                              std::string(to_string(*role)) +
                              " (move its port in [target.ports] instead)"));
      } else if (std::any_of(target.checks.begin(), target.checks.end(),
                             [&](const ExtraCheckConfig& c) { return c.name == *s; })) {
        const auto& first = *std::find_if(target.checks.begin(), target.checks.end(),
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
              in(context, "unknown transport " + quote(*s) + suggestion(*s, kTransports.names()) +
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

  Timing inherited{target_interval, target_timeout};
  if (inherited.interval.origin.empty()) inherited.interval.origin = "from the target";
  if (inherited.timeout.origin.empty()) inherited.timeout.origin = "from the target";
  load_timing(t, inherited, &check.interval, &check.timeout, context);
  return check;
}

void Loader::load_status(const toml::node& n, ExtraCheckConfig& check, const std::string& context) {
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

}  // namespace kscprobe::load
