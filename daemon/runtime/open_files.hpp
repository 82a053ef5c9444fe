#pragma once
// How many descriptors the plan's concurrency needs, against the open-file limit. Every probe of
// the connect and quiet lanes holds a socket; datagram probes share four (UDP and ICMP, IPv4 and
// IPv6); the listener holds one per connection; /probe runs the checks of one target at once;
// discovery and the outputs hold one or two each. Past the limit, socket() fails with EMFILE,
// which would be a local fault at every probe: the budgets are clamped to fit instead.
#include <cstdint>
#include <string>

#include "config/plan.hpp"
#include "daemon/runtime/scheduler_core.hpp"

namespace kscprobe {

/// Descriptors a running daemon holds beside its sockets for probes and clients (stdio, epoll,
/// eventfd, timers, the resolver's and the gzip worker's wake-ups, the log, a config file being
/// read), with room to spare.
inline constexpr unsigned kBaseDescriptors = 16;
/// The datagram probes' shared sockets: UDP and ICMP, IPv4 and IPv6.
inline constexpr unsigned kDatagramDescriptors = 4;

/// What the plan and the daemon would run at once, each costing one descriptor.
struct OpenFileDemand {
  unsigned connect = 0;             ///< the connect lane's budget
  unsigned quiet = 0;               ///< the quiet lane's budget (its default resolved)
  unsigned web_connections = 0;     ///< the listener's connection cap (scrapes, status page)
  unsigned probe_requests = 0;      ///< /probe requests at once ([probe] max_concurrent)
  unsigned checks_per_request = 1;  ///< checks of the largest target: one /probe runs them all
  unsigned discovery = 0;           ///< [[ksc]] sections (a connection and a lookup each)
  unsigned outputs = 0;             ///< textfile and Pushgateway writers
};

/// The demand fitted to a limit. When it does not fit, the connect and quiet budgets, the
/// listener's cap and /probe's concurrency shrink in proportion (each to at least one, the
/// listener to at least four) until they fit under the limit less the reserve.
struct OpenFileFit {
  unsigned long long limit = 0;   ///< the open-file limit (0: none known, nothing clamped)
  unsigned long long needed = 0;  ///< what the unclamped demand needs, the reserve included
  unsigned long long reserve = 0;
  /// The smallest limit that fits the unclamped demand with its reserve: what to set.
  unsigned long long recommended = 0;
  bool clamped = false;
  unsigned connect = 0;
  unsigned quiet = 0;
  unsigned web_connections = 0;
  unsigned probe_requests = 0;
};

/// The demand of `plan` run with `budgets` (Scheduler::plan_budgets), a listener of
/// `web_connections`, `discovery` [[ksc]] sections and `outputs` metric writers.
OpenFileDemand demand_of(const Plan& plan, const SchedulerCore::Budgets& budgets,
                         unsigned web_connections, unsigned discovery, unsigned outputs);

/// A tenth of the limit (at least 8) is kept free: files read at reload, TLS CA files, bursts.
OpenFileFit fit_open_files(const OpenFileDemand& demand, unsigned long long limit);

/// "connect 256→5, quiet 64→1, web connections 512→11, /probe 16→1" (clamped budgets only).
std::string describe_clamp(const OpenFileDemand& demand, const OpenFileFit& fit);

}  // namespace kscprobe
