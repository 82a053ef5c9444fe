#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <exception>
#include <functional>
#include <string>

#include "collectors/probe_result.hpp"
#include "config/plan.hpp"

namespace kscprobe {

class TlsContextCache;
class DatagramMux;
class IcmpMux;
class NameResolver;

/// What probers share: the event loop's executor, the reusable TLS contexts and the sockets of
/// the datagram probers. ProbeResources (probe_resources.hpp) builds the daemon's.
struct ProbeEnv {
  boost::asio::any_io_executor executor;
  TlsContextCache* tls = nullptr;
  /// UDP probes send on its sockets (Linux); null: each UDP probe opens a socket of its own.
  DatagramMux* udp = nullptr;
  /// ICMP echo probes send on its sockets; null: ICMP checks fail ("no ICMP socket").
  IcmpMux* icmp = nullptr;
  /// Looks up every name a probe needs (IP literals need none); null: a check of a name fails
  /// as `resolve` ("no resolver").
  NameResolver* resolver = nullptr;
  /// Told, once per probe, of a probe that ended in an exception (a bug: probers report
  /// failures as Reasons), with the check and the exception's text. Null: not logged; the
  /// result's detail carries the text either way.
  std::function<void(const CheckSpec& spec, const std::string& what)> on_internal_error;
};

/// Where a probe started by start_probe delivers its result.
using ProbeDone = std::function<void(ProbeResult)>;

/// A prober: one probe of a check as a coroutine.
using ProbeFn = boost::asio::awaitable<ProbeResult> (*)(const CheckSpec&, ProbeEnv&);

/// Runs one probe of `spec` (which must outlive the call) within spec.timeout. Never throws;
/// honours cancellation: a terminal cancellation stops the probe at once, and its result is
/// Reason::timeout with the detail "cancelled during <phase>" (or "cancelled before start").
/// Dispatches to the prober of spec.transport (the registry in prober.cpp).
boost::asio::awaitable<ProbeResult> run_probe(const CheckSpec& spec, ProbeEnv& env);

/// Starts one probe of `spec`: how the scheduler, --once and /probe launch every check. A TCP
/// or UDP check starts on its callback path when that takes it (start_tcp_probe,
/// start_udp_probe: no coroutine); any other check runs run_probe as a coroutine on
/// env.executor. The result goes to `done`, once, from env.executor (never within this call),
/// and `slot` cancels the probe. `spec` and `env` must outlive the probe. A probe that throws
/// ends as Reason::protocol, "internal error: <what()>", reported to env.on_internal_error.
void start_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                 ProbeDone done);

/// The coroutine path of start_probe, running `prober` instead of run_probe (the seam by which
/// the tests give it a prober that throws); the same contract as start_probe.
void spawn_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                 ProbeDone done, ProbeFn prober = &run_probe);

namespace detail {

/// The completion of a co_spawned probe: passes the result on, or turns an exception into
/// Reason::protocol "internal error: <what()>" and reports it to env.on_internal_error.
struct ProbeCompletion {
  const CheckSpec* spec;
  ProbeEnv* env;
  ProbeDone done;
  void operator()(std::exception_ptr error, ProbeResult result);
};

}  // namespace detail
}  // namespace kscprobe
