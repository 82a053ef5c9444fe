#include "collectors/tcp_prober.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <string>

#if defined(__linux__)
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#endif

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/deadline.hpp"

namespace kscprobe {
namespace detail {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// getaddrinfo runs on a resolver thread and cannot be interrupted, and Asio's resolver has no
// per-operation cancellation: a coroutine awaiting it directly would outlive its deadline by as
// long as the DNS server stalls. So the lookup reports into this shared state and the probe waits
// on `done`, a timer that the deadline can cancel; an abandoned lookup finishes on its own and
// frees the state. The completion handler and the probe share `finished` without a lock: both run
// on the probe's executor, which must be single-threaded (or a strand), as everywhere else here.
struct PendingLookup {
  explicit PendingLookup(const asio::any_io_executor& executor)
      : resolver(executor), done(executor, ProbeClock::time_point::max()) {}
  tcp::resolver resolver;
  asio::steady_timer done;
  boost::system::error_code ec;
  tcp::resolver::results_type results;
  bool finished = false;
};

}  // namespace

asio::awaitable<std::optional<asio::ip::address>> resolve_address(ProbeRun& run) {
  run.begin(Phase::resolve);
  if (auto literal = parse_ip_literal(run.spec.address)) {
    run.result.set_phase(Phase::resolve, 0);
    co_return literal;
  }
  if (is_reserved_invalid_name(run.spec.address)) {
    run.end_phase();
    run.fail(Reason::resolve, "cannot resolve " + run.spec.address + ": reserved name (RFC 6761)");
    co_return std::nullopt;
  }
  auto executor = co_await asio::this_coro::executor;
  auto lookup = std::make_shared<PendingLookup>(executor);
  lookup->resolver.async_resolve(
      run.spec.address, std::to_string(run.spec.port), tcp::resolver::numeric_service,
      [lookup](boost::system::error_code ec, tcp::resolver::results_type results) {
        lookup->ec = ec;
        lookup->results = std::move(results);
        lookup->finished = true;
        lookup->done.cancel();
      });
  if (!lookup->finished) {
    co_await lookup->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!lookup->finished) {
    // Stopped by the deadline or the caller: abandon the lookup.
    lookup->resolver.cancel();
    run.fail(Reason::timeout, "resolve cancelled");
    co_return std::nullopt;
  }
  run.end_phase();
  if (lookup->ec) {
    run.fail(lookup->ec);
    co_return std::nullopt;
  }
  if (lookup->results.empty()) {
    run.fail(Reason::resolve, "cannot resolve " + run.spec.address + ": no address");
    co_return std::nullopt;
  }
  co_return lookup->results.begin()->endpoint().address();
}

namespace {

asio::awaitable<void> resolve_body(ProbeRun& run, std::optional<asio::ip::address>* address) {
  *address = co_await resolve_address(run);
}

}  // namespace

asio::awaitable<std::optional<asio::ip::address>> resolve_within_deadline(ProbeRun& run,
                                                                          RaceOutcome* outcome) {
  *outcome = RaceOutcome::finished;
  if (auto literal = parse_ip_literal(run.spec.address)) {
    run.begin(Phase::resolve);
    run.result.set_phase(Phase::resolve, 0);
    co_return literal;
  }
  std::optional<asio::ip::address> address;
  *outcome = co_await run_until(resolve_body(run, &address), run);
  if (*outcome != RaceOutcome::finished) co_return std::nullopt;
  co_return address;
}

asio::awaitable<bool> resolve_and_connect(ProbeRun& run, tcp::socket& socket) {
  auto address = co_await resolve_address(run);
  if (!address) co_return false;
  run.begin(Phase::connect);
  auto [ec] = co_await socket.async_connect(tcp::endpoint(*address, run.spec.port),
                                            asio::as_tuple(asio::use_awaitable));
  if (ec) {
    run.fail(ec);
    co_return false;
  }
  run.end_phase();
  co_return true;
}

namespace {

asio::awaitable<void> tcp_body(ProbeRun& run) {
  tcp::socket socket(co_await asio::this_coro::executor);
  AbortOnDeadline guard(run, socket);
  if (!co_await resolve_and_connect(run, socket)) co_return;
  run.succeed("connected");
  // The socket closes when the body returns; a connect is all this check asks of the peer.
}

}  // namespace
}  // namespace detail

boost::asio::awaitable<ProbeResult> probe_tcp(const CheckSpec& spec, ProbeEnv& env) {
  return detail::run_probe_body(spec, env, &detail::tcp_body);
}

#if defined(__linux__)
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
#endif

bool start_tcp_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                     std::function<void(ProbeResult)>& done) {
#if defined(__linux__)
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
#else
  (void)spec;
  (void)env;
  (void)slot;
  (void)done;
  return false;
#endif
}

}  // namespace kscprobe
