#pragma once
// Just enough of the Prometheus text format to read counters and histograms off /metrics.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kscprobe::bench {

/// Sum of every sample whose metric name is exactly `name` and whose labels hold every pair of
/// `with` (e.g. {"state=\"refused\""}; empty: all label sets), and how many.
struct Total {
  double sum = 0;
  std::size_t samples = 0;
};
Total sum_samples(std::string_view text, std::string_view name,
                  const std::vector<std::string_view>& with = {});

/// Samples that are not comments or blank lines: the series Prometheus would ingest.
std::size_t series_count(std::string_view text);

/// (le, cumulative count) of the histogram `name` (its `name_bucket` samples), summed over its
/// label sets, sorted by le; the last bound is +Inf.
using Buckets = std::vector<std::pair<double, double>>;
Buckets histogram_buckets(std::string_view text, std::string_view name);

/// later - earlier, bound by bound (both from histogram_buckets of the same histogram).
Buckets bucket_delta(const Buckets& earlier, const Buckets& later);

/// The q-quantile of cumulative buckets, as PromQL's histogram_quantile computes it (linear
/// within the bucket; the last finite bound when it falls in +Inf); nullopt without samples.
std::optional<double> histogram_quantile(double q, const Buckets& buckets);

/// Upper bound of the bucket that holds the q-quantile (+Inf possible); nullopt without samples.
std::optional<double> quantile_bucket_bound(double q, const Buckets& buckets);

}  // namespace kscprobe::bench
