#include "collectors/probe_resources.hpp"

#include <utility>

namespace kscprobe {

ProbeResources::ProbeResources(boost::asio::any_io_executor executor)
    : ProbeResources(std::move(executor), Options{}) {}

ProbeResources::ProbeResources(boost::asio::any_io_executor executor, Options options)
    : udp_mux_(executor),
      icmp_mux_(executor,
                IcmpMux::Options{options.icmp_kind, std::move(options.on_icmp_unavailable)}),
      resolver_(executor, std::move(options.resolver)),
      env_{executor,   &tls_cache_, &udp_mux_,
           &icmp_mux_, &resolver_,  std::move(options.on_internal_error)} {}

}  // namespace kscprobe
