#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/probe_result.hpp"
#include "config/plan.hpp"

namespace kscprobe {

/// Buckets of kscprobe_probe_latency_seconds and kscprobe_scheduler_lag_seconds (seconds), fine
/// below 25 ms: the lag lies there (the loop wakes on a 10 ms grid), and so does a LAN's latency.
inline constexpr std::array<double, 22> kLatencyBuckets = {
    0.0005, 0.001, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.0075, 0.01, 0.0125,
    0.015,  0.02,  0.025, 0.05,   0.1,   0.25,  0.5,   1,     2.5,    5,    10};

struct HistogramData {
  std::array<std::uint64_t, kLatencyBuckets.size()> buckets{};  // non-cumulative
  std::uint64_t count = 0;
  double sum = 0;
  void observe(double v);
};

/// What few checks of an estate have, held apart and only from a first need: failures by
/// reason (from a first failure) and the last certificate (TLS checks). Inline, nine counters
/// and a pointer would cost the 100 000-agent estate some 15 MB, mostly zeros.
class CheckExtras {
 public:
  CheckExtras() = default;
  CheckExtras(const CheckExtras& o) : data_(o.data_ ? std::make_unique<Data>(*o.data_) : nullptr) {}
  CheckExtras& operator=(const CheckExtras& o) {
    if (this != &o) data_ = o.data_ ? std::make_unique<Data>(*o.data_) : nullptr;
    return *this;
  }
  CheckExtras(CheckExtras&&) noexcept = default;
  CheckExtras& operator=(CheckExtras&&) noexcept = default;
  ~CheckExtras() = default;

  /// Failures by reason (indexed by Reason; [none] unused).
  std::uint64_t failures(int reason) const { return data_ ? data_->failures[reason] : 0; }
  void add_failure(Reason reason) { ++data().failures[static_cast<int>(reason)]; }
  /// The last certificate seen (kept across failures), or null.
  const std::shared_ptr<const TlsInfo>& tls() const { return data_ ? data_->tls : kNoTls; }
  void set_tls(std::shared_ptr<const TlsInfo> tls) { data().tls = std::move(tls); }

 private:
  struct Data {
    std::array<std::uint64_t, kReasonCount> failures{};
    std::shared_ptr<const TlsInfo> tls;
  };
  Data& data() {
    if (!data_) data_ = std::make_unique<Data>();
    return *data_;
  }
  static const std::shared_ptr<const TlsInfo> kNoTls;
  std::unique_ptr<Data> data_;
};

/// Everything remembered about one check between scrapes. Kept compact: a large estate has
/// hundreds of thousands of these.
struct CheckState {
  bool has_result = false;
  bool success = false;
  bool udp_reply = false;
  Reason reason = Reason::none;  // of the last probe
  Reason last_failure_reason = Reason::none;
  std::uint16_t http_status = 0;
  std::uint32_t consecutive_failures = 0;
  float duration = 0;
  std::array<float, kPhaseCount> phases{-1, -1, -1, -1};
  std::uint64_t probes_total = 0;
  double last_probe_ts = 0;    // unix seconds
  double last_success_ts = 0;  // unix seconds, 0 = never
  double last_failure_ts = 0;
  CheckExtras extras;
  /// The last probe's detail, one copy shared by the checks whose probes said the same (every
  /// silent UDP check says "no reply: open|filtered": a string each was some 100 MB at the
  /// moonshot's 800 000).
  SharedText detail;

  std::uint64_t failures(int reason) const { return extras.failures(reason); }
  /// The last certificate seen (kept across failures), or null.
  const std::shared_ptr<const TlsInfo>& tls() const { return extras.tls(); }
  std::string_view last_detail() const { return detail.view(); }
};

/// What changed with a new result, for the state-change log.
enum class Transition { none, first_up, first_down, went_down, went_up };

/// Per-check state of one plan generation, indexed like Plan::checks, plus the per
/// (role, check) latency histograms.
class ResultTable {
 public:
  ResultTable() = default;
  explicit ResultTable(std::shared_ptr<const Plan> plan);

  /// Builds the table for `plan`, carrying over the state of checks that did not change
  /// (same key and settings) from `old`. Fills `old_to_new` (kOrphan where dropped).
  static ResultTable carry_over(std::shared_ptr<const Plan> plan, const ResultTable& old,
                                std::vector<std::uint32_t>* old_to_new);

  /// Records a probe's result. A local fault (r.local) is no result about the target: nothing
  /// changes, and Transition::none is returned.
  Transition record(std::uint32_t index, const ProbeResult& r, double now_unix);

  const Plan& plan() const { return *plan_; }
  const std::shared_ptr<const Plan>& plan_ptr() const { return plan_; }
  const CheckState& state(std::uint32_t i) const { return states_[i]; }
  std::size_t size() const { return states_.size(); }

  struct LatencyKey {
    Role role;
    std::string check;
    bool operator<(const LatencyKey& o) const {
      return role != o.role ? role < o.role : check < o.check;
    }
  };
  /// Histogram index per check (into latency()), shared by checks of the same role and id.
  const std::vector<std::pair<LatencyKey, HistogramData>>& latency() const { return latency_; }

 private:
  void index_latency();
  std::shared_ptr<const Plan> plan_;
  std::vector<CheckState> states_;
  std::vector<std::uint32_t> latency_index_;
  std::vector<std::pair<LatencyKey, HistogramData>> latency_;
  /// The details recorded last, by a hash of their text: a detail seen again is shared.
  std::array<SharedText, 64> details_;
};

}  // namespace kscprobe
