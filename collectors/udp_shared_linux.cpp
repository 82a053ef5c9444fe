// UDP on the shared sockets of a DatagramMux (Linux): the coroutine probe_udp takes when a mux is
// given, and the callback fast path start_udp_probe. CMake builds this file on Linux and
// udp_shared_other.cpp elsewhere.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cerrno>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/datagram_mux.hpp"
#include "collectors/deadline.hpp"
#include "collectors/udp_probe_detail.hpp"
#include "collectors/udp_prober.hpp"

namespace kscprobe {
namespace detail {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

// Errors of sendto() that a connect() of the socket would have raised: the route to the peer.
bool is_route_error(int error) {
  return error == ENETUNREACH || error == EHOSTUNREACH || error == EACCES || error == EINVAL ||
         error == EADDRNOTAVAIL || error == ENETDOWN || error == EAFNOSUPPORT;
}

// What a DatagramMux outcome means for a probe in `run`, which entered the connect phase when
// it handed the datagram over. Phases as on a connected socket: `connect` until the kernel took
// the datagram, `request` from then until the reply.
ProbeResult conclude(ProbeRun& run, const DatagramOutcome& o) {
  auto sent = [&] {
    run.result.set_phase(Phase::connect, seconds_between(run.phase_start, o.sent_at));
    run.phase = Phase::request;
    run.phase_start = o.sent_at;
  };
  using Kind = DatagramOutcome::Kind;
  switch (o.kind) {
    case Kind::reply:
      sent();
      run.result.set_phase(Phase::request, seconds_between(o.sent_at, o.done_at));
      run.result.udp_reply = true;
      run.succeed("open");
      break;
    case Kind::silence:
      // Sent and not refused before the deadline: the honest answer for UDP. The request phase
      // is left unset, since no reply ended it.
      sent();
      run.result.udp_reply = false;
      run.succeed("no reply: open|filtered");
      break;
    case Kind::error:
    case Kind::no_socket:
      // As on a socket of its own: opening it and routing fail in connect, sending in request.
      if (o.sent) {
        sent();
      } else if (o.kind == Kind::error && !is_route_error(o.error)) {
        run.end_phase();
        run.begin(Phase::request);
      }
      fail_udp(run, boost::system::error_code(o.error, boost::system::system_category()));
      break;
    case Kind::unsent:
      return finish(run, RaceOutcome::deadline);
    case Kind::cancelled:
      if (o.sent) sent();
      return finish(run, RaceOutcome::cancelled);
  }
  return finish(run, RaceOutcome::finished);
}

std::string_view payload_of(const CheckSpec& spec) {
  std::string_view payload = spec.options().udp_payload;
  return payload.empty() ? kDefaultUdpPayload : payload;
}

// The same probe on the shared sockets of a DatagramMux: only this suspended coroutine waits
// through the timeout, with no socket, timer or racing coroutines of its own.
asio::awaitable<ProbeResult> probe_udp_shared(const CheckSpec& spec, ProbeEnv& env) {
  ProbeRun run(spec, env);
  if (cancelled(co_await asio::this_coro::cancellation_state)) {
    co_return finish(run, RaceOutcome::cancelled);
  }
  RaceOutcome resolved;
  auto address = co_await resolve_within_deadline(run, &resolved);
  if (!address) co_return finish(run, resolved);

  run.begin(Phase::connect);
  DatagramOutcome o =
      co_await env.udp->async_probe(udp::endpoint(*address, spec.port), payload_of(spec),
                                    spec.timeout, run.deadline, asio::use_awaitable);
  co_return conclude(run, o);
}

}  // namespace
}  // namespace detail

bool start_udp_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                     std::function<void(ProbeResult)>& done) {
  if (env.udp == nullptr) return false;
  auto address = parse_ip_literal(spec.address);
  if (!address) return false;
  const auto start = detail::ProbeClock::now();
  env.udp->async_probe(boost::asio::ip::udp::endpoint(*address, spec.port),
                       detail::payload_of(spec), spec.timeout, start + spec.timeout,
                       boost::asio::bind_cancellation_slot(
                           slot, [&spec, &env, start, done = std::move(done)](DatagramOutcome o) {
                             detail::ProbeRun run(spec, env);
                             run.connecting_since(start);
                             done(detail::conclude(run, o));
                           }));
  return true;
}

boost::asio::awaitable<ProbeResult> probe_udp(const CheckSpec& spec, ProbeEnv& env) {
  if (env.udp != nullptr) return detail::probe_udp_shared(spec, env);
  return detail::probe_udp_connected(spec, env);
}

}  // namespace kscprobe
