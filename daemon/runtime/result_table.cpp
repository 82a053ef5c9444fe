#include "daemon/runtime/result_table.hpp"

#include <functional>
#include <map>
#include <string_view>
#include <unordered_map>

#include "daemon/runtime/scheduler_core.hpp"

namespace kscprobe {

const std::shared_ptr<const TlsInfo> CheckExtras::kNoTls;

void HistogramData::observe(double v) {
  ++count;
  sum += v;
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (v <= kLatencyBuckets[i]) {
      ++buckets[i];
      return;
    }
  }
  // Above the last bucket: only in +Inf (count).
}

ResultTable::ResultTable(std::shared_ptr<const Plan> plan)
    : plan_(std::move(plan)), states_(plan_->checks.size()) {
  index_latency();
}

void ResultTable::index_latency() {
  std::map<LatencyKey, std::uint32_t> seen;
  latency_index_.resize(plan_->checks.size());
  for (std::uint32_t i = 0; i < plan_->checks.size(); ++i) {
    const auto& c = plan_->checks[i];
    LatencyKey k{plan_->target_of(c).role, c.check};
    auto [it, inserted] = seen.emplace(k, static_cast<std::uint32_t>(latency_.size()));
    if (inserted) latency_.push_back({k, HistogramData{}});
    latency_index_[i] = it->second;
  }
}

ResultTable ResultTable::carry_over(std::shared_ptr<const Plan> plan, const ResultTable& old,
                                    std::vector<std::uint32_t>* old_to_new) {
  ResultTable t(std::move(plan));
  if (old_to_new) old_to_new->assign(old.size(), SchedulerCore::kOrphan);
  if (!old.plan_) return t;
  // A check is the same one across plans when its target's name and its id are (CheckSpec::key);
  // the map views the old plan's strings rather than copying them, as at 100 000 targets the
  // copies would be tens of megabytes for a moment.
  struct Key {
    std::string_view target, check;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      const std::size_t h = std::hash<std::string_view>()(k.target);
      return h ^
             (std::hash<std::string_view>()(k.check) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
    }
  };
  std::unordered_map<Key, std::uint32_t, KeyHash> by_key;
  by_key.reserve(old.size());
  for (std::uint32_t i = 0; i < old.plan_->checks.size(); ++i) {
    const auto& c = old.plan_->checks[i];
    by_key.emplace(Key{old.plan_->target_of(c).name, c.check}, i);
  }
  for (std::uint32_t i = 0; i < t.plan_->checks.size(); ++i) {
    const auto& c = t.plan_->checks[i];
    const auto& tgt = t.plan_->target_of(c);
    auto it = by_key.find(Key{tgt.name, c.check});
    if (it == by_key.end()) continue;
    const auto& oc = old.plan_->checks[it->second];
    const auto& otgt = old.plan_->target_of(oc);
    if (!c.same_settings(oc) || tgt.role != otgt.role || tgt.address != otgt.address ||
        tgt.labels != otgt.labels)
      continue;
    t.states_[i] = old.states_[it->second];
    if (old_to_new) (*old_to_new)[it->second] = i;
  }
  // Latency histograms are per (role, check): keep those that still exist.
  std::map<LatencyKey, const HistogramData*> old_hist;
  for (const auto& [k, h] : old.latency_) old_hist.emplace(k, &h);
  for (auto& [k, h] : t.latency_) {
    auto it = old_hist.find(k);
    if (it != old_hist.end()) h = *it->second;
  }
  return t;
}

Transition ResultTable::record(std::uint32_t index, const ProbeResult& r, double now_unix) {
  // This host's own shortage says nothing of the target: the check keeps its last verdict (or
  // stays pending), its counters and its failure reason (LocalFaults counts these instead).
  if (r.local != LocalFault::none) return Transition::none;
  CheckState& s = states_[index];
  bool had = s.has_result;
  bool was_up = s.success;
  s.has_result = true;
  s.success = r.success;
  // A failure always has a reason (kscprobe_probe_failure_info names it); one a prober left
  // unnamed counts as a protocol failure rather than vanishing from every reason series.
  const Reason reason = r.success                  ? Reason::none
                        : r.reason == Reason::none ? Reason::protocol
                                                   : r.reason;
  s.reason = reason;
  s.udp_reply = r.udp_reply;
  s.http_status = static_cast<std::uint16_t>(r.http_status);
  s.duration = static_cast<float>(r.duration);
  for (int p = 0; p < kPhaseCount; ++p) s.phases[p] = static_cast<float>(r.phases[p]);
  ++s.probes_total;
  s.last_probe_ts = now_unix;
  if (r.tls) {
    const TlsInfo* had_tls = s.tls().get();
    if (!had_tls || had_tls->fingerprint_sha256 != r.tls->fingerprint_sha256 ||
        had_tls->version != r.tls->version || had_tls->verified != r.tls->verified ||
        had_tls->verify_error != r.tls->verify_error)
      s.extras.set_tls(std::make_shared<const TlsInfo>(*r.tls));
  }
  if (r.detail.empty()) {
    s.detail = SharedText();
  } else if (s.detail != r.detail) {  // most probes say what the last one said: nothing to do
    SharedText& seen = details_[std::hash<std::string_view>()(r.detail) % details_.size()];
    if (seen != r.detail) seen = SharedText(r.detail);
    s.detail = seen;
  }
  if (r.success) {
    s.consecutive_failures = 0;
    s.last_success_ts = now_unix;
    latency_[latency_index_[index]].second.observe(r.duration);
  } else {
    ++s.consecutive_failures;
    s.extras.add_failure(reason);
    s.last_failure_reason = reason;
    s.last_failure_ts = now_unix;
  }
  if (!had) return r.success ? Transition::first_up : Transition::first_down;
  if (was_up && !r.success) return Transition::went_down;
  if (!was_up && r.success) return Transition::went_up;
  return Transition::none;
}

}  // namespace kscprobe
