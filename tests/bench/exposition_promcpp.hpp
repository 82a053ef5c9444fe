#pragma once
// The estate's /metrics through prometheus-cpp (Debian's prometheus-cpp-dev 1.0.1): the families
// MetricsRenderer writes, with the same names, help, types, label sets and values, held in a
// prometheus::Registry as an exporter built on that library would hold them, and serialized by
// its TextSerializer from Registry::Collect(). Built only when CMake finds the library.
//
// The exporter keeps the registry between scrapes and a handle to each series it set, so a
// scrape sets every value from the result table (adding a series that appeared, removing one
// that went, as when a check starts or stops failing), then collects and serializes. A new plan
// would build a new exporter, as a new plan rebuilds MetricsRenderer's label cache.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "tests/bench/exposition_estate.hpp"

namespace kscprobe::bench {

/// The daemon's own families (exposition::write_self_metrics, then the scheduler's and the render's
/// that MetricsRenderer writes after the table's) in a registry: what /metrics shows without a
/// plan, and the part of /metrics that does not grow with the estate.
class PromSelfMetrics {
 public:
  explicit PromSelfMetrics(prometheus::Registry& registry);
  void update(const ExpositionEstate& e, double last_cpu_seconds, std::size_t last_bytes);

 private:
  prometheus::Family<prometheus::Gauge>& gauge(const char* name, const char* help);
  prometheus::Family<prometheus::Counter>& counter(const char* name, const char* help);

  prometheus::Registry& registry_;
  prometheus::Gauge* build_info_;
  prometheus::Gauge* reload_ok_;
  prometheus::Gauge* reload_ts_;
  std::vector<prometheus::Counter*> local_errors_;
  prometheus::Gauge* local_active_;
  prometheus::Gauge* open_files_;
  prometheus::Gauge* clamped_;
  std::vector<prometheus::Gauge*> budget_;
  std::vector<prometheus::Counter*> lookups_;
  prometheus::Gauge* resolver_in_flight_;
  prometheus::Gauge* resolver_queued_;
  std::vector<prometheus::Gauge*> in_flight_, queued_, oldest_wait_;
  prometheus::Gauge* overdue_;
  prometheus::Histogram* lag_;
  HistogramData lag_seen_;
  prometheus::Counter* skipped_;
  prometheus::Gauge* render_cpu_;
  prometheus::Gauge* render_bytes_;
};

/// The whole /metrics of the estate in a registry.
class PromEstateExporter {
 public:
  /// The registry and its families (no series yet): update() adds them.
  explicit PromEstateExporter(const ExpositionEstate& e);
  ~PromEstateExporter();
  /// Sets every series from the result table, adding and removing series as the results ask.
  void update(double last_cpu_seconds, std::size_t last_bytes);
  std::vector<prometheus::MetricFamily> collect() const { return registry_->Collect(); }

 private:
  struct Full;
  const ExpositionEstate& e_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<PromSelfMetrics> self_;
  prometheus::Family<prometheus::Gauge>*success_, *failure_info_, *duration_, *phase_,
      *consecutive_, *last_success_, *not_after_, *tls_info_, *http_status_, *udp_reply_,
      *aggregate_, *checks_, *targets_, *shard_;
  prometheus::Family<prometheus::Counter>*probes_, *failures_;
  prometheus::Family<prometheus::Histogram>* latency_;
  // Per check: the handles of the series every detail level may show, and where its full
  // detail handles are (kNoFull for checks below full).
  std::vector<prometheus::Gauge*> success_of_, failure_of_, last_success_of_;
  std::vector<Reason> failure_reason_;
  std::vector<std::uint32_t> full_index_;
  std::vector<Full> full_;
  // Aggregate groups, as MetricsRenderer's cache makes them: per check its group, per group its
  // label set and handles.
  std::vector<std::uint32_t> group_of_;
  std::vector<prometheus::Labels> group_labels_;
  std::vector<prometheus::Counter*> group_probes_;
  std::vector<std::array<prometheus::Counter*, kReasonCount>> group_failures_;
  std::vector<std::array<prometheus::Gauge*, kReasonCount + 1>>
      group_states_;  // [kReasonCount]: unknown
  std::vector<prometheus::Histogram*> latency_of_;
  std::vector<HistogramData> latency_seen_;
  std::array<prometheus::Gauge*, kRoleCount> checks_of_{};
  prometheus::Gauge* targets_gauge_ = nullptr;
  prometheus::Gauge* shard_gauge_ = nullptr;

  prometheus::Labels labels_of(std::uint32_t i) const;
};

/// A /probe answer through prometheus-cpp, as blackbox_exporter makes one: a registry for the
/// request, its gauges set from `results`, collected and serialized.
std::string promcpp_probe_body(const std::vector<CheckSpec>& checks,
                               const std::vector<ProbeResult>& results);

/// TextSerializer's text of `families` into `out`.
void promcpp_serialize(std::ostream& out, const std::vector<prometheus::MetricFamily>& families);
/// The same as one string (Serializer::Serialize: what prometheus-cpp's Exposer answers with).
std::string promcpp_serialize(const std::vector<prometheus::MetricFamily>& families);

/// prometheus-cpp's version, for the report.
const char* promcpp_version();

}  // namespace kscprobe::bench
