#include "daemon/runtime/open_files.hpp"

#include <algorithm>
#include <vector>

namespace kscprobe {

OpenFileFit fit_open_files(const OpenFileDemand& d, unsigned long long limit) {
  OpenFileFit fit;
  fit.limit = limit;
  fit.connect = d.connect;
  fit.quiet = d.quiet;
  fit.web_connections = d.web_connections;
  fit.probe_requests = d.probe_requests;
  const unsigned long long per_request = std::max(1u, d.checks_per_request);
  const unsigned long long fixed =
      kBaseDescriptors + kDatagramDescriptors + 1 /* listener */ + 2ull * d.discovery + d.outputs;
  const unsigned long long scalable = static_cast<unsigned long long>(d.connect) + d.quiet +
                                      d.web_connections + d.probe_requests * per_request;
  fit.reserve = std::max(8ull, limit / 10);
  fit.needed = fixed + fit.reserve + scalable;
  // The reserve grows with the limit: the smallest limit L with L - max(8, L/10) >= demand.
  const unsigned long long demand = fixed + scalable;
  fit.recommended = demand + 8;
  while (fit.recommended - std::max(8ull, fit.recommended / 10) < demand) ++fit.recommended;
  if (limit == 0 || fit.needed <= limit || scalable == 0) return fit;
  fit.clamped = true;
  const unsigned long long room = limit > fixed + fit.reserve ? limit - fixed - fit.reserve : 0;
  auto scale = [&](unsigned long long n, unsigned long long floor) {
    const unsigned long long scaled = n * room / scalable;
    return static_cast<unsigned>(std::min(n, std::max(floor, scaled)));
  };
  fit.connect = scale(d.connect, 1);
  fit.quiet = scale(d.quiet, 1);
  fit.web_connections = scale(d.web_connections, 4);
  // A /probe request takes a target's checks at once: its share is per_request descriptors.
  fit.probe_requests = scale(d.probe_requests, 1);
  return fit;
}

OpenFileDemand demand_of(const Plan& plan, const SchedulerCore::Budgets& budgets,
                         unsigned web_connections, unsigned discovery, unsigned outputs) {
  OpenFileDemand d;
  d.connect = budgets[static_cast<int>(Lane::connect)];
  d.quiet = budgets[static_cast<int>(Lane::quiet)];
  d.web_connections = web_connections;
  d.probe_requests = plan.probe.max_concurrent;
  std::vector<unsigned> per_target(plan.targets.size());
  for (const auto& c : plan.checks) {
    // Datagram checks share the muxes' sockets; the others hold one each.
    if (c.transport == Transport::udp || c.transport == Transport::icmp) continue;
    if (c.target_index < per_target.size()) ++per_target[c.target_index];
  }
  d.checks_per_request = 1;
  for (unsigned n : per_target) d.checks_per_request = std::max(d.checks_per_request, n);
  d.discovery = discovery;
  d.outputs = outputs;
  return d;
}

std::string describe_clamp(const OpenFileDemand& d, const OpenFileFit& fit) {
  std::string text;
  auto item = [&](const char* name, unsigned from, unsigned to) {
    if (from == to) return;
    if (!text.empty()) text += ", ";
    text += std::string(name) + " " + std::to_string(from) + "->" + std::to_string(to);
  };
  item("max_in_flight", d.connect, fit.connect);
  item("max_quiet_in_flight", d.quiet, fit.quiet);
  item("web connections", d.web_connections, fit.web_connections);
  item("[probe] max_concurrent", d.probe_requests, fit.probe_requests);
  return text;
}

}  // namespace kscprobe
