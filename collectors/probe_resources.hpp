#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <string>

#include "collectors/datagram_mux.hpp"
#include "collectors/icmp_prober.hpp"
#include "collectors/name_resolver.hpp"
#include "collectors/prober.hpp"
#include "collectors/tls_context_cache.hpp"

namespace kscprobe {

/// What every probe of a process shares, built in one place: the TLS context cache, one UDP
/// socket per address family (DatagramMux), one ICMP socket per address family (IcmpMux,
/// opened by the first ICMP check), the name resolver (every check of a name shares its
/// answer) and the ProbeEnv that points at them. It must outlive the
/// probes started on env(); destroying it completes the datagram probes still waiting as
/// cancelled. Neither copied nor moved: env() points into it.
class ProbeResources {
 public:
  struct Options {
    /// Which ICMP socket the ICMP echo checks use.
    IcmpSocketKind icmp_kind = IcmpSocketKind::automatic;
    /// Told once per address family that no ICMP socket can be opened, with the error. Null:
    /// only the ICMP checks' results say why.
    std::function<void(const std::string& why)> on_icmp_unavailable;
    /// The resolver's limits (cache, queue, timeouts); the daemon keeps the defaults.
    ResolverOptions resolver;
    /// ProbeEnv::on_internal_error of env().
    std::function<void(const CheckSpec& spec, const std::string& what)> on_internal_error;
  };

  explicit ProbeResources(boost::asio::any_io_executor executor);
  ProbeResources(boost::asio::any_io_executor executor, Options options);
  ProbeResources(const ProbeResources&) = delete;
  ProbeResources& operator=(const ProbeResources&) = delete;

  /// What start_probe and run_probe take.
  ProbeEnv& env() { return env_; }
  TlsContextCache& tls_cache() { return tls_cache_; }
  DatagramMux& udp_mux() { return udp_mux_; }
  IcmpMux& icmp_mux() { return icmp_mux_; }
  /// Also for the KSC client and the Pushgateway output, which look names up the same way.
  NameResolver& resolver() { return resolver_; }
  const NameResolver& resolver() const { return resolver_; }

 private:
  TlsContextCache tls_cache_;
  DatagramMux udp_mux_;
  IcmpMux icmp_mux_;
  NameResolver resolver_;
  ProbeEnv env_;
};

}  // namespace kscprobe
