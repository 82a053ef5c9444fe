#pragma once
#include <prometheus/collectable.h>

#include <functional>

namespace kscprobe {

class ResultTable;
class Scheduler;

/// Builds every kscprobe_* family from the result table at scrape time (nothing is stored as
/// prometheus-cpp metric objects between scrapes, so the table stays compact).
class MetricsRenderer : public prometheus::Collectable {
 public:
  struct Source {
    const ResultTable* table = nullptr;
    const Scheduler* scheduler = nullptr;
  };
  explicit MetricsRenderer(std::function<Source()> source) : source_(std::move(source)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<Source()> source_;
};

}  // namespace kscprobe
