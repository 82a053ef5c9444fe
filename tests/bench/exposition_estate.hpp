#pragma once
// The estate of the exposition benchmark (exposition_bench.cpp): the benchmark's 100 000-agent
// estate (bench_main.cpp's `estate` scenario) composed into a plan by the daemon's own
// configuration code from the same target files, and its result table filled as after two rounds
// of probes: every agent's two UDP checks silent, a fifth of the agents refused, the distribution
// points and servers answering. What /metrics shows of it is what the two writers render: the
// project's (MetricsRenderer) and prometheus-cpp's (exposition_promcpp.hpp).
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"

namespace kscprobe::bench {

struct EstateShape {
  int agents = 100000;
  int distribution_points = 1000;
  int servers = 10;
  int interval_s = 60;
  /// Probes recorded per check (the real estate's /metrics was read after two rounds).
  int rounds = 2;
  /// TOML appended to the configuration ([metrics] detail, say).
  std::string config_append;
};

/// The values of the daemon's own families (exposition::write_self_metrics): what the benchmark's
/// kscprobe showed, fixed.
struct SelfValues {
  double last_reload_success_ts = 1796000000.25;
  double open_files_limit = 1048576;
};

/// The plan, its results and an idle scheduler for it (its families: in flight, queued, lag).
struct ExpositionEstate {
  std::shared_ptr<const Plan> plan;
  std::unique_ptr<ResultTable> table;
  boost::asio::io_context io;  // never run: the scheduler is only read
  std::unique_ptr<Scheduler> scheduler;
  SelfValues self;
  /// Unix time of the last round of results.
  double now = 0;
};

/// Writes the target files and configuration into `dir` (created), composes the plan as the
/// daemon does and records the results. Null with `*error` when the configuration fails.
std::unique_ptr<ExpositionEstate> make_estate(const EstateShape& shape, const std::string& dir,
                                              std::string* error);

/// The daemon's own families ahead of the result table's (exposition::write_self_metrics, as
/// /metrics writes them for a configuration without [[ksc]] sections), with `e`'s values.
void write_self_metrics(const ExpositionEstate& e, std::string& out);

/// The checks of the estate's first server, and results for them as its probes give them.
struct ProbeCase {
  std::vector<CheckSpec> checks;
  std::vector<ProbeResult> results;
};
ProbeCase make_probe_case(const ExpositionEstate& e);

}  // namespace kscprobe::bench
