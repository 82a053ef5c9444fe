#include "collectors/tcp_prober.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

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

}  // namespace kscprobe
