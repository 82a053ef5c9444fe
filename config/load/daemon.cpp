// [daemon]: timing, budgets, shard.
#include "config/load/walk.hpp"
#include "config/plan.hpp"

namespace kscprobe::load {

namespace {

constexpr std::string_view kDaemonKeys[] = {"interval",
                                            "timeout",
                                            "max_in_flight",
                                            "max_datagram_in_flight",
                                            "max_quiet_in_flight",
                                            "shard",
                                            "tls_full_handshake_interval",
                                            "target_files_refresh"};

constexpr long long kMaxInFlight = 65536;

}  // namespace

void Loader::load_daemon(const toml::table& t, DaemonConfig& daemon) {
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
      if (auto shard = parse_shard(*v, &why)) {
        daemon.shard_index = shard->index;
        daemon.shard_count = shard->count;
      } else {
        error(n->source(), in(context, "shard: " + why));
      }
    }
  }
}

}  // namespace kscprobe::load
