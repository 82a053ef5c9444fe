#include "daemon/metrics_renderer.hpp"

#include <prometheus/metric_family.h>

#include <array>
#include <cmath>
#include <limits>
#include <map>

#include "daemon/result_table.hpp"
#include "daemon/scheduler.hpp"

namespace kscprobe {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add_gauge(MetricFamily& f, Labels labels, double v) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  f.metric.push_back(std::move(m));
}

void add_counter(MetricFamily& f, Labels labels, double v) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = v;
  f.metric.push_back(std::move(m));
}

void add_histogram(MetricFamily& f, Labels labels, const HistogramData& h) {
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = h.sum;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += h.buckets[i];
    m.histogram.bucket.push_back({cumulative, kLatencyBuckets[i]});
  }
  m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
  f.metric.push_back(std::move(m));
}

Labels with(const Labels& base, std::string name, std::string value) {
  Labels l = base;
  l.push_back({std::move(name), std::move(value)});
  return l;
}

}  // namespace

std::vector<MetricFamily> MetricsRenderer::Collect() const {
  Source src = source_();
  std::vector<MetricFamily> out;
  if (!src.table || !src.table->plan_ptr()) return out;
  const ResultTable& table = *src.table;
  const Plan& plan = table.plan();

  auto success = family("kscprobe_probe_success",
                        "1 if the last probe of the check succeeded (UDP: 1 unless refused).",
                        MetricType::Gauge);
  auto duration = family("kscprobe_probe_duration_seconds",
                         "Duration of the last probe of the check.", MetricType::Gauge);
  auto phase = family("kscprobe_probe_phase_seconds",
                      "Duration of each phase of the last probe of the check.", MetricType::Gauge);
  auto probes = family("kscprobe_probes_total", "Probes run for the check.", MetricType::Counter);
  auto failures = family("kscprobe_probe_failures_total", "Failed probes of the check by reason.",
                         MetricType::Counter);
  auto consecutive =
      family("kscprobe_probe_consecutive_failures",
             "Failed probes of the check since its last success.", MetricType::Gauge);
  auto last_success =
      family("kscprobe_last_success_timestamp_seconds",
             "Unix time of the check's last successful probe (0: never).", MetricType::Gauge);
  auto not_after =
      family("kscprobe_tls_cert_not_after_timestamp_seconds",
             "Unix time at which the peer's leaf certificate expires.", MetricType::Gauge);
  auto tls_info =
      family("kscprobe_tls_info", "TLS version and leaf certificate seen on the last handshake.",
             MetricType::Gauge);
  auto http_status =
      family("kscprobe_probe_http_status_code",
             "HTTP status code of the last probe (0: no response).", MetricType::Gauge);
  auto udp_reply = family("kscprobe_probe_udp_reply",
                          "1 if the UDP port answered (confirmed open); 0 if silent "
                          "(open or filtered) or refused.",
                          MetricType::Gauge);

  std::array<std::uint64_t, kRoleCount> checks_per_role{};
  for (std::uint32_t i = 0; i < table.size(); ++i) {
    const CheckSpec& c = plan.checks[i];
    const PlannedTarget& t = plan.target_of(c);
    const CheckState& s = table.state(i);
    ++checks_per_role[static_cast<int>(t.role)];
    Labels base;
    base.reserve(5 + t.labels.size() + 1);
    base.push_back({"target", t.name});
    base.push_back({"role", std::string(to_string(t.role))});
    base.push_back({"check", c.check});
    base.push_back({"port", std::to_string(c.port)});
    base.push_back({"transport", std::string(to_string(c.transport))});
    for (const auto& [k, v] : t.labels) base.push_back({k, v});

    add_counter(probes, base, static_cast<double>(s.probes_total));
    add_gauge(last_success, base, s.last_success_ts);
    if (!s.has_result) continue;  // no value until the first probe: absent, not a false 0
    add_gauge(success, base, s.success ? 1 : 0);
    add_gauge(duration, base, s.duration);
    for (int p = 0; p < kPhaseCount; ++p) {
      if (s.phases[p] < 0) continue;
      add_gauge(phase, with(base, "phase", std::string(to_string(static_cast<Phase>(p)))),
                s.phases[p]);
    }
    for (int r = 1; r < kReasonCount; ++r) {
      if (s.failures[r] == 0) continue;
      add_counter(failures, with(base, "reason", std::string(to_string(static_cast<Reason>(r)))),
                  static_cast<double>(s.failures[r]));
    }
    add_gauge(consecutive, base, s.consecutive_failures);
    if (s.tls && s.tls->not_after > 0) {
      add_gauge(not_after, base, static_cast<double>(s.tls->not_after));
      Labels l = base;
      l.push_back({"version", s.tls->version});
      l.push_back({"fingerprint_sha256", s.tls->fingerprint_sha256});
      l.push_back({"subject", s.tls->subject});
      add_gauge(tls_info, std::move(l), 1);
    }
    if (c.transport == Transport::http || c.transport == Transport::https)
      add_gauge(http_status, base, s.http_status);
    if (c.transport == Transport::udp) add_gauge(udp_reply, base, s.udp_reply ? 1 : 0);
  }

  auto latency = family("kscprobe_probe_latency_seconds",
                        "Duration of successful probes, per role and check (all targets).",
                        MetricType::Histogram);
  for (const auto& [key, h] : table.latency()) {
    add_histogram(latency, {{"role", std::string(to_string(key.role))}, {"check", key.check}}, h);
  }

  auto checks =
      family("kscprobe_checks", "Checks in the running plan, per role.", MetricType::Gauge);
  for (int r = 0; r < kRoleCount; ++r)
    add_gauge(checks, {{"role", std::string(to_string(static_cast<Role>(r)))}},
              static_cast<double>(checks_per_role[r]));
  auto targets = family("kscprobe_targets", "Targets in the running plan.", MetricType::Gauge);
  add_gauge(targets, {}, static_cast<double>(plan.targets.size()));

  for (auto* f : {&success, &duration, &phase, &probes, &failures, &consecutive, &last_success,
                  &not_after, &tls_info, &http_status, &udp_reply, &latency, &checks, &targets})
    if (!f->metric.empty()) out.push_back(std::move(*f));

  if (src.scheduler) {
    const Scheduler& s = *src.scheduler;
    auto in_flight = family("kscprobe_probes_in_flight", "Probes running now.", MetricType::Gauge);
    add_gauge(in_flight, {}, s.in_flight());
    auto queued =
        family("kscprobe_probes_queued", "Due probes waiting for a slot of the in-flight budget.",
               MetricType::Gauge);
    add_gauge(queued, {}, static_cast<double>(s.queued()));
    auto lag = family("kscprobe_scheduler_lag_seconds",
                      "Delay between a probe's due time and its start.", MetricType::Histogram);
    add_histogram(lag, {}, s.lag());
    auto skipped = family("kscprobe_scheduler_skipped_total",
                          "Probes not started because the previous probe of the same check was "
                          "still running or waiting (overruns).",
                          MetricType::Counter);
    add_counter(skipped, {}, static_cast<double>(s.skipped()));
    out.push_back(std::move(in_flight));
    out.push_back(std::move(queued));
    out.push_back(std::move(lag));
    out.push_back(std::move(skipped));
  }
  return out;
}

}  // namespace kscprobe
