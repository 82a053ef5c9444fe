#pragma once
#include <boost/system/error_code.hpp>
#include <string>

#include "collectors/probe_result.hpp"
#include "collectors/resolver_cache.hpp"
#include "config/duration.hpp"

namespace kscprobe {

/// A failure reason with a short human-readable explanation for ProbeResult::detail.
struct MappedError {
  Reason reason = Reason::none;
  std::string detail;
  /// Not none: the error is this host's own shortage (reason is then none), no verdict on the
  /// target.
  LocalFault local = LocalFault::none;
};

/// The host's own shortage an error stands for, in any phase: EMFILE, ENFILE (fd_limit),
/// EADDRNOTAVAIL (port_range: connect and bind report an exhausted local port range so),
/// ENOBUFS (buffers), ENOMEM (memory; also the resolver's EAI_MEMORY, which Asio reports so);
/// none for anything else.
LocalFault local_fault_of(const boost::system::error_code& ec);

/// Maps an error reported by a socket, resolver, TLS or HTTP operation during `phase` to exactly
/// one reason, or, for a local fault (local_fault_of), to none with `local` set. Reasons:
/// - any error while resolving: `resolve`;
/// - ECONNREFUSED: `refused`; ETIMEDOUT and operation_aborted (our own deadline): `timeout`;
/// - EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN, EACCES/EPERM (a local firewall):
///   `unreachable`;
/// - ECONNRESET, ECONNABORTED, EPIPE: `reset`;
/// - OpenSSL errors, and end of stream during the TLS handshake: `tls`;
/// - malformed HTTP and end of stream before a complete response: `protocol`.
/// Unknown errors fall back on the phase: connect -> unreachable, tls -> tls, request -> protocol.
MappedError map_error(const boost::system::error_code& ec, Phase phase);

/// Maps a failed lookup of `name` (NameResolver) to a reason: a name that does not resolve, a
/// DNS server that fails or does not answer: `resolve`; a lookup cancelled: `timeout`. A full
/// resolver queue is kscprobe's own limit, not the target's: its detail says so.
MappedError map_lookup_failure(const LookupAnswer& answer, std::string_view name);

/// Detail of a probe stopped by its deadline: "no reply within 5s during connect".
std::string timeout_detail(Duration timeout, Phase phase);

}  // namespace kscprobe
