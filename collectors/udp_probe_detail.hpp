#pragma once
// What the UDP prober's per-OS parts share (udp_prober.cpp and udp_shared_<os>.cpp).
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include "collectors/deadline.hpp"

namespace kscprobe::detail {

/// Records a socket error of a UDP probe: an ICMP port unreachable is `refused`.
void fail_udp(ProbeRun& run, const boost::system::error_code& ec);

/// One connected socket per probe, held until a reply, an error or the deadline: the probe where
/// no shared DatagramMux is given (or the OS has none).
boost::asio::awaitable<ProbeResult> probe_udp_connected(const CheckSpec& spec, ProbeEnv& env);

}  // namespace kscprobe::detail
