// The daemon's own families (daemon/exposition/self_metrics.hpp): their order, types and values,
// as /metrics has always written them ahead of the result table's.
#include "daemon/exposition/self_metrics.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "collectors/name_resolver.hpp"
#include "daemon/runtime/local_faults.hpp"

namespace kscprobe::exposition {
namespace {

std::vector<std::string> type_lines(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("# TYPE ", 0) == 0) out.push_back(line.substr(7));
  return out;
}

TEST(SelfMetrics, FamiliesKeepTheirOrderTypesAndValues) {
  LocalFaults faults;
  faults.note(LocalFault::port_range, 1);
  faults.note(LocalFault::port_range, 2);
  ResolverStats resolver;
  resolver.cache_hits = 7;
  resolver.queued = 3;
  SelfMetrics m;
  m.last_reload_ok = false;
  m.last_reload_success_ts = 1700000000;
  m.local_faults = &faults;
  m.local_faults_active = true;
  m.fit.limit = 1024;
  m.fit.clamped = true;
  m.budgets = {5, 64, 1};
  m.resolver = &resolver;
  std::string out;
  write_self_metrics(out, m);
  EXPECT_EQ(type_lines(out), (std::vector<std::string>{
                                 "kscprobe_build_info gauge",
                                 "kscprobe_config_last_reload_successful gauge",
                                 "kscprobe_config_last_reload_success_timestamp_seconds gauge",
                                 "kscprobe_local_errors_total counter",
                                 "kscprobe_local_errors_active gauge",
                                 "kscprobe_open_files_limit gauge",
                                 "kscprobe_probe_budget_clamped gauge",
                                 "kscprobe_probe_budget gauge",
                                 "kscprobe_resolver_lookups_total counter",
                                 "kscprobe_resolver_queries_in_flight gauge",
                                 "kscprobe_resolver_queued gauge",
                             }));
  for (const char* line : {
           "kscprobe_config_last_reload_successful 0\n",
           "kscprobe_config_last_reload_success_timestamp_seconds 1700000000\n",
           "kscprobe_local_errors_total{kind=\"fd_limit\"} 0\n",
           "kscprobe_local_errors_total{kind=\"port_range\"} 2\n",
           "kscprobe_local_errors_active 1\n",
           "kscprobe_open_files_limit 1024\n",
           "kscprobe_probe_budget_clamped 1\n",
           "kscprobe_probe_budget{lane=\"connect\"} 5\n",
           "kscprobe_probe_budget{lane=\"quiet\"} 1\n",
           "kscprobe_resolver_lookups_total{outcome=\"cache\"} 7\n",
           "kscprobe_resolver_queued 3\n",
       })
    EXPECT_NE(out.find(line), std::string::npos) << line << "\nin\n" << out;
  const std::string build_info =
      std::string("kscprobe_build_info{version=\"") + KSCPROBE_VERSION + "\"} 1\n";
  EXPECT_NE(out.find(build_info), std::string::npos) << out;
  // No [[ksc]] section: no discovery family.
  EXPECT_EQ(out.find("kscprobe_discovery_"), std::string::npos);
}

}  // namespace
}  // namespace kscprobe::exposition
