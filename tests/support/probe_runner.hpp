#pragma once
// Runs probes the way the daemon does, on the test's io_context, with a watchdog so a probe that
// never finishes fails the test instead of hanging it: one probe (probe), or many at once, each
// with its own wall time and optionally its own cancellation signal (probe_all).
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "collectors/name_resolver.hpp"
#include "collectors/prober.hpp"
#include "collectors/tcp_prober.hpp"
#include "collectors/tls_context_cache.hpp"
#include "collectors/udp_prober.hpp"
#include "config/plan.hpp"

namespace kscprobe::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

inline CheckSpec make_spec(Transport transport, std::string address, std::uint16_t port,
                           Duration timeout = Duration(3000)) {
  CheckSpec spec;
  spec.check = "test";
  spec.address = std::move(address);
  spec.port = port;
  spec.transport = transport;
  spec.timeout = timeout;
  spec.interval = Duration(30000);
  return spec;
}

// Looks `name` up on `io` with `resolver`, within `timeout`; runs the loop until it is done.
inline LookupResult run_lookup(asio::io_context& io, NameResolver& resolver, std::string name,
                               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  LookupResult out;
  bool done = false;
  asio::co_spawn(io, resolver.lookup(std::move(name), NameResolver::Clock::now() + timeout),
                 [&](std::exception_ptr e, LookupResult r) {
                   if (e) std::rethrow_exception(e);
                   out = std::move(r);
                   done = true;
                 });
  io.restart();
  while (!done && io.run_one_for(timeout + std::chrono::seconds(5)) > 0) {
  }
  EXPECT_TRUE(done) << "the lookup did not finish";
  return out;
}

struct Probed {
  ProbeResult result;
  double wall_seconds = 0;  // measured by the test, independent of result.duration
};

// Runs one probe on `io` and returns its result. A watchdog stops the loop if the probe does not
// finish within its timeout plus 10 s, which fails the test instead of hanging it. With `cancel`,
// the probe is bound to that signal's slot, as the daemon does.
inline Probed probe(asio::io_context& io, const CheckSpec& spec, ProbeEnv& env,
                    asio::cancellation_signal* cancel = nullptr) {
  struct State {
    std::optional<ProbeResult> result;
    bool threw = false;
  };
  auto state = std::make_shared<State>();
  auto done = [state, &io](std::exception_ptr error, ProbeResult result) {
    state->threw = error != nullptr;
    state->result = std::move(result);
    io.stop();
  };
  auto start = std::chrono::steady_clock::now();
  if (cancel != nullptr) {
    asio::co_spawn(io, run_probe(spec, env), asio::bind_cancellation_slot(cancel->slot(), done));
  } else {
    asio::co_spawn(io, run_probe(spec, env), done);
  }
  auto watchdog = std::make_shared<asio::steady_timer>(io, spec.timeout + 10s);
  watchdog->async_wait([&io](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  io.restart();
  io.run();
  watchdog->cancel();
  Probed out;
  out.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(state->threw) << "run_probe threw";
  if (!state->result) {
    ADD_FAILURE() << "probe did not finish within timeout + 10s";
    return out;
  }
  out.result = std::move(*state->result);
  return out;
}

// Starts every spec in the same turn of the loop and runs until all have finished (or their
// longest timeout plus 10 s, which fails the test). `cancels[i]`, when given and not null, is
// bound to probe i. `during` runs on the loop once every probe has started. With `callbacks`,
// probes start as the daemon's scheduler starts them, through start_probe (its callback paths
// start_tcp_probe and start_udp_probe where those apply); otherwise each runs run_probe.
inline std::vector<Probed> probe_all(asio::io_context& io, const std::vector<CheckSpec>& specs,
                                     ProbeEnv& env,
                                     const std::vector<asio::cancellation_signal*>& cancels = {},
                                     std::function<void()> during = {}, bool callbacks = false) {
  std::vector<Probed> out(specs.size());
  std::size_t done = 0;
  bool threw = false;
  const auto start = std::chrono::steady_clock::now();
  auto longest = Duration(0);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    longest = std::max(longest, specs[i].timeout);
    auto on_done = [&, i](std::exception_ptr error, ProbeResult result) {
      threw = threw || error != nullptr;
      out[i].result = std::move(result);
      out[i].wall_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (++done == specs.size()) io.stop();
    };
    asio::cancellation_slot slot;
    if (i < cancels.size() && cancels[i] != nullptr) slot = cancels[i]->slot();
    if (callbacks) {
      start_probe(specs[i], env, slot, [on_done](ProbeResult r) {
        // start_probe turns a prober's exception into this failure: still a prober that threw.
        auto error = r.detail.rfind("internal error", 0) == 0
                         ? std::make_exception_ptr(std::runtime_error(r.detail))
                         : nullptr;
        on_done(error, std::move(r));
      });
      continue;
    }
    if (slot.is_connected()) {
      asio::co_spawn(io, run_probe(specs[i], env), asio::bind_cancellation_slot(slot, on_done));
    } else {
      asio::co_spawn(io, run_probe(specs[i], env), on_done);
    }
  }
  if (during) asio::post(io, during);
  asio::steady_timer watchdog(io, longest + std::chrono::seconds(10));
  watchdog.async_wait([&io](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  io.restart();
  if (!specs.empty()) io.run();
  watchdog.cancel();
  io.restart();
  io.poll();  // the watchdog's cancellation
  EXPECT_FALSE(threw) << "run_probe threw";
  EXPECT_EQ(done, specs.size()) << "probes did not finish within their timeout + 10 s";
  return out;
}

// Open file descriptors of this process that are sockets.
inline int open_sockets() {
  int sockets = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::error_code link_ec;
    auto target = std::filesystem::read_symlink(entry.path(), link_ec).string();
    if (target.rfind("socket:", 0) == 0) ++sockets;
  }
  return sockets;
}

}  // namespace kscprobe::test
