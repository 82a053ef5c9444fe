#pragma once
// The tests' reader of the Prometheus text format (what /metrics, /probe and the textfile
// write): one line parser, strict as promtool is about the lines it accepts, and the questions
// the tests and the benchmark ask of a scrape (a sample's value, sums over label sets, histogram
// buckets and quantiles).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kscprobe::test {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  std::string name;
  Labels labels;  ///< in the order written, values unescaped
  double value = 0;
  std::optional<long long> timestamp;

  /// The value of label `key`; "" when absent.
  std::string label(std::string_view key) const;
  /// True when every pair of `want` is among the labels.
  bool has(const Labels& want) const;
};

enum class LineKind { sample, comment, blank, malformed };

/// One line (without its newline): a sample (into `*out`), a comment ("# ..."), a blank line,
/// or malformed: name{labels} value [timestamp] is all a sample may be.
LineKind parse_line(std::string_view line, Sample* out);

/// Calls f(line) for each line of `text`, without the newlines.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    f(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

/// Every sample of `text`; the first malformed line goes to `*malformed` (when given) and ends
/// the reading.
std::vector<Sample> parse_samples(std::string_view text, std::string* malformed = nullptr);

/// The samples of metric `name` (exactly that name) whose labels hold every pair of `with`.
std::vector<Sample> samples_of(std::string_view text, std::string_view name,
                               const Labels& with = {});

/// The lines of the samples of `name`, as written.
std::vector<std::string> sample_lines(std::string_view text, std::string_view name);

/// Value of the first sample of `name` whose labels hold every pair of `with`.
std::optional<double> sample(std::string_view text, std::string_view name, const Labels& with = {});

/// Sum of the samples of `name` whose labels hold every pair of `with`, and how many.
struct Total {
  double sum = 0;
  std::size_t samples = 0;
};
Total sum_samples(std::string_view text, std::string_view name, const Labels& with = {});

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

}  // namespace kscprobe::test
