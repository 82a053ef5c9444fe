#pragma once
#include <boost/asio/awaitable.hpp>

#include "collectors/probe_result.hpp"
#include "collectors/prober.hpp"
#include "config/plan.hpp"

namespace kscprobe {

/// UDP check: sends spec.udp_payload (kDefaultUdpPayload when empty) and waits for a datagram
/// until the deadline, on env.udp's shared sockets (Linux), or on a connected socket of its own
/// when env.udp is null. A reply: success, udp_reply, "open". ICMP port
/// unreachable: Reason::refused. Silence: success without udp_reply, "no reply: open|filtered"
/// (KSC's UDP ports never answer, so silence is the most a probe can learn).
boost::asio::awaitable<ProbeResult> probe_udp(const CheckSpec& spec, ProbeEnv& env);

}  // namespace kscprobe
