#pragma once
// Runs many probes at once on one io_context, as the scheduler does, each with its own wall time
// and optionally its own cancellation signal.
#include <filesystem>
#include <functional>
#include <stdexcept>

#include "collectors/prober.hpp"
#include "tests/integration/test_servers.hpp"

namespace kscprobe::test {

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
