// UDP on the shared sockets of a DatagramMux (Linux): the coroutine probe_udp takes when a mux is
// given, and the callback fast path start_udp_probe. CMake builds this file on Linux and
// udp_shared_other.cpp elsewhere.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <memory>
#include <optional>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/datagram_mux.hpp"
#include "collectors/deadline.hpp"
#include "collectors/name_resolver.hpp"
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

namespace detail {
namespace {

// Hands the datagram of `spec` to env.udp for `address`: the probe began at `start` and its
// resolve phase ended at `resolved` (the same instant for an IP literal). Only the mux's entry
// waits through the timeout, holding this callback.
void send_udp_probe(const CheckSpec& spec, ProbeEnv& env, asio::cancellation_slot slot,
                    std::function<void(ProbeResult)> done, const asio::ip::address& address,
                    ProbeClock::time_point start, ProbeClock::time_point resolved) {
  env.udp->async_probe(
      udp::endpoint(address, spec.port), payload_of(spec), spec.timeout, start + spec.timeout,
      asio::bind_cancellation_slot(
          slot, [&spec, &env, start, resolved, done = std::move(done)](DatagramOutcome o) {
            ProbeRun run(spec, env);
            run.connecting_since(resolved);
            run.start = start;
            run.deadline = start + spec.timeout;
            run.result.set_phase(Phase::resolve, seconds_between(start, resolved));
            done(conclude(run, o));
          }));
}

// A lookup started outside a coroutine: the scheduler's cancellation reaches it through
// `signal`, and `cancelled` says that it came.
struct CallbackLookup {
  asio::cancellation_signal signal;
  bool cancelled = false;
};

// A name the cache does not hold: only the lookup is a coroutine (a few milliseconds, shared
// with the target's other checks); the datagram then goes as for an IP literal.
void resolve_then_send(const CheckSpec& spec, ProbeEnv& env, asio::cancellation_slot slot,
                       std::function<void(ProbeResult)> done, ProbeClock::time_point start) {
  auto lookup = std::make_shared<CallbackLookup>();
  if (slot.is_connected()) {
    slot.assign([lookup](asio::cancellation_type type) {
      lookup->cancelled = true;
      lookup->signal.emit(type);
    });
  }
  asio::co_spawn(
      env.executor, env.resolver->lookup(spec.address, start + spec.timeout),
      asio::bind_cancellation_slot(
          lookup->signal.slot(), [&spec, &env, slot, start, lookup, done = std::move(done)](
                                     std::exception_ptr error, LookupResult found) mutable {
            // The signal stays alive until the coroutine that holds its slot is gone.
            asio::post(env.executor, [keep = lookup] {});
            ProbeRun run(spec, env);
            run.start = start;
            run.deadline = start + spec.timeout;
            run.phase = Phase::resolve;
            run.phase_start = start;
            if (lookup->cancelled) {
              if (slot.is_connected()) slot.clear();
              done(finish(run, RaceOutcome::cancelled));
              return;
            }
            if (error) {
              // lookup() never throws; were it to, the check fails as the coroutine path would.
              found.status = LookupStatus::failed;
              found.detail = "internal error";
            }
            auto address = conclude_lookup(run, found);
            if (slot.is_connected()) slot.clear();
            if (!address) {
              done(finish(run, RaceOutcome::finished));
              return;
            }
            send_udp_probe(spec, env, slot, std::move(done), *address, start, ProbeClock::now());
          }));
}

}  // namespace
}  // namespace detail

bool start_udp_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                     std::function<void(ProbeResult)>& done) {
  if (env.udp == nullptr) return false;
  const auto start = detail::ProbeClock::now();
  std::optional<boost::asio::ip::address> address = parse_ip_literal(spec.address);
  if (!address) {
    // A name: the answer its target's other checks got, or a lookup, and no coroutine waits
    // through the timeout either way. Reserved names fail on the coroutine path.
    if (env.resolver == nullptr || is_reserved_invalid_name(spec.address)) return false;
    address = env.resolver->cached_address(spec.address);
    if (!address) {
      detail::resolve_then_send(spec, env, slot, std::move(done), start);
      return true;
    }
  }
  detail::send_udp_probe(spec, env, slot, std::move(done), *address, start, start);
  return true;
}

boost::asio::awaitable<ProbeResult> probe_udp(const CheckSpec& spec, ProbeEnv& env) {
  if (env.udp != nullptr) return detail::probe_udp_shared(spec, env);
  return detail::probe_udp_connected(spec, env);
}

}  // namespace kscprobe
