#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <functional>

#include "collectors/probe_result.hpp"
#include "collectors/prober.hpp"
#include "config/plan.hpp"

namespace kscprobe {

/// TCP check: resolve, connect, close. Succeeds when the connection is established.
boost::asio::awaitable<ProbeResult> probe_tcp(const CheckSpec& spec, ProbeEnv& env);

/// The same check started by the scheduler without a coroutine (Linux, IP literal): a
/// non-blocking connect whose handshake completes within the call (a peer on this host) ends at
/// once, outside the event loop; otherwise the loop waits for it as probe_tcp does. Returns true
/// when started: the result goes to `done` (moved from), once, from env's executor, and `slot`
/// cancels it. Returns false (and leaves `done` alone) otherwise: use probe_tcp.
bool start_tcp_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                     std::function<void(ProbeResult)>& done);

}  // namespace kscprobe
