#include "collectors/prober.hpp"

#include <array>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <utility>

#include "collectors/http_prober.hpp"
#include "collectors/icmp_prober.hpp"
#include "collectors/tcp_prober.hpp"
#include "collectors/tls_prober.hpp"
#include "collectors/udp_prober.hpp"

namespace kscprobe {
namespace {

// The registry: one prober per Transport, in the enum's order.
constexpr std::array<ProbeFn, kTransportCount> kProbers = {
    probe_tcp,    // Transport::tcp
    probe_tls,    // Transport::tls
    probe_udp,    // Transport::udp
    probe_http,   // Transport::http
    probe_https,  // Transport::https
    probe_icmp,   // Transport::icmp
};
static_assert(static_cast<int>(Transport::tcp) == 0 && static_cast<int>(Transport::tls) == 1 &&
              static_cast<int>(Transport::udp) == 2 && static_cast<int>(Transport::http) == 3 &&
              static_cast<int>(Transport::https) == 4 && static_cast<int>(Transport::icmp) == 5 &&
              kTransportCount == 6);

}  // namespace

// Cancellation: a terminal cancellation of the coroutine awaiting run_probe stops the probe at
// once; its result is then Reason::timeout with detail "cancelled during <phase>" (the probe was
// cut short before it could conclude, which is what `timeout` means to a dashboard).
boost::asio::awaitable<ProbeResult> run_probe(const CheckSpec& spec, ProbeEnv& env) {
  auto index = static_cast<std::size_t>(spec.transport);
  if (index >= kProbers.size()) {
    co_return ProbeResult::failure(Reason::protocol, "unknown transport");
  }
  // co_await on an awaitable throws in a coroutine that is already cancelled; answer directly.
  auto state = co_await boost::asio::this_coro::cancellation_state;
  if (state.cancelled() != boost::asio::cancellation_type::none) {
    co_return ProbeResult::failure(Reason::timeout, "cancelled before start");
  }
  co_return co_await kProbers[index](spec, env);
}

void start_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                 ProbeDone done) {
  // Most checks of a large estate are UDP to agents, then TCP: callbacks, no coroutine. The
  // fast paths move `done` only when they take the check.
  if (spec.transport == Transport::udp && start_udp_probe(spec, env, slot, done)) return;
  if (spec.transport == Transport::tcp && start_tcp_probe(spec, env, slot, done)) return;
  spawn_probe(spec, env, slot, std::move(done));
}

void spawn_probe(const CheckSpec& spec, ProbeEnv& env, boost::asio::cancellation_slot slot,
                 ProbeDone done, ProbeFn prober) {
  boost::asio::co_spawn(env.executor, prober(spec, env),
                        boost::asio::bind_cancellation_slot(
                            slot, detail::ProbeCompletion{&spec, &env, std::move(done)}));
}

namespace detail {

void ProbeCompletion::operator()(std::exception_ptr error, ProbeResult result) {
  if (error) {
    std::string what;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown exception";
    }
    if (env->on_internal_error) env->on_internal_error(*spec, what);
    result = ProbeResult::failure(Reason::protocol, "internal error: " + what);
  }
  done(std::move(result));
}

}  // namespace detail

}  // namespace kscprobe
