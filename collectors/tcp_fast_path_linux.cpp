// The TCP fast path on Linux: a non-blocking connect made within the call, the event loop
// joining only when the handshake is still under way. CMake builds this file on Linux and
// tcp_fast_path_other.cpp elsewhere.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <memory>
#include <string>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/deadline.hpp"
#include "collectors/tcp_prober.hpp"

namespace kscprobe {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace detail {
namespace {

// The rest of a connect that did not complete within the call: the socket joins the loop and
// waits to become writable, raced against the probe's deadline like probe_tcp.
asio::awaitable<void> connect_wait_body(ProbeRun& run, tcp::socket& socket) {
  AbortOnDeadline guard(run, socket);
  auto [ec] =
      co_await socket.async_wait(tcp::socket::wait_write, asio::as_tuple(asio::use_awaitable));
  if (!ec) {
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &error, &length) != 0)
      error = errno;
    ec.assign(error, boost::system::system_category());
  }
  if (ec) {
    run.fail(ec);
    co_return;
  }
  run.end_phase();
  run.succeed("connected");
}

asio::awaitable<ProbeResult> finish_connect(const CheckSpec& spec, ProbeEnv& env, int fd,
                                            tcp protocol, ProbeClock::time_point start) {
  ProbeRun run(spec, env);
  run.connecting_since(start);
  tcp::socket socket(env.executor);
  boost::system::error_code ec;
  socket.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    run.fail(ec);
    co_return finish(run, RaceOutcome::finished);
  }
  auto outcome = co_await run_until(connect_wait_body(run, socket), run);
  co_return finish(run, outcome);
}

}  // namespace
}  // namespace detail

bool start_tcp_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                     std::function<void(ProbeResult)>& done) {
  namespace asio = boost::asio;
  using asio::ip::tcp;
  auto address = parse_ip_literal(spec.address);
  if (!address) return false;
  const auto start = detail::ProbeClock::now();
  const tcp::endpoint peer(*address, spec.port);
  // What the floor of a connect costs: socket, connect, and, when the handshake completed within
  // the call (a peer on this host, or a few microseconds away), poll and SO_ERROR; no event loop
  // registration, no timer and no coroutine.
  int error = 0;
  const int fd = ::socket(peer.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno;
  } else if (::connect(fd, peer.data(), static_cast<socklen_t>(peer.size())) != 0) {
    if (errno != EINPROGRESS) {
      error = errno;
    } else {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 0) != 1) {
        // Still connecting: the loop waits for it, within the deadline.
        asio::co_spawn(env.executor, detail::finish_connect(spec, env, fd, peer.protocol(), start),
                       asio::bind_cancellation_slot(
                           slot, detail::ProbeCompletion{&spec, &env, std::move(done)}));
        return true;
      }
      socklen_t length = sizeof error;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    }
  }
  if (fd >= 0) ::close(fd);
  detail::ProbeRun run(spec, env);
  run.connecting_since(start);
  if (error != 0) {
    run.fail(boost::system::error_code(error, boost::system::system_category()));
  } else {
    run.end_phase();
    run.succeed("connected");
  }
  // Never inline: the caller is still starting it.
  asio::post(env.executor, [done = std::move(done),
                            r = detail::finish(run, detail::RaceOutcome::finished)]() mutable {
    done(std::move(r));
  });
  return true;
}

}  // namespace kscprobe
