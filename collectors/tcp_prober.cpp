#include "collectors/tcp_prober.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/deadline.hpp"
#include "collectors/name_resolver.hpp"

namespace kscprobe {
namespace detail {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

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
  if (run.env.resolver == nullptr) {
    run.end_phase();
    run.fail(Reason::resolve, "cannot resolve " + run.spec.address + ": no resolver");
    co_return std::nullopt;
  }
  // Every check of this name shares the resolver's answer; the race with the deadline (or the
  // deadline given here) stops the wait, never the query, which goes on to fill the cache.
  LookupResult found = co_await run.env.resolver->lookup(run.spec.address, run.deadline);
  co_return conclude_lookup(run, found);
}

std::optional<asio::ip::address> conclude_lookup(ProbeRun& run, const LookupResult& found) {
  if (found.status == LookupStatus::cancelled ||
      (found.status == LookupStatus::timeout && ProbeClock::now() >= run.deadline)) {
    // Stopped by the caller or the probe's deadline: what the race would have said.
    run.fail(Reason::timeout, found.status == LookupStatus::cancelled
                                  ? std::string("resolve cancelled")
                                  : timeout_detail(run.spec.timeout, Phase::resolve));
    return std::nullopt;
  }
  run.end_phase();
  if (found.status != LookupStatus::ok) {
    run.fail(map_lookup_failure(found, run.spec.address));
    return std::nullopt;
  }
  return found.addresses.front();
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
