#include "tests/bench/exposition_estate.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "collectors/name_resolver.hpp"
#include "config/compose.hpp"
#include "config/target_files.hpp"
#include "daemon/exposition/self_metrics.hpp"
#include "daemon/runtime/local_faults.hpp"

namespace kscprobe::bench {

namespace {

// As in bench_main.cpp: the second octets of the estate's hosts, the agents' groups and sites.
constexpr int kServerOctet = 100;
constexpr int kDistributionPointOctet = 101;
constexpr int kAgentOctet = 104;
constexpr int kRefusedAgentOctet = 108;
const char* const kAgentGroups[] = {"Workstations", "Laptops", "Servers", "Kiosks"};
constexpr int kSites = 50;
constexpr double kRefusedAgentShare = 0.20;

std::string host_address(int first_octet, int i) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "10.%d.%d.%d", first_octet + i / (254 * 256),
                (i / 254) % 256, i % 254 + 1);
  return buffer;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// The configuration bench_main.cpp's estate scenario writes: agents and distribution points in
// file_sd target files with the labels a KSC export gives, servers as [[target]] tables.
void write_configuration(const EstateShape& shape, const std::string& dir) {
  const int refused_agents = static_cast<int>(std::lround(shape.agents * kRefusedAgentShare));
  std::map<std::pair<int, int>, std::string> agent_groups;
  for (int i = 0, refused = 0, answering = 0; i < shape.agents; ++i) {
    const std::string address = i % 5 == 0 && refused < refused_agents
                                    ? host_address(kRefusedAgentOctet, refused++)
                                    : host_address(kAgentOctet, answering++);
    std::string& list = agent_groups[{i % kSites, (i / kSites) % 4}];
    if (!list.empty()) list += ", ";
    list += "\"" + address + "\"";
  }
  std::string agents = "[\n";
  for (const auto& [key, list] : agent_groups) {
    if (agents.size() > 2) agents += ",\n";
    char head[160];
    std::snprintf(head, sizeof head,
                  R"({"labels": {"role": "agent", "site": "site-%02d", "ksc_group": "%s"}, )",
                  key.first, kAgentGroups[key.second]);
    agents += std::string(head) + "\"targets\": [" + list + "]}";
  }
  write_file(dir + "/agents.json", agents + "\n]\n");
  std::map<int, std::string> dp_groups;
  for (int i = 0; i < shape.distribution_points; ++i) {
    std::string& list = dp_groups[i % kSites];
    if (!list.empty()) list += ", ";
    list += "\"" + host_address(kDistributionPointOctet, i) + "\"";
  }
  std::string dps = "[\n";
  for (const auto& [site, list] : dp_groups) {
    if (dps.size() > 2) dps += ",\n";
    char head[120];
    std::snprintf(head, sizeof head,
                  R"({"labels": {"role": "distribution_point", "site": "site-%02d"}, )", site);
    dps += std::string(head) + "\"targets\": [" + list + "]}";
  }
  write_file(dir + "/distribution_points.json", dps + "\n]\n");
  std::string toml = "target_files = [\"agents.json\", \"distribution_points.json\"]\n";
  toml += "[daemon]\ninterval = \"" + std::to_string(shape.interval_s) + "s\"\n";
  for (int i = 0; i < shape.servers; ++i) {
    char server[256];
    std::snprintf(server, sizeof server,
                  "\n[[target]]\nname = \"ksc-%02d\"\nrole = \"server\"\naddress = \"%s\"\n"
                  "labels = { site = \"site-%02d\" }\n",
                  i + 1, host_address(kServerOctet, i).c_str(), i % kSites);
    toml += server;
  }
  write_file(dir + "/kscprobe.toml", toml + shape.config_append);
}

// What a probe of `c` at `t` gives in the estate of the benchmark (bench_main.cpp's layout):
// every UDP port silent (the refusing agents' refused), every TCP and TLS port answering, the
// HTTPS ones with 200. Durations vary from check to check as a real run's do.
ProbeResult result_for(const CheckSpec& c, std::uint32_t i, int round) {
  const double jitter =
      static_cast<double>((i * 7919u + static_cast<unsigned>(round) * 104729u) % 100000u) * 1e-9;
  ProbeResult r;
  r.set_phase(Phase::resolve, 0.0000021 + jitter / 100);
  if (c.transport == Transport::udp) {
    r.set_phase(Phase::connect, 0.0000153 + jitter / 10);
    if (c.address.view().starts_with("10." + std::to_string(kRefusedAgentOctet) + ".")) {
      r.reason = Reason::refused;
      r.detail = "port unreachable (ICMP)";
      r.set_phase(Phase::request, 0.000412 + jitter);
      r.duration = 0.000431 + jitter;
      return r;
    }
    r.success = true;
    r.detail = "no reply: open|filtered";
    r.duration = 5.000184 + jitter;
    return r;
  }
  r.success = true;
  r.set_phase(Phase::connect, 0.000283 + jitter);
  r.duration = 0.000291 + jitter;
  if (c.transport == Transport::tls || c.transport == Transport::https) {
    TlsInfo tls;
    tls.version = "TLSv1.3";
    tls.fingerprint_sha256 = "3f1d6c0a9be24c57a1f0e93d8b6c27e415a9d0c3e8f72b6154d09a8e3c1b7f26";
    tls.subject = "CN=kscprobe-bench";
    tls.not_after = 1827536000;
    r.tls = tls;
    r.set_phase(Phase::tls, 0.00161 + jitter);
    r.duration += 0.00161;
  }
  if (c.transport == Transport::https) {
    r.http_status = 200;
    r.set_phase(Phase::request, 0.000702 + jitter);
    r.duration += 0.000702;
  }
  return r;
}

}  // namespace

std::unique_ptr<ExpositionEstate> make_estate(const EstateShape& shape, const std::string& dir,
                                              std::string* error) {
  std::filesystem::create_directories(dir);
  write_configuration(shape, dir);
  TargetFiles files;
  ConfigSources sources;
  sources.file = dir + "/kscprobe.toml";
  ComposedConfig composed = compose(sources, &files);
  if (!composed.strictly_ok()) {
    std::ostringstream text;
    print_errors(composed.errors, text);
    print_errors(composed.target_errors, text);
    *error = text.str();
    return nullptr;
  }
  auto e = std::make_unique<ExpositionEstate>();
  e->plan = composed.plan;
  e->table = std::make_unique<ResultTable>(e->plan);
  // The results of `rounds` rounds, one interval apart, each check at its own time in the round.
  const double first = 1796000000.0;
  const auto n = static_cast<std::uint32_t>(e->plan->checks.size());
  for (int round = 0; round < shape.rounds; ++round) {
    for (std::uint32_t i = 0; i < n; ++i) {
      const double at = first + round * shape.interval_s +
                        static_cast<double>(i) * shape.interval_s / std::max<std::uint32_t>(n, 1) +
                        0.000137 * (i % 977);
      e->table->record(i, result_for(e->plan->checks[i], i, round), at);
    }
  }
  e->now = first + shape.rounds * shape.interval_s;
  e->scheduler = std::make_unique<Scheduler>(
      e->io.get_executor(),
      [](const CheckSpec&, boost::asio::cancellation_slot, Scheduler::Done) {},
      [](std::uint32_t, const ProbeResult&) {});
  e->scheduler->set_plan(e->plan, {});
  return e;
}

void write_self_metrics(const ExpositionEstate& e, std::string& out) {
  // The daemon's writer, with what the benchmark's kscprobe showed: no local fault, the budgets
  // unclamped, the resolver unused (the estate is by address).
  const LocalFaults faults;
  const ResolverStats resolver;
  exposition::SelfMetrics m;
  m.last_reload_success_ts = e.self.last_reload_success_ts;
  m.local_faults = &faults;
  m.fit.limit = static_cast<unsigned long long>(e.self.open_files_limit);
  m.budgets = e.scheduler->budgets();
  m.resolver = &resolver;
  exposition::write_self_metrics(out, m);
}

ProbeCase make_probe_case(const ExpositionEstate& e) {
  ProbeCase out;
  std::uint32_t server = 0;
  bool found = false;
  for (std::uint32_t i = 0; i < e.plan->checks.size(); ++i) {
    const CheckSpec& c = e.plan->checks[i];
    if (e.plan->target_of(c).role != Role::server) continue;
    if (!found) server = c.target_index;
    found = true;
    if (c.target_index != server) continue;
    out.checks.push_back(c);
    out.results.push_back(result_for(c, i, 0));
  }
  return out;
}

}  // namespace kscprobe::bench
