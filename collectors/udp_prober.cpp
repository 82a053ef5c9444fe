#include "collectors/udp_prober.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cerrno>

#include "collectors/connect.hpp"
#include "collectors/deadline.hpp"

namespace kscprobe {
namespace detail {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

// A plain connected UDP socket learns of ICMP port-unreachable and admin-prohibited only; with
// IP_RECVERR the kernel also reports host and network unreachable, which are `unreachable`.
void enable_icmp_errors(udp::socket& socket, bool v6) {
#if defined(IP_RECVERR) && defined(IPV6_RECVERR)
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
  if (ec == asio::error::connection_refused) {
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
  std::string_view payload = run.spec.udp_payload;
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

}  // namespace
}  // namespace detail

boost::asio::awaitable<ProbeResult> probe_udp(const CheckSpec& spec, ProbeEnv& env) {
  detail::ProbeRun run(spec, env);
  // Checked before any co_await of an awaitable, which would throw in a cancelled coroutine.
  if (detail::cancelled(co_await boost::asio::this_coro::cancellation_state)) {
    co_return detail::finish(run, detail::RaceOutcome::cancelled);
  }
  auto outcome = co_await detail::run_until(detail::udp_body(run), run);
  if (outcome == detail::RaceOutcome::deadline && run.phase == Phase::request) {
    // Sent and not refused before the deadline: the honest answer for UDP. The request phase is
    // left unset, since no reply ended it.
    run.result.udp_reply = false;
    run.succeed("no reply: open|filtered");
    outcome = detail::RaceOutcome::finished;
  }
  co_return detail::finish(run, outcome);
}

}  // namespace kscprobe
