#pragma once
// The deadline shared by all probers: a probe's body runs as one coroutine raced against a timer
// set to the probe's deadline. When the timer wins, the awaitable operator cancels the body's
// pending operation and waits for the body to return, so every socket and buffer the body owns
// is gone before the probe completes (no callback can outlive them). A terminal cancellation of
// the probe from outside is forwarded to both by the parallel group behind the operator.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "collectors/error_mapping.hpp"
#include "collectors/probe_result.hpp"
#include "collectors/prober.hpp"
#include "config/plan.hpp"

namespace kscprobe::detail {

using ProbeClock = std::chrono::steady_clock;

inline double seconds_between(ProbeClock::time_point from, ProbeClock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// One probe in progress: what the body found so far and the phase it is in (for the timeout
// text). It lives in the frame of the prober coroutine, which outlives the body.
struct ProbeRun {
  ProbeRun(const CheckSpec& check, ProbeEnv& environment)
      : spec(check),
        env(environment),
        start(ProbeClock::now()),
        deadline(start + check.timeout),
        phase_start(start) {}

  void begin(Phase p) {
    phase = p;
    phase_start = ProbeClock::now();
  }
  // For a probe of an IP literal (no lookup) started outside a coroutine at `t`, connecting
  // since: what its coroutine would have recorded.
  void connecting_since(ProbeClock::time_point t) {
    start = t;
    deadline = t + spec.timeout;
    result.set_phase(Phase::resolve, 0);
    phase = Phase::connect;
    phase_start = t;
  }
  void end_phase() { result.set_phase(phase, seconds_between(phase_start, ProbeClock::now())); }
  void fail(Reason reason, std::string detail) {
    result.success = false;
    result.reason = reason;
    result.local = LocalFault::none;
    result.detail = std::move(detail);
  }
  // A mapped error: a reason, or a local fault (no verdict on the target).
  void fail(MappedError mapped) {
    fail(mapped.reason, std::move(mapped.detail));
    result.local = mapped.local;
  }
  void fail(const boost::system::error_code& ec) { fail(map_error(ec, phase)); }
  void fail_locally(LocalFault local, std::string detail) {
    fail(Reason::none, std::move(detail));
    result.local = local;
  }
  void succeed(std::string detail = {}) {
    result.success = true;
    result.reason = Reason::none;
    result.local = LocalFault::none;
    result.detail = std::move(detail);
  }

  const CheckSpec& spec;
  ProbeEnv& env;
  // Closes the body's socket when the deadline passes (see AbortOnDeadline); empty when the body
  // holds no socket.
  std::function<void()> abort_io;
  ProbeClock::time_point start;
  ProbeClock::time_point deadline;
  ProbeClock::time_point phase_start;
  Phase phase = Phase::resolve;
  ProbeResult result;
};

// Registers `socket` to be closed when the deadline passes, for as long as this guard lives (put
// it right after the socket, in the body that owns it). Cancellation alone is not enough: a
// composed operation (Beast's http::async_read) that is between two of its inner reads when the
// deadline's cancellation is emitted has no handler in the slot, so the cancellation is lost and
// the probe would wait for the peer as long as the peer stalls. Closing the socket completes
// whatever operation comes next with an error.
template <class Socket>
class AbortOnDeadline {
 public:
  AbortOnDeadline(ProbeRun& run, Socket& socket) : run_(run) {
    run_.abort_io = [&socket] {
      boost::system::error_code ignored;
      socket.close(ignored);
    };
  }
  ~AbortOnDeadline() { run_.abort_io = nullptr; }
  AbortOnDeadline(const AbortOnDeadline&) = delete;
  AbortOnDeadline& operator=(const AbortOnDeadline&) = delete;

 private:
  ProbeRun& run_;
};

enum class RaceOutcome { finished, deadline, cancelled };

inline bool cancelled(const boost::asio::cancellation_state& state) {
  return state.cancelled() != boost::asio::cancellation_type::none;
}

// Waits for the deadline; then closes the body's socket, in case the cancellation that the race
// sends the body is lost (see AbortOnDeadline). Returns early when the body wins.
inline boost::asio::awaitable<void> expire_at(ProbeRun& run, ProbeClock::time_point deadline) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, deadline);
  auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (!ec && run.abort_io) run.abort_io();
}

// Runs `body` until it returns, the deadline passes, or the caller cancels the probe.
inline boost::asio::awaitable<RaceOutcome> run_until(boost::asio::awaitable<void> body,
                                                     ProbeRun& run) {
  using namespace boost::asio::experimental::awaitable_operators;
  // Already cancelled: starting the race would throw operation_aborted from co_await.
  if (cancelled(co_await boost::asio::this_coro::cancellation_state)) {
    co_return RaceOutcome::cancelled;
  }
  auto winner = co_await (std::move(body) || expire_at(run, run.deadline));
  if (cancelled(co_await boost::asio::this_coro::cancellation_state)) {
    co_return RaceOutcome::cancelled;
  }
  co_return winner.index() == 0 ? RaceOutcome::finished : RaceOutcome::deadline;
}

// The final result: a stopped body becomes `timeout`, named after the phase it was in.
inline ProbeResult finish(ProbeRun& run, RaceOutcome outcome) {
  ProbeResult result = std::move(run.result);
  if (outcome != RaceOutcome::finished) result.local = LocalFault::none;
  if (outcome == RaceOutcome::deadline) {
    result.success = false;
    result.reason = Reason::timeout;
    result.detail = timeout_detail(run.spec.timeout, run.phase);
  } else if (outcome == RaceOutcome::cancelled) {
    result.success = false;
    result.reason = Reason::timeout;
    result.detail = "cancelled during ";
    result.detail += to_string(run.phase);
  }
  result.duration = seconds_between(run.start, ProbeClock::now());
  return result;
}

// The whole of a prober: `body(run)` raced against the deadline and outside cancellation.
// Cancellation is checked before the first co_await of an awaitable, which would throw in a
// cancelled coroutine.
inline boost::asio::awaitable<ProbeResult> run_probe_body(
    const CheckSpec& spec, ProbeEnv& env, boost::asio::awaitable<void> (*body)(ProbeRun&)) {
  ProbeRun run(spec, env);
  if (cancelled(co_await boost::asio::this_coro::cancellation_state)) {
    co_return finish(run, RaceOutcome::cancelled);
  }
  auto outcome = co_await run_until(body(run), run);
  co_return finish(run, outcome);
}

}  // namespace kscprobe::detail
