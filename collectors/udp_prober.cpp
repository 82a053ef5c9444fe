#include "collectors/udp_prober.hpp"

#include <array>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cerrno>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/datagram_mux.hpp"
#include "collectors/deadline.hpp"
#include "platform/net.hpp"

namespace kscprobe {
namespace detail {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

// A plain connected UDP socket learns of ICMP port-unreachable and admin-prohibited only; with
// IP_RECVERR the kernel also reports host and network unreachable, which are `unreachable`.
void enable_icmp_errors(udp::socket& socket, bool v6) {
#if defined(IP_RECVERR) && defined(IPV6_RECVERR) && !defined(_WIN32)  // Windows' differs
  int one = 1;
  if (v6) {
    ::setsockopt(socket.native_handle(), IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
  } else {
    ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_RECVERR, &one, sizeof one);
  }
#else
  (void)socket;
  (void)v6;
#endif
}

void fail_udp(ProbeRun& run, const boost::system::error_code& ec) {
#ifdef _WIN32
  // Winsock reports an ICMP port unreachable on a UDP socket as WSAECONNRESET.
  if (ec == asio::error::connection_refused || ec == asio::error::connection_reset) {
#else
  if (ec == asio::error::connection_refused) {
#endif
    run.fail(Reason::refused, "port unreachable (ICMP): closed");
  } else {
    run.fail(ec);
  }
}

asio::awaitable<void> udp_body(ProbeRun& run) {
  auto address = co_await resolve_address(run);
  if (!address) co_return;

  run.begin(Phase::connect);
  udp::socket socket(co_await asio::this_coro::executor);
  AbortOnDeadline guard(run, socket);
  udp::endpoint peer(*address, run.spec.port);
  boost::system::error_code ec;
  socket.open(peer.protocol(), ec);
  if (!ec) {
    enable_icmp_errors(socket, peer.address().is_v6());
    // Connecting a UDP socket only sets its peer in the kernel (no packet, no wait), and is what
    // lets ICMP errors about that peer reach the socket.
    socket.connect(peer, ec);
  }
  if (ec) {
    fail_udp(run, ec);
    co_return;
  }
  run.end_phase();

  run.begin(Phase::request);
  std::string_view payload = run.spec.options().udp_payload;
  if (payload.empty()) payload = kDefaultUdpPayload;
  auto [send_ec, sent] =
      co_await socket.async_send(asio::buffer(payload), asio::as_tuple(asio::use_awaitable));
  if (send_ec) {
    fail_udp(run, send_ec);
    co_return;
  }
  std::array<char, 1500> reply;
  auto [receive_ec, received] =
      co_await socket.async_receive(asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
  if (receive_ec) {
    fail_udp(run, receive_ec);
    co_return;
  }
  run.end_phase();
  run.result.udp_reply = true;
  run.succeed("open");
}

// One connected socket per probe, held until a reply, an error or the deadline.
asio::awaitable<ProbeResult> probe_udp_connected(const CheckSpec& spec, ProbeEnv& env) {
  ProbeRun run(spec, env);
  // Checked before any co_await of an awaitable, which would throw in a cancelled coroutine.
  if (cancelled(co_await asio::this_coro::cancellation_state)) {
    co_return finish(run, RaceOutcome::cancelled);
  }
  auto outcome = co_await run_until(udp_body(run), run);
  if (outcome == RaceOutcome::deadline && run.phase == Phase::request) {
    // Sent and not refused before the deadline: the honest answer for UDP. The request phase is
    // left unset, since no reply ended it.
    run.result.udp_reply = false;
    run.succeed("no reply: open|filtered");
    outcome = RaceOutcome::finished;
  }
  co_return finish(run, outcome);
}

#if defined(__linux__)

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

#endif

}  // namespace
}  // namespace detail

bool start_udp_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                     std::function<void(ProbeResult)>& done) {
#if defined(__linux__)
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
#else
  (void)spec;
  (void)env;
  (void)slot;
  (void)done;
  return false;
#endif
}

boost::asio::awaitable<ProbeResult> probe_udp(const CheckSpec& spec, ProbeEnv& env) {
#if defined(__linux__)
  if (env.udp != nullptr) return detail::probe_udp_shared(spec, env);
#endif
  return detail::probe_udp_connected(spec, env);
}

}  // namespace kscprobe
