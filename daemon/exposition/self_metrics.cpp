#include "daemon/exposition/self_metrics.hpp"

#include "collectors/name_resolver.hpp"
#include "daemon/exposition/discovery_metrics.hpp"
#include "daemon/exposition/text_writer.hpp"
#include "daemon/runtime/local_faults.hpp"

namespace kscprobe::exposition {

namespace {

/// The host's own limits: local faults and the budgets fitted to the open-file limit.
void write_limit_metrics(std::string& out, const SelfMetrics& m) {
  {
    FamilyWriter f(out, "kscprobe_local_errors_total",
                   "Probes that failed on this host (out of descriptors, local ports, buffers, "
                   "memory, or no right to an ICMP socket) and say nothing of their target.",
                   "counter");
    for (int k = 1; k < kLocalFaultCount; ++k) {
      const auto kind = static_cast<LocalFault>(k);
      f.sample(label("kind", to_string(kind)), {},
               static_cast<double>(m.local_faults->total(kind)));
    }
  }
  FamilyWriter(out, "kscprobe_local_errors_active",
               "1 while probes fail on this host (one within the last minute): /-/ready "
               "answers 503.",
               "gauge")
      .sample({}, {}, m.local_faults_active ? 1.0 : 0.0);
  FamilyWriter(out, "kscprobe_open_files_limit",
               "The open-file limit the in-flight budgets are fitted to (0: none).", "gauge")
      .sample({}, {}, static_cast<double>(m.fit.limit));
  FamilyWriter(out, "kscprobe_probe_budget_clamped",
               "1 when the plan's in-flight budgets were lowered to fit the open-file limit.",
               "gauge")
      .sample({}, {}, m.fit.clamped ? 1.0 : 0.0);
  {
    FamilyWriter f(out, "kscprobe_probe_budget",
                   "Probes allowed in flight at once, per budget lane, as in force.", "gauge");
    for (int l = 0; l < kLaneCount; ++l)
      f.sample(label("lane", to_string(static_cast<Lane>(l))), {}, m.budgets[l]);
  }
}

/// The name resolver that every probe, the KSC client and the Pushgateway output share: what
/// its lookups cost the DNS servers, and its queue.
void write_resolver_metrics(std::string& out, const ResolverStats& r) {
  {
    FamilyWriter f(out, "kscprobe_resolver_lookups_total",
                   "Host-name lookups by how they were answered: cache (an answer or failure "
                   "still within its TTL), joined (a query for the same name already running), "
                   "query (asked of the DNS servers), queue_full (refused: a local fault).",
                   "counter");
    f.sample(label("outcome", "cache"), {}, r.cache_hits);
    f.sample(label("outcome", "joined"), {}, r.joined);
    f.sample(label("outcome", "query"), {}, r.queries);
    f.sample(label("outcome", "queue_full"), {}, r.queue_full);
  }
  FamilyWriter(out, "kscprobe_resolver_queries_in_flight", "Host-name queries in progress now.",
               "gauge")
      .sample({}, {}, r.in_flight);
  FamilyWriter(out, "kscprobe_resolver_queued", "Host names waiting for a query slot now.", "gauge")
      .sample({}, {}, r.queued);
}

}  // namespace

void write_self_metrics(std::string& out, const SelfMetrics& m) {
  FamilyWriter(out, "kscprobe_build_info",
               "A metric with a constant 1 labelled by version of kscprobe.", "gauge")
      .sample(label("version", KSCPROBE_VERSION), {}, 1.0);
  FamilyWriter(out, "kscprobe_config_last_reload_successful",
               "1 if the last configuration load succeeded.", "gauge")
      .sample({}, {}, m.last_reload_ok ? 1.0 : 0.0);
  FamilyWriter(out, "kscprobe_config_last_reload_success_timestamp_seconds",
               "Unix time of the last successful configuration load.", "gauge")
      .sample({}, {}, m.last_reload_success_ts);
  if (!m.discovery.empty()) write_discovery_metrics(out, m.discovery);
  write_limit_metrics(out, m);
  write_resolver_metrics(out, *m.resolver);
}

}  // namespace kscprobe::exposition
