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
#include "collectors/udp_probe_detail.hpp"
#include "platform/net.hpp"

namespace kscprobe {
namespace detail {

namespace asio = boost::asio;
using asio::ip::udp;

void fail_udp(ProbeRun& run, const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category() &&
      platform::is_udp_port_unreachable(platform::socket_errno(ec.value()))) {
    run.fail(Reason::refused, "port unreachable (ICMP): closed");
  } else {
    run.fail(ec);
  }
}

namespace {

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
    platform::enable_udp_icmp_errors(socket.native_handle(), peer.address().is_v6());
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

}  // namespace

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

}  // namespace detail
}  // namespace kscprobe
