#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <functional>

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

/// The same probe without a coroutine waiting through its timeout, for the scheduler's hundreds
/// of thousands of agents: when env.udp is set and spec.address is an IP literal, or a name with
/// env.resolver set (its cached answer at once, else a lookup first), starts it on env.udp and
/// returns true; the result then goes to `done` (moved from), once, from env's executor, and
/// `slot` cancels it. Returns false (and leaves `done` alone) otherwise: use probe_udp. `spec`
/// and `env` must outlive the probe.
bool start_udp_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                     std::function<void(ProbeResult)>& done);

}  // namespace kscprobe
