// Time and resource bounds of the probers and the scheduler under load, on loopback peers:
// - 200 000 probes against open, closed and silent ports leave no fd, socket or memory behind;
// - no probe outlives its timeout by more than a small margin, even with hundreds in flight;
// - the scheduler's in-flight budget holds when every target is silent, and the overruns that
//   follow are counted (kscprobe_scheduler_skipped_total), not hidden.
// The peers run on their own thread and io_context, so the prober's loop is measured alone.
// scripts/test.d/60-load.sh runs this binary (inside a fresh network namespace when it can, so
// the 200 000 connections use a loopback and an ephemeral port range of their own).
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "collectors/datagram_mux.hpp"
#include "daemon/app.hpp"
#include "daemon/logging.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "platform/files.hpp"
#include "platform/platform.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

// Open file descriptors of this process, and how many of them are sockets.
struct FdCount {
  int total = 0;
  int sockets = 0;
};

FdCount count_fds() {
  FdCount out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    ++out.total;
    std::error_code link_ec;
    auto target = std::filesystem::read_symlink(entry.path(), link_ec).string();
    if (target.rfind("socket:", 0) == 0) ++out.sockets;
  }
  return out;
}

// Resident set size in KiB (/proc/self/statm counts pages).
long rss_kib() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// Accepts and closes at once: an open port that a TCP connect check needs nothing more from.
std::uint16_t start_accept_close(asio::io_context& io, std::atomic<long>* accepted) {
  return start_peer(io, loopback_v4(), {.conduct = Conduct::close_at_once, .accepted = accepted});
}

// Answers each request with headers that promise 100 bytes of body, sends 3, and holds the
// connection until the client leaves: an HTTP server stalled after its headers.
std::uint16_t start_header_stall(asio::io_context& io) {
  return start_peer(io, loopback_v4(),
                    {.conduct = Conduct::stall_after_headers, .bytes = kStalledHeaders});
}

// Runs `total` probes with at most `budget` in flight, cycling through `specs`, and records
// every result and how far each probe's wall time went past its timeout.
struct LoadRun {
  std::map<std::string, long> outcomes;  // "<check>/<reason>" -> count
  double worst_overrun = -1e9;           // seconds past the timeout, largest seen
  long threw = 0;
  long done = 0;
};

LoadRun run_probes(asio::io_context& io, ProbeEnv& env, const std::vector<CheckSpec>& specs,
                   const std::vector<int>& weights, long total, unsigned budget,
                   std::chrono::seconds wall_limit) {
  LoadRun run;
  std::vector<std::size_t> schedule;  // one cycle of spec indices following the weights
  for (std::size_t i = 0; i < specs.size(); ++i) schedule.insert(schedule.end(), weights[i], i);
  long launched = 0;
  unsigned in_flight = 0;
  std::function<void()> launch = [&] {
    while (in_flight < budget && launched < total) {
      const CheckSpec& spec = specs[schedule[static_cast<std::size_t>(launched) % schedule.size()]];
      ++launched;
      ++in_flight;
      auto start = std::chrono::steady_clock::now();
      asio::co_spawn(
          io, run_probe(spec, env),
          [&, start, spec_ptr = &spec](std::exception_ptr e, ProbeResult r) {
            double wall =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            double timeout = std::chrono::duration<double>(spec_ptr->timeout).count();
            run.worst_overrun = std::max(run.worst_overrun, wall - timeout);
            if (e) ++run.threw;
            ++run.outcomes[spec_ptr->check + "/" + std::string(to_string(r.reason))];
            ++run.done;
            --in_flight;
            if (run.done == total) io.stop();
            launch();
          });
    }
  };
  asio::steady_timer watchdog(io, wall_limit);
  watchdog.async_wait([&](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  launch();
  io.restart();
  io.run();
  watchdog.cancel();
  // Let the probes the watchdog interrupted (if any) and every closed socket's handlers finish.
  io.restart();
  io.poll();
  return run;
}

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atol(v) : fallback;
}

TEST(ProbeLoad, ManyProbesLeaveNoFdSocketOrMemoryBehind) {
  const long total = env_long("KSCPROBE_LOAD_PROBES", 200000);
  PeerThread peers;
  std::atomic<long> accepted{0};
  std::vector<std::uint16_t> open_ports;
  for (int i = 0; i < 4; ++i) open_ports.push_back(start_accept_close(peers.io(), &accepted));
  FullBacklogListener silent_tcp;
  ASSERT_TRUE(silent_tcp.queue_full());
  auto credentials = sim::make_self_signed({});
  std::uint16_t tls_port = start_tls_server(peers.io(), loopback_v4(), credentials);
  auto received = std::make_shared<std::string>();
  std::uint16_t udp_silent = start_udp_server(peers.io(), loopback_v4(), false, received);
  asio::io_context io;
  std::uint16_t closed_tcp = closed_tcp_port(loopback_v4());
  std::uint16_t closed_udp = closed_udp_port(loopback_v4());
  peers.start();

  // The mix: mostly cheap connects (open and refused), some silent ports that cost a whole
  // (short) timeout, UDP both ways, and a few TLS handshakes, which are CPU-bound.
  std::vector<CheckSpec> specs;
  std::vector<int> weights;
  auto add = [&](std::string name, Transport t, std::uint16_t port, int ms, int weight) {
    CheckSpec s = make_spec(t, "127.0.0.1", port, Duration(ms));
    s.check = std::move(name);
    specs.push_back(std::move(s));
    weights.push_back(weight);
  };
  for (std::size_t i = 0; i < open_ports.size(); ++i) {
    add("tcp_open_" + std::to_string(i), Transport::tcp, open_ports[i], 2000, 15);
  }
  add("tcp_closed", Transport::tcp, closed_tcp, 2000, 30);
  add("tcp_silent", Transport::tcp, silent_tcp.port(), 100, 2);
  add("udp_closed", Transport::udp, closed_udp, 2000, 4);
  add("udp_silent", Transport::udp, udp_silent, 50, 3);
  add("tls_open", Transport::tls, tls_port, 3000, 1);
  // weights sum to 100: 60% open, 30% refused, 2% silent TCP, 7% UDP, 1% TLS.

  TlsContextCache tls_cache;
  DatagramMux udp_mux(io.get_executor());  // UDP as the daemon sends it
  ProbeEnv env{io.get_executor(), &tls_cache, &udp_mux};
  const unsigned budget = 256;
  // Warm-up: allocator arenas, the TLS context and Asio's reactor reach their steady size.
  LoadRun warm = run_probes(io, env, specs, weights, 5000, budget, std::chrono::seconds(60));
  ASSERT_EQ(warm.done, 5000);
  FdCount fds_before = count_fds();
  long rss_before = rss_kib();
  auto start = std::chrono::steady_clock::now();
  LoadRun run = run_probes(io, env, specs, weights, total, budget, std::chrono::seconds(240));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The peer thread may still be accepting the last connections; they close as they come.
  for (int i = 0; i < 200 && count_fds().total > fds_before.total; ++i) ::usleep(10 * 1000);
  FdCount fds_after = count_fds();
  long rss_after = rss_kib();

  std::printf("[ load ] %ld probes in %.1f s (%.0f/s), budget %u\n", run.done, seconds,
              run.done / seconds, budget);
  std::printf("[ load ] fds %d -> %d, sockets %d -> %d, RSS %ld KiB -> %ld KiB (%+ld KiB)\n",
              fds_before.total, fds_after.total, fds_before.sockets, fds_after.sockets, rss_before,
              rss_after, rss_after - rss_before);
  std::printf("[ load ] worst overrun past the timeout: %.1f ms\n", run.worst_overrun * 1000);
  for (const auto& [k, v] : run.outcomes) std::printf("[ load ]   %-20s %ld\n", k.c_str(), v);

  ASSERT_EQ(run.done, total) << "the probes did not finish within the wall-clock limit";
  EXPECT_EQ(run.threw, 0);
  EXPECT_EQ(fds_after.total, fds_before.total);
  EXPECT_EQ(fds_after.sockets, fds_before.sockets);
  // A leak of even 40 bytes per probe would add 8 MB over 200 000 probes.
  EXPECT_LT(rss_after - rss_before, env_long("KSCPROBE_LOAD_RSS_SLACK_KIB", 6 * 1024));
  // Every probe was classified as its peer dictates.
  for (const auto& [k, v] : run.outcomes) {
    bool ok = (k.rfind("tcp_open_", 0) == 0 && k.ends_with("/none")) || k == "tcp_closed/refused" ||
              k == "tcp_silent/timeout" || k == "udp_closed/refused" || k == "udp_silent/none" ||
              k == "tls_open/none";
    EXPECT_TRUE(ok) << k << " x" << v;
  }
  peers.stop();
}

TEST(ProbeLoad, SilentProbesEndAtTheirTimeout) {
  // Hundreds of probes stuck in every phase at once: connect (SYN dropped), TLS (no
  // ServerHello), HTTP request (headers then nothing), UDP (no reply). Each must end at its
  // timeout, within a margin that covers a busy 2-core machine, however many share the loop.
  PeerThread peers;
  FullBacklogListener silent_tcp;
  ASSERT_TRUE(silent_tcp.queue_full());
  std::uint16_t silent_tls =
      start_peer(peers.io(), loopback_v4(), {.conduct = Conduct::silent_after_hello});
  std::uint16_t stall_http = start_header_stall(peers.io());
  auto received = std::make_shared<std::string>();
  std::uint16_t udp_silent = start_udp_server(peers.io(), loopback_v4(), false, received);
  peers.start();

  asio::io_context io;
  TlsContextCache tls_cache;
  DatagramMux udp_mux(io.get_executor());  // UDP as the daemon sends it
  ProbeEnv env{io.get_executor(), &tls_cache, &udp_mux};
  std::vector<CheckSpec> specs;
  for (auto [name, t, port] : {std::tuple{"tcp", Transport::tcp, silent_tcp.port()},
                               std::tuple{"tls", Transport::tls, silent_tls},
                               std::tuple{"http", Transport::http, stall_http},
                               std::tuple{"udp", Transport::udp, udp_silent}}) {
    CheckSpec s = make_spec(t, "127.0.0.1", port, Duration(400));
    s.check = name;
    specs.push_back(s);
  }
  LoadRun run = run_probes(io, env, specs, {1, 1, 1, 1}, 1000, 1000, std::chrono::seconds(60));
  std::printf("[ load ] 1000 silent probes at once, timeout 400 ms: worst overrun %.1f ms\n",
              run.worst_overrun * 1000);
  for (const auto& [k, v] : run.outcomes) std::printf("[ load ]   %-20s %ld\n", k.c_str(), v);
  ASSERT_EQ(run.done, 1000);
  EXPECT_EQ(run.outcomes["tcp/timeout"], 250);
  EXPECT_EQ(run.outcomes["tls/timeout"], 250);
  EXPECT_EQ(run.outcomes["http/timeout"], 250);
  EXPECT_EQ(run.outcomes["udp/none"], 250);  // UDP silence is open|filtered, a success
  EXPECT_GE(run.worst_overrun, 0.0);
  EXPECT_LT(run.worst_overrun, 0.25);
  peers.stop();
}

TEST(ProbeLoad, BudgetHoldsWhenEveryTargetIsSilentAndOverrunsAreCounted) {
  FullBacklogListener silent_tcp;
  ASSERT_TRUE(silent_tcp.queue_full());
  constexpr unsigned kBudget = 32;
  // After its first timeout a silent check waits in the quiet lane, which has a budget of its
  // own: the connection budget stays for checks that answer.
  constexpr unsigned kQuietBudget = 8;
  constexpr int kChecks = 600;
  auto plan = std::make_shared<Plan>();
  plan->daemon.max_in_flight = kBudget;
  plan->daemon.max_quiet_in_flight = kQuietBudget;
  for (int i = 0; i < kChecks; ++i) {
    plan->targets.push_back({"silent" + std::to_string(i), Role::server, "127.0.0.1", {}});
    CheckSpec c = make_spec(Transport::tcp, "127.0.0.1", silent_tcp.port(), Duration(300));
    c.target_index = static_cast<std::uint32_t>(i);
    c.check = "agents_tcp";
    c.interval = Duration(1000);
    plan->checks.push_back(c);
  }

  asio::io_context io;
  TlsContextCache tls_cache;
  ProbeEnv env{io.get_executor(), &tls_cache};
  unsigned running = 0, max_running = 0, max_reported = 0, max_connect = 0, max_quiet = 0;
  std::map<std::string, long> reasons;
  Scheduler* sched_ptr = nullptr;
  // The daemon's launcher (daemon/app.cpp): run_probe bound to the scheduler's cancellation.
  Scheduler scheduler(
      io.get_executor(),
      [&](const CheckSpec& spec, asio::cancellation_slot slot, Scheduler::Done done) {
        ++running;
        max_running = std::max(max_running, running);
        max_reported = std::max(max_reported, sched_ptr->in_flight());
        asio::co_spawn(
            io, run_probe(spec, env),
            asio::bind_cancellation_slot(slot, [&, done](std::exception_ptr, ProbeResult r) {
              --running;
              done(std::move(r));
            }));
      },
      [&](std::uint32_t, const ProbeResult& r) { ++reasons[std::string(to_string(r.reason))]; });
  sched_ptr = &scheduler;
  scheduler.set_plan(plan, {});
  // 600 checks of 300 ms each through 32 slots take 5.6 s per round against a 1 s interval:
  // most checks come due again while still queued, which must be counted as skipped.
  asio::steady_timer stop_at(io, std::chrono::milliseconds(3500));
  std::size_t max_queued = 0;
  asio::steady_timer sample(io);
  std::function<void()> sample_loop = [&] {
    max_queued = std::max(max_queued, scheduler.queued());
    max_reported = std::max(max_reported, scheduler.in_flight());
    max_connect = std::max(max_connect, scheduler.in_flight(Lane::connect));
    max_quiet = std::max(max_quiet, scheduler.in_flight(Lane::quiet));
    sample.expires_after(std::chrono::milliseconds(20));
    sample.async_wait([&](boost::system::error_code ec) {
      if (!ec) sample_loop();
    });
  };
  sample_loop();
  stop_at.async_wait([&](boost::system::error_code) {
    scheduler.stop();
    sample.cancel();
  });
  asio::steady_timer watchdog(io, std::chrono::seconds(20));
  watchdog.async_wait([&](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  // The loop runs until the stopped scheduler's cancelled probes have all come back.
  std::function<void()> wait_idle;
  asio::steady_timer idle(io);
  wait_idle = [&] {
    idle.expires_after(std::chrono::milliseconds(20));
    idle.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (stop_at.expiry() <= std::chrono::steady_clock::now() && scheduler.in_flight() == 0) {
        watchdog.cancel();
        return;
      }
      wait_idle();
    });
  };
  wait_idle();
  io.run();

  std::printf(
      "[ load ] budget %u, %d silent checks: max in flight %u (scheduler says %u), max queued "
      "%zu, started %llu, skipped %llu\n",
      kBudget, kChecks, max_running, max_reported, max_queued,
      static_cast<unsigned long long>(scheduler.started()),
      static_cast<unsigned long long>(scheduler.skipped()));
  std::printf("[ load ] max in flight per lane: connect %u, quiet %u\n", max_connect, max_quiet);
  EXPECT_GE(max_running, kBudget);  // the budget is used, not just respected
  EXPECT_LE(max_running, kBudget + kQuietBudget);
  EXPECT_LE(max_reported, kBudget + kQuietBudget);
  EXPECT_LE(max_connect, kBudget);
  EXPECT_EQ(max_quiet, kQuietBudget);
  EXPECT_EQ(scheduler.in_flight(), 0u);
  EXPECT_GT(max_queued, 400u);
  EXPECT_GT(scheduler.skipped(), 0u);
  // Only timeouts were recorded: the budget made probes wait, never fail for another reason.
  EXPECT_GT(reasons["timeout"], 0);
  EXPECT_EQ(reasons.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// UDP probes to silent hosts: a socket per probe held through the timeout, against the shared
// sockets of a DatagramMux. Measures the prober loop's own CPU per probe (its thread's CPU time,
// user + system) and the peak of open sockets while `total` probes are paced at `rate` per
// second to silent hosts 127.a.b.c, which one wildcard socket on the peer thread serves.

struct UdpBench {
  long done = 0;
  long silent_ok = 0;  // "no reply: open|filtered"
  double cpu_seconds = 0;
  double wall_seconds = 0;
  int peak_fds = 0;
  int peak_sockets = 0;
};

UdpBench bench_silent_udp(bool shared, long total, long rate, Duration timeout,
                          std::uint16_t port) {
  asio::io_context io;
  TlsContextCache tls_cache;
  DatagramMux mux(io.get_executor());
  ProbeEnv env{io.get_executor(), &tls_cache, shared ? &mux : nullptr};
  std::vector<CheckSpec> specs;
  specs.reserve(static_cast<std::size_t>(total));
  for (long i = 0; i < total; ++i) {
    std::string host = "127." + std::to_string(10 + i / 62500) + "." +
                       std::to_string(i / 250 % 250) + "." + std::to_string(i % 250 + 1);
    CheckSpec spec = make_spec(Transport::udp, host, port, timeout);
    spec.check = "signal_udp";
    specs.push_back(std::move(spec));
  }

  UdpBench out;
  std::atomic<bool> sampling{true};
  std::atomic<int> peak_fds{0}, peak_sockets{0};
  std::thread sampler([&] {
    while (sampling.load()) {
      FdCount c = count_fds();
      peak_fds = std::max(peak_fds.load(), c.total);
      peak_sockets = std::max(peak_sockets.load(), c.sockets);
      ::usleep(20 * 1000);
    }
  });

  // Paced like the scheduler: a batch every 10 ms.
  const long per_tick = std::max(1L, rate / 100);
  long launched = 0;
  asio::steady_timer pace(io);
  std::function<void()> tick = [&] {
    for (long n = 0; n < per_tick && launched < total; ++n, ++launched) {
      asio::co_spawn(io, run_probe(specs[static_cast<std::size_t>(launched)], env),
                     [&](std::exception_ptr e, ProbeResult r) {
                       if (!e && r.success && r.detail == "no reply: open|filtered") {
                         ++out.silent_ok;
                       }
                       if (++out.done == total) io.stop();
                     });
    }
    if (launched < total) {
      pace.expires_at(pace.expiry() + std::chrono::milliseconds(10));
      pace.async_wait([&](boost::system::error_code ec) {
        if (!ec) tick();
      });
    }
  };
  asio::steady_timer watchdog(io, std::chrono::seconds(total / rate + 60));
  watchdog.async_wait([&](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  const double cpu_start = platform::thread_cpu_seconds();
  const auto wall_start = std::chrono::steady_clock::now();
  pace.expires_after(std::chrono::milliseconds(0));
  tick();
  io.run();
  out.cpu_seconds = platform::thread_cpu_seconds() - cpu_start;
  out.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  sampling = false;
  sampler.join();
  out.peak_fds = peak_fds;
  out.peak_sockets = peak_sockets;
  return out;
}

TEST(ProbeLoad, SilentUdpHostsCostOneSocketAndLittleCpuWithTheSharedSockets) {
  ScopedNetns netns;  // the wildcard listener and 127.x traffic stay in a namespace of our own
  ASSERT_TRUE(netns.ok()) << netns.error();
  const long total = env_long("KSCPROBE_UDP_BENCH_PROBES", 20000);
  long rate = env_long("KSCPROBE_UDP_BENCH_RATE", 4000);
  const Duration timeout(env_long("KSCPROBE_UDP_BENCH_TIMEOUT_MS", 3000));
  // A socket per probe needs rate x timeout descriptors at once: raise the limit as far as it
  // goes, and slow down if that is not enough.
  const auto open_files = platform::raise_open_file_limit();
  const double timeout_s = std::chrono::duration<double>(timeout).count();
  const long room = static_cast<long>(open_files) - 500;
  if (rate * timeout_s * 1.2 > room) rate = static_cast<long>(room / (timeout_s * 1.2));
  ASSERT_GT(rate, 100) << "RLIMIT_NOFILE is too low for the socket-per-probe run";

  PeerThread peers;
  std::atomic<long> received{0};
  udp::socket sink(peers.io(), udp::endpoint(asio::ip::address_v4::any(), 0));
  sink.set_option(asio::socket_base::receive_buffer_size(8 << 20));
  const std::uint16_t port = sink.local_endpoint().port();
  asio::co_spawn(
      peers.io(),
      [&sink, &received]() -> asio::awaitable<void> {
        std::array<char, 2048> buffer;
        udp::endpoint from;
        for (;;) {
          auto [ec, n] = co_await sink.async_receive_from(asio::buffer(buffer), from,
                                                          asio::as_tuple(asio::use_awaitable));
          if (ec == asio::error::operation_aborted || !sink.is_open()) co_return;
          if (!ec) received.fetch_add(1);
        }
      },
      asio::detached);
  peers.start();
  const FdCount idle = count_fds();

  UdpBench per_probe = bench_silent_udp(false, total, rate, timeout, port);
  const long received_per_probe = received.exchange(0);
  UdpBench shared = bench_silent_udp(true, total, rate, timeout, port);
  const long received_shared = received.exchange(0);
  asio::post(peers.io(), [&sink] {
    boost::system::error_code ignored;
    sink.close(ignored);
  });
  peers.stop();

  auto report = [&](const char* name, const UdpBench& b, long arrived) {
    std::printf(
        "[ load ] udp %-16s %ld probes at %ld/s, timeout %.1f s: %.2f us CPU per probe "
        "(%.2f s CPU in %.1f s), peak fds %d (sockets %d; %d idle), %ld/%ld datagrams "
        "arrived\n",
        name, b.done, rate, timeout_s, b.cpu_seconds * 1e6 / std::max(1L, b.done), b.cpu_seconds,
        b.wall_seconds, b.peak_fds, b.peak_sockets, idle.sockets, arrived, total);
  };
  report("socket per probe", per_probe, received_per_probe);
  report("shared sockets", shared, received_shared);

  ASSERT_EQ(per_probe.done, total);
  ASSERT_EQ(shared.done, total);
  EXPECT_EQ(per_probe.silent_ok, total);
  EXPECT_EQ(shared.silent_ok, total);
  EXPECT_EQ(received_shared, total);  // every datagram did leave
  // The shared path holds two sockets at most (one per family) however many probes wait...
  EXPECT_LE(shared.peak_sockets, idle.sockets + 2);
  // ...where a socket per probe held thousands through the timeout.
  EXPECT_GT(per_probe.peak_sockets, idle.sockets + rate * timeout_s / 2);
  EXPECT_LT(shared.cpu_seconds, per_probe.cpu_seconds * 0.7);
}

// ---------------------------------------------------------------------------------------------
// The same kind of soak through the daemon's own launch path: App runs a plan of thousands of
// checks, so probes start from the scheduler through the TCP and UDP callback fast paths
// (start_tcp_probe, start_udp_probe), land in the result table and are read back from /metrics
// as the renderer writes them. Until 200 000 probes have been recorded: every check's failures
// carry only the reason its peer dictates, no fd is left once the daemon is gone, and memory does
// not grow between an early reading and the last one.

// Per check name: probes recorded, failures per reason, and checks whose last probe failed, read
// from /metrics (full detail: one series per check).
struct DaemonTally {
  long probes = 0;
  std::map<std::string, long> probes_by_check;
  std::map<std::string, long> failures;  // "<check>/<reason>" -> count
  std::map<std::string, long> down;      // check -> checks whose last probe failed
  long up = 0;
};

DaemonTally tally(const std::string& metrics) {
  DaemonTally t;
  std::string malformed;
  // Line by line: the scrape is read in this process, beside the daemon whose memory is measured.
  for_each_line(metrics, [&](std::string_view line) {
    Sample s;
    LineKind kind = parse_line(line, &s);
    if (kind == LineKind::malformed && malformed.empty()) malformed = line;
    if (kind != LineKind::sample) return;
    const auto value = static_cast<long>(s.value);
    if (s.name == "kscprobe_probes_total") {
      t.probes += value;
      t.probes_by_check[s.label("check")] += value;
    } else if (s.name == "kscprobe_probe_failures_total" && s.value > 0) {
      t.failures[s.label("check") + "/" + s.label("reason")] += value;
    } else if (s.name == "kscprobe_probe_success") {
      if (s.value == 0) ++t.down[s.label("check")];
      if (s.value == 1) ++t.up;
    }
  });
  EXPECT_EQ(malformed, "") << "a malformed line in /metrics";
  return t;
}

TEST(ProbeLoad, TheDaemonsLaunchPathRecordsEveryProbeWithItsReason) {
  const long total = env_long("KSCPROBE_LOAD_PROBES", 200000);
  const int targets = static_cast<int>(env_long("KSCPROBE_LOAD_DAEMON_TARGETS", 800));
  PeerThread peers;
  std::atomic<long> accepted{0};
  std::uint16_t open_a = start_accept_close(peers.io(), &accepted);
  std::uint16_t open_b = start_accept_close(peers.io(), &accepted);
  FullBacklogListener silent_tcp;
  ASSERT_TRUE(silent_tcp.queue_full());
  auto received = std::make_shared<std::string>();
  std::uint16_t udp_silent = start_udp_server(peers.io(), loopback_v4(), false, received);
  std::uint16_t closed_tcp, closed_udp;
  closed_tcp = closed_tcp_port(loopback_v4());
  closed_udp = closed_udp_port(loopback_v4());
  peers.start();

  // Every target: two open TCP ports, a refused one, a refused and a silent UDP port; one in
  // forty also a silent TCP port (SYN never answered), which costs a whole timeout.
  std::string config =
      "[daemon]\ninterval = \"1s\"\ntimeout = \"900ms\"\nmax_in_flight = 512\n"
      "[metrics]\ndetail = { agent = \"full\" }\n";
  auto check = [&](const char* name, std::uint16_t port, const char* transport,
                   const char* timeout) {
    config += "[[target.check]]\nname = \"" + std::string(name) +
              "\"\nport = " + std::to_string(port) + "\ntransport = \"" + transport + "\"\n";
    if (timeout) config += "timeout = \"" + std::string(timeout) + "\"\n";
  };
  int silent_tcp_checks = 0;
  for (int i = 0; i < targets; ++i) {
    config += "[[target]]\nname = \"agent" + std::to_string(i) +
              "\"\nrole = \"agent\"\naddress = \"127.0.0.1\"\n"
              "disable = [\"signal_udp\", \"multicast_udp\"]\n";
    check("tcp_open_a", open_a, "tcp", nullptr);
    check("tcp_open_b", open_b, "tcp", nullptr);
    check("tcp_closed", closed_tcp, "tcp", nullptr);
    check("udp_closed", closed_udp, "udp", nullptr);
    check("udp_silent", udp_silent, "udp", "300ms");
    if (i % 40 == 0) {
      check("tcp_silent", silent_tcp.port(), "tcp", "200ms");
      ++silent_tcp_checks;
    }
  }
  const int checks = targets * 5 + silent_tcp_checks;

  std::string log_error;
  ASSERT_TRUE(log::setup("error", "logfmt", &log_error)) << log_error;  // no line per check
  const FdCount fds_before = count_fds();
  long rss_warm = -1, rss_end = -1;
  long probes_warm = 0;
  DaemonTally last;
  double seconds = 0;
  {
    asio::io_context io;
    AppOptions options;
    options.config_text = config;
    options.config_name = "load.toml";
    options.listen_address = "127.0.0.1:0";
    App app(io, options);
    ASSERT_TRUE(app.start());
    ASSERT_EQ(app.plan()->checks.size(), static_cast<std::size_t>(checks));
    auto start = std::chrono::steady_clock::now();
    // Read the daemon's own /metrics once a second until it has recorded `total` probes.
    asio::steady_timer poll(io);
    std::function<void()> poll_loop = [&] {
      poll.expires_after(std::chrono::seconds(1));
      poll.async_wait([&](boost::system::error_code ec) {
        if (ec) return;
        last = tally(app.render_metrics());
        auto elapsed = std::chrono::steady_clock::now() - start;
        if (rss_warm < 0 && last.probes >= std::min(total / 10, 20000L)) {
          rss_warm = rss_kib();
          probes_warm = last.probes;
        }
        if (last.probes >= total || elapsed > std::chrono::seconds(300)) {
          rss_end = rss_kib();
          seconds = std::chrono::duration<double>(elapsed).count();
          app.stop();
          return;
        }
        poll_loop();
      });
    };
    poll_loop();
    io.run();  // App::stop ends the loop once the probes in flight have unwound
  }
  for (int i = 0; i < 200 && count_fds().total > fds_before.total; ++i) ::usleep(10 * 1000);
  const FdCount fds_after = count_fds();
  peers.stop();
  log::setup("info", "logfmt", &log_error);

  std::printf("[ load ] daemon: %d checks, %ld probes recorded in %.1f s (%.0f/s)\n", checks,
              last.probes, seconds, last.probes / std::max(seconds, 1e-3));
  std::printf(
      "[ load ] daemon: fds %d -> %d, sockets %d -> %d; RSS %ld KiB at %ld probes -> %ld "
      "KiB (%+ld KiB)\n",
      fds_before.total, fds_after.total, fds_before.sockets, fds_after.sockets, rss_warm,
      probes_warm, rss_end, rss_end - rss_warm);
  for (const auto& [k, v] : last.probes_by_check)
    std::printf("[ load ]   %-12s %ld probes\n", k.c_str(), v);
  for (const auto& [k, v] : last.failures) std::printf("[ load ]   %-22s %ld\n", k.c_str(), v);

  ASSERT_GE(last.probes, total) << "the daemon did not record enough probes in 300 s";
  EXPECT_EQ(fds_after.total, fds_before.total);
  EXPECT_EQ(fds_after.sockets, fds_before.sockets);
  EXPECT_LT(rss_end - rss_warm, env_long("KSCPROBE_LOAD_RSS_SLACK_KIB", 6 * 1024));
  // Each failure carries the reason its peer dictates, and nothing else failed.
  for (const auto& [k, v] : last.failures) {
    bool ok = k == "tcp_closed/refused" || k == "udp_closed/refused" || k == "tcp_silent/timeout";
    EXPECT_TRUE(ok) << k << " x" << v;
  }
  EXPECT_GT(last.failures["tcp_closed/refused"], 0);
  EXPECT_GT(last.failures["udp_closed/refused"], 0);
  EXPECT_GT(last.failures["tcp_silent/timeout"], 0);
  // The checks' last verdicts: the refused and silent-TCP checks down, every other one up.
  EXPECT_EQ(last.down["tcp_closed"], targets);
  EXPECT_EQ(last.down["udp_closed"], targets);
  EXPECT_EQ(last.down["tcp_silent"], silent_tcp_checks);
  EXPECT_EQ(last.up, checks - 2 * targets - silent_tcp_checks);
  for (const char* name : {"tcp_open_a", "tcp_open_b", "udp_silent"})
    EXPECT_EQ(last.down.count(name), 0u) << name;
}

}  // namespace
}  // namespace kscprobe::test
