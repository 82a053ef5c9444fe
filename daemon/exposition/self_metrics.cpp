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
    FamilyWriter f(out, family(Metric::local_errors_total));
    for (int k = 1; k < kLocalFaultCount; ++k) {
      const auto kind = static_cast<LocalFault>(k);
      f.sample(label("kind", to_string(kind)), {},
               static_cast<double>(m.local_faults->total(kind)));
    }
  }
  FamilyWriter(out, family(Metric::local_errors_active))
      .sample({}, {}, m.local_faults_active ? 1.0 : 0.0);
  FamilyWriter(out, family(Metric::open_files_limit))
      .sample({}, {}, static_cast<double>(m.fit.limit));
  FamilyWriter(out, family(Metric::probe_budget_clamped)).sample({}, {}, m.fit.clamped ? 1.0 : 0.0);
  {
    FamilyWriter f(out, family(Metric::probe_budget));
    for (int l = 0; l < kLaneCount; ++l)
      f.sample(label("lane", to_string(static_cast<Lane>(l))), {}, m.budgets[l]);
  }
}

/// The name resolver that every probe, the KSC client and the Pushgateway output share: what
/// its lookups cost the DNS servers, and its queue.
void write_resolver_metrics(std::string& out, const ResolverStats& r) {
  {
    FamilyWriter f(out, family(Metric::resolver_lookups_total));
    f.sample(label("outcome", "cache"), {}, r.cache_hits);
    f.sample(label("outcome", "joined"), {}, r.joined);
    f.sample(label("outcome", "query"), {}, r.queries);
    f.sample(label("outcome", "queue_full"), {}, r.queue_full);
  }
  FamilyWriter(out, family(Metric::resolver_queries_in_flight)).sample({}, {}, r.in_flight);
  FamilyWriter(out, family(Metric::resolver_queued)).sample({}, {}, r.queued);
}

}  // namespace

void write_self_metrics(std::string& out, const SelfMetrics& m) {
  FamilyWriter(out, family(Metric::build_info)).sample(label("version", KSCPROBE_VERSION), {}, 1.0);
  FamilyWriter(out, family(Metric::config_last_reload_successful))
      .sample({}, {}, m.last_reload_ok ? 1.0 : 0.0);
  FamilyWriter(out, family(Metric::config_last_reload_success_timestamp_seconds))
      .sample({}, {}, m.last_reload_success_ts);
  if (!m.discovery.empty()) write_discovery_metrics(out, m.discovery);
  write_limit_metrics(out, m);
  write_resolver_metrics(out, *m.resolver);
}

}  // namespace kscprobe::exposition
