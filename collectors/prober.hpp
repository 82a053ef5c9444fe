#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "collectors/probe_result.hpp"
#include "config/plan.hpp"

namespace kscprobe {

class TlsContextCache;
class DatagramMux;
class IcmpMux;

/// What probers share: the event loop's executor, the reusable TLS contexts and the sockets of
/// the datagram probers.
struct ProbeEnv {
  boost::asio::any_io_executor executor;
  TlsContextCache* tls = nullptr;
  /// UDP probes send on its sockets (Linux); null: each UDP probe opens a socket of its own.
  DatagramMux* udp = nullptr;
  /// ICMP echo probes send on its sockets; null: ICMP checks fail ("no ICMP socket").
  IcmpMux* icmp = nullptr;
};

/// Runs one probe of `spec` (which must outlive the call) within spec.timeout. Never throws;
/// honours cancellation (terminal cancellation ends the probe as `timeout`... see prober.cpp).
/// Dispatches to the prober of spec.transport (the registry in prober.cpp).
boost::asio::awaitable<ProbeResult> run_probe(const CheckSpec& spec, ProbeEnv& env);

}  // namespace kscprobe
