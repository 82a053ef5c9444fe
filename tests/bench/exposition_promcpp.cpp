#include "tests/bench/exposition_promcpp.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <unordered_map>

namespace kscprobe::bench {

namespace P = prometheus;

namespace {

constexpr std::uint32_t kNoFull = 0xffffffffu;

P::Histogram::BucketBoundaries latency_bounds() {
  return P::Histogram::BucketBoundaries(kLatencyBuckets.begin(), kLatencyBuckets.end());
}

/// A counter at `value`: prometheus-cpp's counters only go up, by the difference.
void set_counter(P::Counter& c, double value) {
  const double by = value - c.Value();
  if (by > 0) c.Increment(by);
}

/// The histogram brought to `now` by what was observed since `seen` (ObserveMultiple takes
/// increments, the +Inf bucket last).
void set_histogram(P::Histogram& h, const HistogramData& now, HistogramData& seen) {
  if (now.count == seen.count && now.sum == seen.sum) return;
  std::vector<double> by(kLatencyBuckets.size() + 1);
  std::uint64_t finite_now = 0, finite_seen = 0;
  for (std::size_t b = 0; b < kLatencyBuckets.size(); ++b) {
    by[b] = static_cast<double>(now.buckets[b] - seen.buckets[b]);
    finite_now += now.buckets[b];
    finite_seen += seen.buckets[b];
  }
  by.back() = static_cast<double>((now.count - finite_now) - (seen.count - finite_seen));
  h.ObserveMultiple(by, now.sum - seen.sum);
  seen = now;
}

P::Labels with(P::Labels labels, const char* name, std::string_view value) {
  labels.emplace(name, std::string(value));
  return labels;
}

/// The series `slot` of `family` made to exist (with the labels `make` gives) or not.
template <class M, class Make>
M* keep(P::Family<M>& family, M*& slot, bool wanted, Make&& make) {
  if (!wanted) {
    if (slot) family.Remove(slot);
    slot = nullptr;
    return nullptr;
  }
  if (!slot) slot = &family.Add(make());
  return slot;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The daemon's own families

P::Family<P::Gauge>& PromSelfMetrics::gauge(const char* name, const char* help) {
  return P::BuildGauge().Name(name).Help(help).Register(registry_);
}
P::Family<P::Counter>& PromSelfMetrics::counter(const char* name, const char* help) {
  return P::BuildCounter().Name(name).Help(help).Register(registry_);
}

PromSelfMetrics::PromSelfMetrics(P::Registry& registry) : registry_(registry) {
  build_info_ =
      &gauge("kscprobe_build_info", "A metric with a constant 1 labelled by version of kscprobe.")
           .Add({{"version", KSCPROBE_VERSION}});
  reload_ok_ = &gauge("kscprobe_config_last_reload_successful",
                      "1 if the last configuration load succeeded.")
                    .Add({});
  reload_ts_ = &gauge("kscprobe_config_last_reload_success_timestamp_seconds",
                      "Unix time of the last successful configuration load.")
                    .Add({});
  auto& local = counter("kscprobe_local_errors_total",
                        "Probes that failed on this host (out of descriptors, local ports, "
                        "buffers, memory, or no right to an ICMP socket) and say nothing of their "
                        "target.");
  for (int k = 1; k < kLocalFaultCount; ++k)
    local_errors_.push_back(
        &local.Add({{"kind", std::string(to_string(static_cast<LocalFault>(k)))}}));
  local_active_ = &gauge("kscprobe_local_errors_active",
                         "1 while probes fail on this host (one within the last minute): "
                         "/-/ready answers 503.")
                       .Add({});
  open_files_ = &gauge("kscprobe_open_files_limit",
                       "The open-file limit the in-flight budgets are fitted to (0: none).")
                     .Add({});
  clamped_ = &gauge("kscprobe_probe_budget_clamped",
                    "1 when the plan's in-flight budgets were lowered to fit the open-file limit.")
                  .Add({});
  auto& budget = gauge("kscprobe_probe_budget",
                       "Probes allowed in flight at once, per budget lane, as in force.");
  auto lane = [](int l) {
    return P::Labels{{"lane", std::string(to_string(static_cast<Lane>(l)))}};
  };
  for (int l = 0; l < kLaneCount; ++l) budget_.push_back(&budget.Add(lane(l)));
  auto& lookups =
      counter("kscprobe_resolver_lookups_total",
              "Host-name lookups by how they were answered: cache (an answer or failure still "
              "within its TTL), joined (a query for the same name already running), query "
              "(asked of the DNS servers), queue_full (refused: a local fault).");
  for (const char* outcome : {"cache", "joined", "query", "queue_full"})
    lookups_.push_back(&lookups.Add({{"outcome", outcome}}));
  resolver_in_flight_ =
      &gauge("kscprobe_resolver_queries_in_flight", "Host-name queries in progress now.").Add({});
  resolver_queued_ =
      &gauge("kscprobe_resolver_queued", "Host names waiting for a query slot now.").Add({});
  auto& in_flight = gauge("kscprobe_probes_in_flight", "Probes running now, per budget lane.");
  auto& queued = gauge("kscprobe_probes_queued",
                       "Due probes waiting for a slot of their lane's in-flight budget.");
  auto& oldest = gauge("kscprobe_scheduler_oldest_wait_seconds",
                       "How long the longest-waiting due probe of each lane has waited for a "
                       "slot so far (0: none waits).");
  for (int l = 0; l < kLaneCount; ++l) {
    in_flight_.push_back(&in_flight.Add(lane(l)));
    queued_.push_back(&queued.Add(lane(l)));
    oldest_wait_.push_back(&oldest.Add(lane(l)));
  }
  overdue_ = &gauge("kscprobe_scheduler_overdue_checks",
                    "Checks waiting for a slot for at least their own interval: a round missed.")
                  .Add({});
  lag_ = &P::BuildHistogram()
              .Name("kscprobe_scheduler_lag_seconds")
              .Help("Delay between a probe's due time and its start.")
              .Register(registry_)
              .Add({}, latency_bounds());
  skipped_ = &counter("kscprobe_scheduler_skipped_total",
                      "Probes not started because the previous probe of the same check was "
                      "still running or waiting (overruns).")
                  .Add({});
  render_cpu_ = &gauge("kscprobe_metrics_render_cpu_seconds",
                       "CPU time the previous /metrics render took on the event loop.")
                     .Add({});
  render_bytes_ =
      &gauge("kscprobe_metrics_render_bytes", "Size of the previous /metrics render, uncompressed.")
           .Add({});
}

void PromSelfMetrics::update(const ExpositionEstate& e, double last_cpu_seconds,
                             std::size_t last_bytes) {
  build_info_->Set(1);
  reload_ok_->Set(1);
  reload_ts_->Set(e.self.last_reload_success_ts);
  for (auto* c : local_errors_) set_counter(*c, 0);
  local_active_->Set(0);
  open_files_->Set(e.self.open_files_limit);
  clamped_->Set(0);
  const Scheduler& s = *e.scheduler;
  for (int l = 0; l < kLaneCount; ++l) {
    budget_[l]->Set(s.budgets()[l]);
    in_flight_[l]->Set(s.in_flight(static_cast<Lane>(l)));
    queued_[l]->Set(static_cast<double>(s.queued(static_cast<Lane>(l))));
    oldest_wait_[l]->Set(s.oldest_wait_seconds(static_cast<Lane>(l)));
  }
  for (auto* c : lookups_) set_counter(*c, 0);
  resolver_in_flight_->Set(0);
  resolver_queued_->Set(0);
  overdue_->Set(static_cast<double>(s.overdue_checks()));
  set_histogram(*lag_, s.lag(), lag_seen_);
  set_counter(*skipped_, static_cast<double>(s.skipped()));
  render_cpu_->Set(last_cpu_seconds);
  render_bytes_->Set(static_cast<double>(last_bytes));
}

// ---------------------------------------------------------------------------------------------
// The estate

struct PromEstateExporter::Full {
  P::Gauge* duration = nullptr;
  std::array<P::Gauge*, kPhaseCount> phase{};
  P::Counter* probes = nullptr;
  std::array<P::Counter*, kReasonCount> failures{};
  P::Gauge* consecutive = nullptr;
  P::Gauge* not_after = nullptr;
  P::Gauge* tls_info = nullptr;
  const TlsInfo* tls_seen = nullptr;  // what tls_info's labels were made from
  P::Gauge* http_status = nullptr;
  P::Gauge* udp_reply = nullptr;
};

PromEstateExporter::PromEstateExporter(const ExpositionEstate& e)
    : e_(e), registry_(std::make_shared<P::Registry>()) {
  self_ = std::make_unique<PromSelfMetrics>(*registry_);
  auto gauge = [&](const char* name, const char* help) {
    return &P::BuildGauge().Name(name).Help(help).Register(*registry_);
  };
  auto counter = [&](const char* name, const char* help) {
    return &P::BuildCounter().Name(name).Help(help).Register(*registry_);
  };
  success_ = gauge("kscprobe_probe_success",
                   "1 if the last probe of the check succeeded (UDP: 1 unless refused).");
  failure_info_ = gauge("kscprobe_probe_failure_info",
                        "1 while the last probe of the check failed, with the reason of that "
                        "failure.");
  duration_ = gauge("kscprobe_probe_duration_seconds", "Duration of the last probe of the check.");
  phase_ = gauge("kscprobe_probe_phase_seconds",
                 "Duration of each phase of the last probe of the check.");
  probes_ = counter("kscprobe_probes_total",
                    "Probes run, per check (full detail) or per aggregate group.");
  failures_ = counter("kscprobe_probe_failures_total",
                      "Failed probes by reason, per check (full detail) or per aggregate group.");
  consecutive_ = gauge("kscprobe_probe_consecutive_failures",
                       "Failed probes of the check since its last success.");
  last_success_ = gauge("kscprobe_last_success_timestamp_seconds",
                        "Unix time of the check's last successful probe (0: never).");
  not_after_ = gauge("kscprobe_tls_cert_not_after_timestamp_seconds",
                     "Unix time at which the peer's leaf certificate expires.");
  tls_info_ =
      gauge("kscprobe_tls_info", "TLS version and leaf certificate seen on the last handshake.");
  http_status_ = gauge("kscprobe_probe_http_status_code",
                       "HTTP status code of the last probe (0: no response).");
  udp_reply_ = gauge("kscprobe_probe_udp_reply",
                     "1 if the UDP port answered (confirmed open); 0 if silent (open or filtered) "
                     "or refused.");
  latency_ = &P::BuildHistogram()
                  .Name("kscprobe_probe_latency_seconds")
                  .Help("Duration of successful probes, per role and check (all targets).")
                  .Register(*registry_);
  aggregate_ = gauge("kscprobe_aggregate_checks",
                     "Checks per role, check, transport and aggregate label set, by the outcome "
                     "of their last probe: up, unknown (not probed yet), or the failure reason.");
  checks_ = gauge("kscprobe_checks", "Checks in the running plan, per role.");
  targets_ = gauge("kscprobe_targets", "Targets in the running plan.");
  shard_ = gauge("kscprobe_shard_info",
                 "This instance probes the targets of shard `shard` of `shards` ([daemon] shard, "
                 "--shard).");

  const Plan& plan = *e.plan;
  const std::size_t n = plan.checks.size();
  success_of_.assign(n, nullptr);
  failure_of_.assign(n, nullptr);
  last_success_of_.assign(n, nullptr);
  failure_reason_.assign(n, Reason::none);
  full_index_.assign(n, kNoFull);
  group_of_.assign(n, 0);
  // The aggregate groups: role, check, transport and the [metrics] aggregate_labels.
  std::unordered_map<std::string, std::uint32_t> groups;
  std::string key;
  for (std::size_t i = 0; i < n; ++i) {
    const CheckSpec& c = plan.checks[i];
    const PlannedTarget& t = plan.target_of(c);
    if (plan.metrics.detail[static_cast<int>(t.role)] == Detail::full) {
      full_index_[i] = static_cast<std::uint32_t>(full_.size());
      full_.emplace_back();
    }
    P::Labels g{{"role", std::string(to_string(t.role))},
                {"check", c.check},
                {"transport", std::string(to_string(c.transport))}};
    for (const auto& name : plan.metrics.aggregate_labels) {
      for (const auto& [k, v] : t.labels)
        if (k == name && !v.empty()) g.emplace(k, v);
    }
    key.clear();
    for (const auto& [k, v] : g) key += k + '\0' + v + '\0';
    auto [it, added] = groups.try_emplace(key, static_cast<std::uint32_t>(group_labels_.size()));
    if (added) group_labels_.push_back(std::move(g));
    group_of_[i] = it->second;
  }
  group_probes_.assign(group_labels_.size(), nullptr);
  group_failures_.assign(group_labels_.size(), {});
  group_states_.assign(group_labels_.size(), {});
}

PromEstateExporter::~PromEstateExporter() = default;

P::Labels PromEstateExporter::labels_of(std::uint32_t i) const {
  const Plan& plan = *e_.plan;
  const CheckSpec& c = plan.checks[i];
  const PlannedTarget& t = plan.target_of(c);
  P::Labels labels{{"target", t.name},
                   {"role", std::string(to_string(t.role))},
                   {"check", c.check},
                   {"port", std::to_string(c.port)},
                   {"transport", std::string(to_string(c.transport))}};
  for (const auto& [k, v] : t.labels)
    if (!v.empty()) labels.emplace(k, v);
  return labels;
}

void PromEstateExporter::update(double last_cpu_seconds, std::size_t last_bytes) {
  const Plan& plan = *e_.plan;
  const ResultTable& table = *e_.table;
  const auto n = static_cast<std::uint32_t>(table.size());
  const std::size_t groups = group_labels_.size();
  std::vector<std::uint64_t> group_probes(groups);
  std::vector<std::array<std::uint64_t, kReasonCount>> group_failures(groups);
  std::vector<std::array<std::uint64_t, kReasonCount + 1>> group_states(groups);
  std::vector<bool> group_summed(groups);

  for (std::uint32_t i = 0; i < n; ++i) {
    const CheckState& s = table.state(i);
    const CheckSpec& c = plan.checks[i];
    const Detail detail = plan.metrics.detail[static_cast<int>(plan.target_of(c).role)];
    const bool full = detail == Detail::full;
    const bool named = detail != Detail::aggregate || (s.has_result && !s.success);
    // The check's label set, made only when one of its series is added.
    std::optional<P::Labels> base;
    auto labels = [&]() -> const P::Labels& {
      if (!base) base = labels_of(i);
      return *base;
    };

    if (auto* g = keep(*success_, success_of_[i], s.has_result && named, labels))
      g->Set(s.success ? 1.0 : 0.0);
    const bool failing = s.has_result && !s.success;
    if (failure_of_[i] && failure_reason_[i] != s.reason)
      keep(*failure_info_, failure_of_[i], false, labels);
    if (auto* g = keep(*failure_info_, failure_of_[i], failing,
                       [&] { return with(labels(), "reason", to_string(s.reason)); }))
      g->Set(1);
    failure_reason_[i] = s.reason;
    if (auto* g = keep(*last_success_, last_success_of_[i], named, labels))
      g->Set(s.last_success_ts);

    const std::uint32_t g = group_of_[i];
    ++group_states[g][s.has_result ? static_cast<int>(s.success ? Reason::none : s.reason)
                                   : kReasonCount];
    if (!full) {
      group_summed[g] = true;
      group_probes[g] += s.probes_total;
      for (int r = 1; r < kReasonCount; ++r) group_failures[g][r] += s.failures(r);
      continue;
    }
    Full& f = full_[full_index_[i]];
    if (auto* m = keep(*duration_, f.duration, s.has_result, labels)) m->Set(s.duration);
    for (int p = 0; p < kPhaseCount; ++p) {
      if (auto* m = keep(*phase_, f.phase[p], s.has_result && s.phases[p] >= 0,
                         [&] { return with(labels(), "phase", to_string(static_cast<Phase>(p))); }))
        m->Set(s.phases[p]);
    }
    set_counter(*keep(*probes_, f.probes, true, labels), static_cast<double>(s.probes_total));
    for (int r = 1; r < kReasonCount; ++r) {
      if (auto* m = keep(*failures_, f.failures[r], s.failures(r) != 0, [&] {
            return with(labels(), "reason", to_string(static_cast<Reason>(r)));
          }))
        set_counter(*m, static_cast<double>(s.failures(r)));
    }
    if (auto* m = keep(*consecutive_, f.consecutive, s.has_result, labels))
      m->Set(s.consecutive_failures);
    const bool tls = s.has_result && s.tls() && s.tls()->not_after > 0;
    if (auto* m = keep(*not_after_, f.not_after, tls, labels))
      m->Set(static_cast<double>(s.tls()->not_after));
    if (f.tls_info && f.tls_seen != s.tls().get()) keep(*tls_info_, f.tls_info, false, labels);
    if (auto* m = keep(*tls_info_, f.tls_info, tls, [&] {
          P::Labels l = labels();
          l.emplace("version", s.tls()->version);
          l.emplace("fingerprint_sha256", s.tls()->fingerprint_sha256);
          l.emplace("subject", s.tls()->subject);
          return l;
        }))
      m->Set(1);
    f.tls_seen = tls ? s.tls().get() : nullptr;
    const bool http = c.transport == Transport::http || c.transport == Transport::https;
    if (auto* m = keep(*http_status_, f.http_status, s.has_result && http, labels))
      m->Set(s.http_status);
    if (auto* m =
            keep(*udp_reply_, f.udp_reply, s.has_result && c.transport == Transport::udp, labels))
      m->Set(s.udp_reply ? 1.0 : 0.0);
  }

  for (std::size_t g = 0; g < groups; ++g) {
    const P::Labels& l = group_labels_[g];
    if (auto* m = keep(*probes_, group_probes_[g], group_summed[g], [&] { return l; }))
      set_counter(*m, static_cast<double>(group_probes[g]));
    for (int r = 1; r < kReasonCount; ++r) {
      if (auto* m =
              keep(*failures_, group_failures_[g][r], group_summed[g] && group_failures[g][r] != 0,
                   [&] { return with(l, "reason", to_string(static_cast<Reason>(r))); }))
        set_counter(*m, static_cast<double>(group_failures[g][r]));
    }
    // up and unknown always; a reason while checks fail for it.
    for (int r = 0; r <= kReasonCount; ++r) {
      const bool always = r == 0 || r == kReasonCount;
      const std::string_view state = r == 0              ? std::string_view("up")
                                     : r == kReasonCount ? std::string_view("unknown")
                                                         : to_string(static_cast<Reason>(r));
      if (auto* m = keep(*aggregate_, group_states_[g][r], always || group_states[g][r] != 0,
                         [&] { return with(l, "state", state); }))
        m->Set(static_cast<double>(group_states[g][r]));
    }
  }

  const auto& latency = table.latency();
  if (latency_of_.size() != latency.size()) {
    latency_of_.clear();
    latency_seen_.assign(latency.size(), HistogramData{});
    for (const auto& [key, h] : latency)
      latency_of_.push_back(&latency_->Add(
          {{"role", std::string(to_string(key.role))}, {"check", key.check}}, latency_bounds()));
  }
  for (std::size_t k = 0; k < latency.size(); ++k)
    set_histogram(*latency_of_[k], latency[k].second, latency_seen_[k]);

  std::array<std::uint64_t, kRoleCount> per_role{};
  for (const auto& c : plan.checks) ++per_role[static_cast<int>(plan.target_of(c).role)];
  for (int r = 0; r < kRoleCount; ++r) {
    if (!checks_of_[r])
      checks_of_[r] = &checks_->Add({{"role", std::string(to_string(static_cast<Role>(r)))}});
    checks_of_[r]->Set(static_cast<double>(per_role[r]));
  }
  if (!targets_gauge_) targets_gauge_ = &targets_->Add({});
  targets_gauge_->Set(static_cast<double>(plan.targets.size()));
  if (!shard_gauge_)
    shard_gauge_ = &shard_->Add({{"shard", std::to_string(plan.daemon.shard_index)},
                                 {"shards", std::to_string(plan.daemon.shard_count)}});
  shard_gauge_->Set(1);
  self_->update(e_, last_cpu_seconds, last_bytes);
}

// ---------------------------------------------------------------------------------------------
// /probe

std::string promcpp_probe_body(const std::vector<CheckSpec>& checks,
                               const std::vector<ProbeResult>& results) {
  P::Registry registry;
  auto gauge = [&](const char* name, const char* help) -> P::Family<P::Gauge>& {
    return P::BuildGauge().Name(name).Help(help).Register(registry);
  };
  auto& success = gauge("probe_success", "Whether the probe of the check succeeded.");
  auto& duration = gauge("probe_duration_seconds", "How long the probe took.");
  auto& dns = gauge("probe_dns_lookup_time_seconds", "How long the DNS lookup took.");
  auto& http_phase = gauge("probe_http_duration_seconds",
                           "Duration of each phase of the probe (resolve, connect, tls, "
                           "processing).");
  auto& icmp_phase = gauge("probe_icmp_duration_seconds",
                           "Duration of each phase of the ICMP echo (resolve, rtt).");
  auto& status = gauge("probe_http_status_code", "HTTP status code of the response.");
  auto& expiry = gauge("probe_ssl_earliest_cert_expiry",
                       "Expiry of the peer's leaf certificate (unix seconds).");
  auto& version = gauge("probe_tls_version_info", "TLS version of the handshake.");
  auto& chain = gauge("probe_ssl_last_chain_info", "Leaf certificate of the handshake.");
  auto& failure = gauge("probe_failure_info", "Why the probe of the check failed.");
  auto& local = gauge("probe_local_error_info",
                      "The probe failed on this host (no verdict on the target), and why.");
  static const char* phase_names[] = {"resolve", "connect", "tls", "processing"};
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const CheckSpec& c = checks[i];
    const ProbeResult& r = results[i];
    const P::Labels l{{"check", c.check}};
    success.Add(l).Set(r.success ? 1.0 : 0.0);
    duration.Add(l).Set(r.duration);
    dns.Add(l).Set(std::max(0.0, r.phase(Phase::resolve)));
    const bool http = c.transport == Transport::http || c.transport == Transport::https;
    if (http) {
      for (int p = 0; p < kPhaseCount; ++p)
        if (r.phases[p] >= 0) http_phase.Add(with(l, "phase", phase_names[p])).Set(r.phases[p]);
      status.Add(l).Set(r.http_status);
    }
    if (c.transport == Transport::icmp) {
      icmp_phase.Add(with(l, "phase", "resolve")).Set(std::max(0.0, r.phase(Phase::resolve)));
      if (r.phase(Phase::request) >= 0)
        icmp_phase.Add(with(l, "phase", "rtt")).Set(r.phase(Phase::request));
    }
    if (r.tls && r.tls->not_after > 0) {
      expiry.Add(l).Set(static_cast<double>(r.tls->not_after));
      version.Add(with(l, "version", r.tls->version)).Set(1);
      P::Labels cl = with(l, "fingerprint_sha256", r.tls->fingerprint_sha256);
      cl.emplace("subject", r.tls->subject);
      chain.Add(cl).Set(1);
    }
    if (!r.success && r.local == LocalFault::none)
      failure.Add(with(l, "reason", to_string(r.reason))).Set(1);
    if (r.local != LocalFault::none) local.Add(with(l, "kind", to_string(r.local))).Set(1);
  }
  return P::TextSerializer().Serialize(registry.Collect());
}

void promcpp_serialize(std::ostream& out, const std::vector<P::MetricFamily>& families) {
  P::TextSerializer().Serialize(out, families);
}

std::string promcpp_serialize(const std::vector<P::MetricFamily>& families) {
  return P::TextSerializer().Serialize(families);
}

const char* promcpp_version() { return KSCPROBE_PROMETHEUS_CPP_VERSION; }

}  // namespace kscprobe::bench
