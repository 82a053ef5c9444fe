#include "collectors/probe_result.hpp"

namespace kscprobe {

std::string_view remedy(LocalFault f) {
  switch (f) {
    case LocalFault::none:
      return "";
    case LocalFault::fd_limit:
      return "raise the open-file limit (LimitNOFILE= in the systemd unit, ulimit -n) or lower "
             "[daemon] max_in_flight";
    case LocalFault::port_range:
      return "widen net.ipv4.ip_local_port_range or lower [daemon] max_in_flight";
    case LocalFault::buffers:
      return "raise net.core.wmem_max / net.core.rmem_max or lower [daemon] "
             "max_datagram_in_flight and max_in_flight";
    case LocalFault::memory:
      return "give the host or the service more memory, or lower the in-flight budgets";
    case LocalFault::icmp_permission:
      return "grant CAP_NET_RAW (AmbientCapabilities= in the systemd unit) or put the service's "
             "group in net.ipv4.ping_group_range";
    case LocalFault::resolver_queue:
      return "address targets by IP, lengthen their intervals, or spread the names over more "
             "kscprobes (--shard): more names are due at once than the resolver queues";
  }
  return "";
}

}  // namespace kscprobe
