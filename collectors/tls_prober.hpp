#pragma once
#include <boost/asio/awaitable.hpp>

#include "collectors/probe_result.hpp"
#include "collectors/prober.hpp"
#include "config/plan.hpp"

namespace kscprobe {

/// TLS check: resolve, connect, TLS client handshake (SNI from spec.tls.server_name, else the
/// address when it is a DNS name), then close. Reports the peer certificate in result.tls; fails
/// with Reason::tls on a failed handshake, a chain that does not verify against spec.tls.ca_file,
/// or a leaf that does not match spec.tls.fingerprint_sha256.
boost::asio::awaitable<ProbeResult> probe_tls(const CheckSpec& spec, ProbeEnv& env);

}  // namespace kscprobe
