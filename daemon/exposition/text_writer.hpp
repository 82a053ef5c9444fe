#pragma once
// The one writer of Prometheus text exposition (format 0.0.4) in kscprobe: /metrics (the
// result table's families, streamed), /probe (blackbox_exporter's names) and the daemon's own
// metrics all go through it, so escaping, number formatting and the HELP/TYPE lines have one
// rule.
#include <charconv>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "daemon/exposition/metric_families.hpp"

namespace kscprobe::exposition {

/// Appends a label value escaped as the format asks: backslash, double quote and newline.
void append_escaped(std::string& out, std::string_view value);

/// Appends `name="value"` to a label set, after a comma when the set is not empty.
void append_label(std::string& labels, std::string_view name, std::string_view value);

/// A label set of one label.
std::string label(std::string_view name, std::string_view value);

/// Appends a sample value: NaN, +Inf and -Inf by name; whole numbers below 1e15 without a
/// fraction; any other double as the shortest text that reads back the same.
void append_double(std::string& out, double value);

template <class T>
void append_number(std::string& out, T value) {
  if constexpr (std::is_integral_v<T>) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
  } else {
    append_double(out, static_cast<double>(value));
  }
}

/// One family being written into `out`: its HELP and TYPE lines go out with its first sample, so
/// a family without samples leaves no trace. `after_sample`, when given, is called with
/// `context` after each sample line (a streaming caller hands the text on between samples).
class FamilyWriter {
 public:
  using AfterSample = void (*)(void* context);

  /// A family of the registry (metric_families.hpp): kscprobe's writers use only these.
  FamilyWriter(std::string& out, const MetricFamily& family, AfterSample after_sample = nullptr,
               void* context = nullptr)
      : FamilyWriter(out, family.name, family.help, family.type, after_sample, context) {}
  FamilyWriter(std::string& out, std::string_view name, std::string_view help,
               std::string_view type, AfterSample after_sample = nullptr, void* context = nullptr)
      : out_(out),
        name_(name),
        help_(help),
        type_(type),
        after_sample_(after_sample),
        context_(context) {}

  /// name<suffix>{labels[,extra]} value. `labels` and `extra` are label sets already escaped
  /// (append_label); either may be empty.
  template <class T>
  void sample(std::string_view labels, std::string_view extra, T value,
              std::string_view suffix = {}) {
    if (!started_) header();
    out_ += name_;
    out_ += suffix;
    if (!labels.empty() || !extra.empty()) {
      out_ += '{';
      out_ += labels;
      if (!labels.empty() && !extra.empty()) out_ += ',';
      out_ += extra;
      out_ += '}';
    }
    out_ += ' ';
    append_number(out_, value);
    out_ += '\n';
    if (after_sample_) after_sample_(context_);
  }

  /// A histogram's _bucket (cumulative, then +Inf), _sum and _count lines; `buckets` are the
  /// counts per bound, not cumulative.
  void histogram(std::string_view labels, std::span<const double> bounds,
                 std::span<const std::uint64_t> buckets, std::uint64_t count, double sum);

  /// Whether a sample was written.
  bool started() const { return started_; }

 private:
  void header();

  std::string& out_;
  std::string_view name_, help_, type_;
  AfterSample after_sample_;
  void* context_;
  bool started_ = false;
};

}  // namespace kscprobe::exposition
