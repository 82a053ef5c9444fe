#pragma once
#include <boost/asio/awaitable.hpp>

#include "collectors/probe_result.hpp"
#include "collectors/prober.hpp"
#include "config/plan.hpp"

namespace kscprobe {

/// TCP check: resolve, connect, close. Succeeds when the connection is established.
boost::asio::awaitable<ProbeResult> probe_tcp(const CheckSpec& spec, ProbeEnv& env);

}  // namespace kscprobe
