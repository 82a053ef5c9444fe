#include "daemon/exposition/metrics_renderer.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "daemon/exposition/agent_diagnosis.hpp"
#include "daemon/exposition/agent_join.hpp"
#include "daemon/exposition/text_writer.hpp"
#include "daemon/runtime/outcome.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "platform/platform.hpp"

namespace kscprobe {

namespace asio = boost::asio;

namespace {

using exposition::agent_is_stale;
using exposition::append_label;
using exposition::CheckEvidence;
using exposition::Diagnosis;
using exposition::family;
using exposition::kDiagnosisCount;
using exposition::Metric;

/// The text being written, handed on in pieces when the caller asked for them.
struct Sink {
  std::string& text;
  const MetricsRenderer::Chunks* chunks = nullptr;
  const ResultTable* table = nullptr;
  bool flushed = false;  // a piece went out since the render last asked the consumer

  void reserve(std::size_t n) {
    text.reserve(chunks ? std::min(n, chunks->bytes + chunks->bytes / 8) : n);
  }
  /// Between two samples: the piece is a whole number of lines.
  void sample_done() {
    if (chunks && text.size() >= chunks->bytes) {
      chunks->flush(text);
      flushed = true;
    }
  }
  /// After a piece went out: waits while the consumer is behind, the event loop running
  /// meanwhile. False when a reload replaced the plan during the wait.
  asio::awaitable<bool> keep_going(const std::shared_ptr<const Plan>& plan) {
    flushed = false;
    if (!chunks->behind || !chunks->behind()) co_return true;
    co_await chunks->drain();
    co_return table->plan_ptr() == plan;
  }
};

/// A family of the render: the exposition writer, handing the text on between samples.
class Family : public exposition::FamilyWriter {
 public:
  Family(Sink& sink, const exposition::MetricFamily& family)
      : FamilyWriter(
            sink.text, family, [](void* context) { static_cast<Sink*>(context)->sample_done(); },
            &sink) {}

  void histogram(std::string_view labels, const HistogramData& h) {
    FamilyWriter::histogram(labels, kLatencyBuckets, h.buckets, h.count, h.sum);
  }
};

/// A check's own label set: target, role, check, port, transport and the target's labels.
void append_check_labels(std::string& out, const Plan& p, const CheckSpec& c) {
  const PlannedTarget& t = p.target_of(c);
  append_label(out, "target", t.name);
  append_label(out, "role", to_string(t.role));
  append_label(out, "check", c.check);
  char port[8];
  auto r = std::to_chars(port, port + sizeof port, c.port);
  append_label(out, "port", std::string_view(port, static_cast<std::size_t>(r.ptr - port)));
  append_label(out, "transport", to_string(c.transport));
  // An empty label value is no label (Prometheus reads them alike; series stay comparable).
  for (const auto& [k, v] : t.labels)
    if (!v.empty()) append_label(out, k, v);
}

/// Label sets escaped once per plan: a check's own set, and for checks shown as aggregates the
/// group (role, check, transport and the [metrics] aggregate_labels) they are counted in. A
/// check at `aggregate` detail keeps no set of its own: it is named only while it fails, so its
/// set is written when needed, and the cache's size follows the checks shown one by one rather
/// than the estate (a million agent checks' sets were about 100 MB).
struct CheckLabels {
  std::shared_ptr<const Plan> plan;
  std::string labels;                  // the label sets of checks not at aggregate detail
  std::vector<std::uint32_t> offsets;  // check i: labels[offsets[i], offsets[i + 1])
  std::vector<Detail> detail;          // per check
  std::vector<std::uint32_t> group;    // per check: its aggregate group
  std::vector<std::string> group_labels;

  /// Check i's label set: the cached one, or written into `scratch` (valid until its next use).
  std::string_view of(std::uint32_t i, std::string& scratch) const {
    if (detail[i] != Detail::aggregate)
      return std::string_view(labels).substr(offsets[i], offsets[i + 1] - offsets[i]);
    scratch.clear();
    append_check_labels(scratch, *plan, plan->checks[i]);
    return scratch;
  }

  void build(const std::shared_ptr<const Plan>& p) {
    plan = p;
    const std::size_t n = p->checks.size();
    labels.clear();
    offsets.assign(1, 0);
    offsets.reserve(n + 1);
    detail.resize(n);
    group.assign(n, 0);
    group_labels.clear();
    std::unordered_map<std::string, std::uint32_t> groups;
    std::string one, key;
    for (std::size_t i = 0; i < n; ++i) {
      const CheckSpec& c = p->checks[i];
      const PlannedTarget& t = p->target_of(c);
      detail[i] = p->metrics.detail[static_cast<int>(t.role)];
      if (detail[i] != Detail::aggregate) {
        one.clear();  // a set of its own: append_label separates labels within one set
        append_check_labels(one, *p, c);
        labels += one;
      }
      offsets.push_back(static_cast<std::uint32_t>(labels.size()));
      key.clear();
      append_label(key, "role", to_string(t.role));
      append_label(key, "check", c.check);
      append_label(key, "transport", to_string(c.transport));
      for (const auto& name : p->metrics.aggregate_labels) {
        std::string_view value;
        for (const auto& [k, v] : t.labels)
          if (k == name) value = v;
        if (!value.empty()) append_label(key, name, value);
      }
      auto [it, added] = groups.try_emplace(key, static_cast<std::uint32_t>(group_labels.size()));
      if (added) group_labels.push_back(key);
      group[i] = it->second;
    }
    labels.shrink_to_fit();
  }
};

/// One render's view of the table, shared by the groups of families below.
struct Render {
  Sink& out;
  const ResultTable& table;
  const Plan& plan;
  const CheckLabels& cache;
  /// Kept alive (and compared after each wait): a reload meanwhile abandons the render.
  std::shared_ptr<const Plan> keep;
  std::uint32_t n;
  std::array<std::string, kReasonCount> reason_label;

  std::string scratch;  // the label set of a check at aggregate detail, while it is written

  bool full(std::uint32_t i) const { return cache.detail[i] == Detail::full; }
  std::string_view labels(std::uint32_t i) { return cache.of(i, scratch); }
  /// Success and last success per check in full and basic. At aggregate a failing check is
  /// named once, by kscprobe_probe_failure_info (which has its reason): one series a failing
  /// check, as three would triple the output of an estate where many fail at once.
  bool named(std::uint32_t i) const { return cache.detail[i] != Detail::aggregate; }
};

// Between two checks, after a piece went out: lets the consumer catch up, the event loop running
// meanwhile, and gives up the render when a reload replaced the plan. A statement of its own:
// GCC 12 mishandles co_await inside && and ?:.
#define KSCPROBE_PAUSE_POINT()                            \
  if (r.out.flushed) {                                    \
    const bool go_on = co_await r.out.keep_going(r.keep); \
    if (!go_on) co_return false;                          \
  }

/// A group of families as a step of the render: false when it gave the render up.
#define KSCPROBE_STEP(call)             \
  {                                     \
    const bool go_on = co_await (call); \
    if (!go_on) co_return false;        \
  }

/// The last probe of each check: success, why it failed, how long it and its phases took.
asio::awaitable<bool> write_last_probe(Render& r) {
  const ResultTable& table = r.table;
  {
    Family f(r.out, family(Metric::probe_success));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      const Outcome o = outcome_of(table.state(i));
      // No value until the first probe: absent, not a false 0.
      if (o != Outcome::pending && r.named(i))
        f.sample(r.labels(i), {}, o == Outcome::up ? 1.0 : 0.0);
    }
  }
  {
    // Why each failing check fails, at every detail level: its cost follows the failures, not
    // the estate, and it is what tells "refused" (device up, service down) from "timeout".
    Family f(r.out, family(Metric::probe_failure_info));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      const CheckState& s = table.state(i);
      if (outcome_of(s) == Outcome::down)
        f.sample(r.labels(i), r.reason_label[static_cast<int>(s.reason)], 1.0);
    }
  }
  {
    Family f(r.out, family(Metric::probe_duration_seconds));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      if (r.full(i) && table.state(i).has_result)
        f.sample(r.labels(i), {}, table.state(i).duration);
    }
  }
  {
    Family f(r.out, family(Metric::probe_phase_seconds));
    std::array<std::string, kPhaseCount> phase_label;
    for (int p = 0; p < kPhaseCount; ++p)
      phase_label[p] = exposition::label("phase", to_string(static_cast<Phase>(p)));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      const CheckState& s = table.state(i);
      if (!r.full(i) || !s.has_result) continue;
      for (int p = 0; p < kPhaseCount; ++p)
        if (s.phases[p] >= 0) f.sample(r.labels(i), phase_label[p], s.phases[p]);
    }
  }
  co_return true;
}

/// The checks shown as aggregates, summed per group.
struct GroupSums {
  std::vector<std::uint64_t> probes;
  std::vector<std::array<std::uint64_t, kReasonCount>> failures;
  // Checks per group by the state of their last probe: [none] = up, [reason] = down for that
  // reason, and unknown (not probed yet) apart.
  std::vector<std::array<std::uint64_t, kReasonCount>> states;
  std::vector<std::uint64_t> unknown;
  std::vector<bool> summed;

  explicit GroupSums(const Render& r) {
    const std::size_t groups = r.cache.group_labels.size();
    probes.resize(groups);
    failures.resize(groups);
    states.resize(groups);
    unknown.resize(groups);
    summed.resize(groups);
    for (std::uint32_t i = 0; i < r.n; ++i) {
      std::uint32_t g = r.cache.group[i];
      const CheckState& s = r.table.state(i);
      switch (outcome_of(s)) {
        case Outcome::pending:
          ++unknown[g];
          break;
        case Outcome::up:
          ++states[g][static_cast<int>(Reason::none)];
          break;
        case Outcome::down:
          ++states[g][static_cast<int>(s.reason)];
          break;
      }
      if (r.full(i)) continue;
      summed[g] = true;
      probes[g] += s.probes_total;
      for (int k = 1; k < kReasonCount; ++k) failures[g][k] += s.failures(k);
    }
  }
};

/// Probes and failures counted, per check or per aggregate group, and the checks' last success.
asio::awaitable<bool> write_counters(Render& r, const GroupSums& sums) {
  const CheckLabels& cache = r.cache;
  const ResultTable& table = r.table;
  const std::size_t groups = cache.group_labels.size();
  {
    Family f(r.out, family(Metric::probes_total));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      if (r.full(i)) f.sample(r.labels(i), {}, table.state(i).probes_total);
    }
    for (std::size_t g = 0; g < groups; ++g)
      if (sums.summed[g]) f.sample(cache.group_labels[g], {}, sums.probes[g]);
  }
  {
    Family f(r.out, family(Metric::probe_failures_total));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      if (!r.full(i)) continue;
      const CheckState& s = table.state(i);
      for (int k = 1; k < kReasonCount; ++k)
        if (s.failures(k)) f.sample(r.labels(i), r.reason_label[k], s.failures(k));
    }
    for (std::size_t g = 0; g < groups; ++g)
      for (int k = 1; k < kReasonCount; ++k)
        if (sums.summed[g] && sums.failures[g][k])
          f.sample(cache.group_labels[g], r.reason_label[k], sums.failures[g][k]);
  }
  {
    Family f(r.out, family(Metric::probe_consecutive_failures));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      if (r.full(i) && table.state(i).has_result)
        f.sample(r.labels(i), {}, table.state(i).consecutive_failures);
    }
  }
  {
    Family f(r.out, family(Metric::last_success_timestamp_seconds));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      if (r.named(i)) f.sample(r.labels(i), {}, table.state(i).last_success_ts);
    }
  }
  co_return true;
}

/// What the last probe of a check saw of its protocol: the certificate, the HTTP status, a UDP
/// reply.
asio::awaitable<bool> write_protocol(Render& r) {
  const ResultTable& table = r.table;
  {
    Family f(r.out, family(Metric::tls_cert_not_after_timestamp_seconds));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      const CheckState& s = table.state(i);
      if (r.full(i) && s.has_result && s.tls() && s.tls()->not_after > 0)
        f.sample(r.labels(i), {}, static_cast<double>(s.tls()->not_after));
    }
  }
  {
    Family f(r.out, family(Metric::tls_info));
    std::string extra;
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      const CheckState& s = table.state(i);
      if (!r.full(i) || !s.has_result || !s.tls() || s.tls()->not_after <= 0) continue;
      extra.clear();
      append_label(extra, "version", s.tls()->version);
      append_label(extra, "fingerprint_sha256", s.tls()->fingerprint_sha256);
      append_label(extra, "subject", s.tls()->subject);
      f.sample(r.labels(i), extra, 1.0);
    }
  }
  {
    Family f(r.out, family(Metric::probe_http_status_code));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      Transport t = r.plan.checks[i].transport;
      if (r.full(i) && table.state(i).has_result && (t == Transport::http || t == Transport::https))
        f.sample(r.labels(i), {}, table.state(i).http_status);
    }
  }
  {
    Family f(r.out, family(Metric::probe_udp_reply));
    for (std::uint32_t i = 0; i < r.n; ++i) {
      KSCPROBE_PAUSE_POINT();
      if (r.full(i) && table.state(i).has_result && r.plan.checks[i].transport == Transport::udp)
        f.sample(r.labels(i), {}, table.state(i).udp_reply ? 1.0 : 0.0);
    }
  }
  co_return true;
}

/// Per role and check, or per aggregate group: the latency histograms and the checks by state.
void write_aggregates(Render& r, const GroupSums& sums) {
  {
    Family f(r.out, family(Metric::probe_latency_seconds));
    std::string labels;
    for (const auto& [key, h] : r.table.latency()) {
      labels.clear();
      append_label(labels, "role", to_string(key.role));
      append_label(labels, "check", key.check);
      f.histogram(labels, h);
    }
  }
  Family f(r.out, family(Metric::aggregate_checks));
  std::array<std::string, kReasonCount> state_label;
  state_label[0] = exposition::label("state", "up");
  for (int k = 1; k < kReasonCount; ++k)
    state_label[k] = exposition::label("state", to_string(static_cast<Reason>(k)));
  const std::string unknown = exposition::label("state", "unknown");
  const auto& groups = r.cache.group_labels;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    // up and unknown always (stable series for ratios); a reason while checks fail for it.
    f.sample(groups[g], state_label[0], sums.states[g][0]);
    f.sample(groups[g], unknown, sums.unknown[g]);
    for (int k = 1; k < kReasonCount; ++k)
      if (sums.states[g][k]) f.sample(groups[g], state_label[k], sums.states[g][k]);
  }
}

/// The server's view of each discovered target of the plan, and the diagnosis of those whose
/// agent stopped connecting. `join` and `now` are this render's own: another render may build
/// a new join while this one waits.
asio::awaitable<bool> write_agents(Render& r, const std::vector<ksc::AgentSection>& agents,
                                   std::shared_ptr<const exposition::AgentJoin> join, double now) {
  auto agent_of = [&](const exposition::AgentJoin::Row& row) -> const ksc::AgentView& {
    return (*agents[row.section].agents)[row.agent];
  };
  auto detail_of = [&](const exposition::AgentJoin::Row& row) {
    return r.plan.metrics.detail[static_cast<int>(r.plan.targets[row.target].role)];
  };
  // An agent that stopped connecting (diagnosed below) keeps its last connection at every
  // detail level, for the table of stale agents: its cost follows what is wrong.
  auto stale = [&](const exposition::AgentJoin::Row& row) {
    return agent_is_stale(agent_of(row), agents[row.section], now);
  };
  {
    Family f(r.out, family(Metric::ksc_agent_last_connected_timestamp_seconds));
    for (std::size_t j = 0; j < join->rows.size(); ++j) {
      KSCPROBE_PAUSE_POINT();
      const auto& row = join->rows[j];
      const ksc::AgentView& a = agent_of(row);
      if ((detail_of(row) != Detail::aggregate || stale(row)) && a.last_agent_connected)
        f.sample(join->labels_of(j), {}, *a.last_agent_connected);
    }
  }
  {
    Family f(r.out, family(Metric::ksc_host_last_visible_timestamp_seconds));
    for (std::size_t j = 0; j < join->rows.size(); ++j) {
      KSCPROBE_PAUSE_POINT();
      const auto& row = join->rows[j];
      const ksc::AgentView& a = agent_of(row);
      if (detail_of(row) == Detail::full && a.last_visible)
        f.sample(join->labels_of(j), {}, *a.last_visible);
    }
  }
  {
    Family f(r.out, family(Metric::ksc_agent_running));
    for (std::size_t j = 0; j < join->rows.size(); ++j) {
      KSCPROBE_PAUSE_POINT();
      const auto& row = join->rows[j];
      if (detail_of(row) == Detail::full)
        f.sample(join->labels_of(j), {}, agent_of(row).agent_running ? 1 : 0);
    }
  }
  {
    Family f(r.out, family(Metric::agent_diagnosis));
    std::array<std::string, kDiagnosisCount> diagnosis_label;
    for (int d = 0; d < kDiagnosisCount; ++d)
      diagnosis_label[d] = exposition::label("diagnosis", to_string(Diagnosis(d)));
    std::vector<CheckEvidence> evidence;
    for (std::size_t j = 0; j < join->rows.size(); ++j) {
      KSCPROBE_PAUSE_POINT();
      const auto& row = join->rows[j];
      if (!stale(row)) continue;
      const Diagnosis d = join->diagnosis(j, r.table, &evidence);
      f.sample(join->labels_of(j), diagnosis_label[static_cast<int>(d)], 1);
    }
  }
  co_return true;
}

#undef KSCPROBE_PAUSE_POINT

/// The running plan: its checks per role, its targets, the shard it is.
void write_plan(Sink& out, const Plan& plan) {
  {
    std::array<std::uint64_t, kRoleCount> per_role{};
    for (const auto& c : plan.checks) ++per_role[static_cast<int>(plan.target_of(c).role)];
    Family f(out, family(Metric::checks));
    std::string labels;
    for (int r = 0; r < kRoleCount; ++r) {
      labels.clear();
      append_label(labels, "role", to_string(static_cast<Role>(r)));
      f.sample(labels, {}, per_role[r]);
    }
  }
  Family(out, family(Metric::targets))
      .sample({}, {}, static_cast<std::uint64_t>(plan.targets.size()));
  std::string labels;
  append_label(labels, "shard", std::to_string(plan.daemon.shard_index));
  append_label(labels, "shards", std::to_string(plan.daemon.shard_count));
  Family(out, family(Metric::shard_info)).sample(labels, {}, 1.0);
}

/// The scheduler's lanes: probes in flight and queued, waits, lag, overruns.
void write_scheduler(Sink& out, const Scheduler& s) {
  std::array<std::string, kLaneCount> lane_label;
  for (int l = 0; l < kLaneCount; ++l)
    lane_label[l] = exposition::label("lane", to_string(Lane(l)));
  {
    Family f(out, family(Metric::probes_in_flight));
    for (int l = 0; l < kLaneCount; ++l) f.sample(lane_label[l], {}, s.in_flight(Lane(l)));
  }
  {
    Family f(out, family(Metric::probes_queued));
    for (int l = 0; l < kLaneCount; ++l)
      f.sample(lane_label[l], {}, static_cast<std::uint64_t>(s.queued(Lane(l))));
  }
  {
    Family f(out, family(Metric::scheduler_oldest_wait_seconds));
    for (int l = 0; l < kLaneCount; ++l)
      f.sample(lane_label[l], {}, s.oldest_wait_seconds(Lane(l)));
  }
  Family(out, family(Metric::scheduler_overdue_checks))
      .sample({}, {}, static_cast<std::uint64_t>(s.overdue_checks()));
  Family(out, family(Metric::scheduler_lag_seconds)).histogram({}, s.lag());
  Family(out, family(Metric::scheduler_skipped_total)).sample({}, {}, s.skipped());
}

}  // namespace

struct MetricsRenderer::Cache : CheckLabels {
  // The discovered targets joined with the server's view of them (exposition/agent_join.hpp):
  // built when the plan or a list changes (a discovery refresh), shared by the renders that use
  // it, so a render paused meanwhile keeps the one that matches its own lists.
  std::shared_ptr<const exposition::AgentJoin> join;  // of the last render with agent sections
};

MetricsRenderer::MetricsRenderer() : cache_(std::make_unique<Cache>()) {}
MetricsRenderer::~MetricsRenderer() = default;

asio::awaitable<bool> MetricsRenderer::render_async(Source src, std::string& text,
                                                    const Chunks* chunks) {
  Sink out{text, chunks};
  if (src.table && src.table->plan_ptr()) {
    const ResultTable& table = *src.table;
    const std::shared_ptr<const Plan> keep = table.plan_ptr();
    out.table = &table;
    if (cache_->plan != keep) cache_->build(keep);
    Render r{out, table, table.plan(), *cache_, keep, static_cast<std::uint32_t>(table.size()),
             {},  {}};
    for (int k = 1; k < kReasonCount; ++k)
      r.reason_label[k] = exposition::label("reason", to_string(static_cast<Reason>(k)));
    // A scrape of a large estate is tens of megabytes: grow once.
    out.reserve(text.size() +
                static_cast<std::size_t>(r.n) * (cache_->labels.size() / (r.n ? r.n : 1) + 60));

    KSCPROBE_STEP(write_last_probe(r));
    const GroupSums sums(r);
    KSCPROBE_STEP(write_counters(r, sums));
    KSCPROBE_STEP(write_protocol(r));
    write_aggregates(r, sums);
    if (!src.agents.empty()) {
      if (!cache_->join || cache_->join->plan != keep ||
          cache_->join->lists != exposition::AgentJoin::keys(src.agents))
        cache_->join = exposition::AgentJoin::build(keep, src.agents);
      const double now =
          src.now > 0
              ? src.now
              : std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                    .count();
      KSCPROBE_STEP(write_agents(r, src.agents, cache_->join, now));
    }
    write_plan(out, r.plan);
  }
  if (src.scheduler) write_scheduler(out, *src.scheduler);
  Family(out, family(Metric::metrics_render_cpu_seconds)).sample({}, {}, last_cpu_seconds_);
  Family(out, family(Metric::metrics_render_bytes))
      .sample({}, {}, static_cast<std::uint64_t>(last_bytes_));
  co_return true;
}

#undef KSCPROBE_STEP

void MetricsRenderer::render(const Source& src, std::string& out, const Chunks* chunks) {
  // The same render, run to its end within this call: without `behind` it never waits.
  Chunks plain;
  if (chunks) {
    plain.bytes = chunks->bytes;
    plain.flush = chunks->flush;
  }
  asio::io_context ctx;
  asio::co_spawn(ctx, render_async(src, out, chunks ? &plain : nullptr),
                 [](std::exception_ptr e, bool) {
                   if (e) std::rethrow_exception(e);
                 });
  ctx.run();
}

}  // namespace kscprobe
