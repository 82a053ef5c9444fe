#include "collectors/probe_result.hpp"

namespace kscprobe {

std::string_view to_string(Reason r) {
  switch (r) {
    case Reason::none:
      return "none";
    case Reason::resolve:
      return "resolve";
    case Reason::refused:
      return "refused";
    case Reason::timeout:
      return "timeout";
    case Reason::unreachable:
      return "unreachable";
    case Reason::reset:
      return "reset";
    case Reason::tls:
      return "tls";
    case Reason::http_status:
      return "http_status";
    case Reason::protocol:
      return "protocol";
  }
  return "unknown";
}

std::string_view to_string(LocalFault f) {
  switch (f) {
    case LocalFault::none:
      return "none";
    case LocalFault::fd_limit:
      return "fd_limit";
    case LocalFault::port_range:
      return "port_range";
    case LocalFault::buffers:
      return "buffers";
    case LocalFault::memory:
      return "memory";
    case LocalFault::icmp_permission:
      return "icmp_permission";
    case LocalFault::resolver_queue:
      return "resolver_queue";
  }
  return "unknown";
}

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

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::resolve:
      return "resolve";
    case Phase::connect:
      return "connect";
    case Phase::tls:
      return "tls";
    case Phase::request:
      return "request";
  }
  return "unknown";
}

}  // namespace kscprobe
