// Benchmark of kscprobe on a simulated KSC estate, side by side with blackbox_exporter driven the
// way Prometheus drives it (scripts/bench.sh runs it in a network namespace of its own).
//
// It prints figures and asserts nothing about speed. Only the probers' own CPU is counted (from
// /proc of the kscprobe and blackbox_exporter child processes); the estate and the Prometheus-like
// client run on threads of this process. kscprobe and blackbox_exporter run one after the other,
// never at the same time. Only completed, successful probes are counted (kscprobe_probes_total
// minus kscprobe_probe_failures_total deltas for kscprobe, 200 responses with probe_success 1 for
// blackbox_exporter); failures and skipped (overrun) probes are reported beside them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/bench_estate.hpp"
#include "tests/bench/child_process.hpp"
#include "tests/bench/exposition.hpp"
#include "tests/bench/http_fetch.hpp"
#include "tests/bench/scrape_driver.hpp"

#ifndef KSCPROBE_BIN
#define KSCPROBE_BIN "kscprobe"
#endif

namespace kscprobe::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Scenarios and options

/// Probing N targets with one check each at a fixed interval (tcp or tls).
struct RateSpec {
  std::string name;
  bool tls = false;
  int targets = 0;
  int interval_s = 1;
  double warmup_s = 5;
  double window_s = 20;
  /// Also measure blackbox_exporter saturated by back-to-back requests (its best cost per
  /// probe), for rates it may not sustain on the Prometheus schedule.
  bool saturation = false;
};

/// The 100 000-device estate: silent agents (two UDP checks), distribution points, servers.
struct EstateSpec {
  int agents = 100000;
  int distribution_points = 1000;
  int servers = 10;
  int interval_s = 60;
  double warmup_s = 65;
  double window_s = 60;
};

struct Options {
  bool quick = false;
  bool verbose = false;
  std::string kscprobe = KSCPROBE_BIN;
  std::string blackbox = "/usr/bin/prometheus-blackbox-exporter";
  std::set<std::string> scenarios;  // empty: all
  std::string workdir;
  int estate_threads = 2;
  /// Requests in flight when blackbox_exporter is saturated.
  std::size_t saturating_requests = 32;
  bool tcp_close_at_once = false;
  std::vector<std::string> kscprobe_args;
  std::vector<std::string> daemon_options;
  std::string config_append;  // TOML appended to every generated configuration
  int floor_connects = 50000;
  std::vector<RateSpec> rates;
  EstateSpec estate;
};

constexpr std::uint16_t kTcpPort = 5432;     // database_tcp (engine postgresql)
constexpr std::uint16_t kTlsPort = 8080;     // web_console_tls
constexpr int kTcpOctet = 30;                // 127.30.x.y: targets of the tcp scenarios
constexpr int kTlsOctet = 40;                // 127.40.x.y: targets of the tls scenarios
constexpr int kServerOctet = 10;             // 127.10.x.y: administration servers
constexpr int kDistributionPointOctet = 20;  // 127.20.x.y: distribution points
constexpr int kAgentOctet = 100;             // 127.100.x.y, 127.101.x.y: agents

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string format(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* f, ...) {
  char buffer[512];
  va_list args;
  va_start(args, f);
  std::vsnprintf(buffer, sizeof buffer, f, args);
  va_end(args);
  return buffer;
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU milliseconds per probe with enough digits for both 0.02 and 2.
std::string ms(double v) {
  if (!std::isfinite(v) || v < 0) return "n/a";
  return v < 0.1 ? format("%.4f", v) : format("%.3f", v);
}

std::string times(double v) {
  if (!std::isfinite(v) || v <= 0) return "n/a";
  return format("%.1f×", v);
}

std::string with_thousands(double v) {
  if (!std::isfinite(v)) return "n/a";
  auto n = static_cast<long long>(std::llround(v));
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ' ';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string megabytes(double bytes) { return format("%.1f MB", bytes / 1e6); }

std::string seconds_text(double s) {
  if (!std::isfinite(s)) return "n/a";
  if (s < 0.001) return format("%.0f µs", s * 1e6);
  if (s < 1) return format("%.1f ms", s * 1e3);
  return format("%.2f s", s);
}

/// 127.<first + i / 65024>.<(i / 254) % 256>.<i % 254 + 1>: host-like addresses (never .0/.255).
std::string host_address(int first_octet, int i) {
  return format("127.%d.%d.%d", first_octet + i / (254 * 256), (i / 254) % 256, i % 254 + 1);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string log_tail(const std::string& log, int lines) {
  std::size_t at = log.size();
  for (int i = 0; i <= lines && at > 0; ++i) {
    at = log.rfind('\n', at - 1);
    if (at == std::string::npos) {
      at = 0;
      break;
    }
  }
  return log.substr(at);
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

/// Sleeps `seconds` in small steps; false as soon as the child has exited.
bool sleep_while_running(ChildProcess& child, double seconds) {
  auto end = Clock::now() +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    if (!child.running()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(50ms, end - Clock::now()));
  }
  return child.running();
}

bool wait_http_ok(ChildProcess& child, std::uint16_t port, const std::string& path,
                  double timeout_s) {
  auto start = Clock::now();
  while (since(start) < timeout_s) {
    if (!child.running()) return false;
    auto r = http_get("127.0.0.1", port, path, false, 2s);
    if (r.status == 200) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

/// The machine's CPU and this process's own, to tell how much else ran during a window.
struct LoadSample {
  MachineCpu machine;
  ProcUsage self;
};

LoadSample sample_load() { return {read_machine_cpu(), read_usage(::getpid())}; }

/// Cores used during the window by processes other than the prober and this benchmark (the
/// estate and the Prometheus-like client run here), and cores stolen by the hypervisor.
struct OtherLoad {
  double cores = 0;
  double steal = 0;
  double self = 0;  // this benchmark: the estate and the Prometheus-like client
};

OtherLoad other_load(const LoadSample& a, const LoadSample& b, double prober_cpu, double window) {
  OtherLoad o;
  double busy = b.machine.busy - a.machine.busy;
  double self = cpu_delta(a.self, b.self);
  o.cores = std::max(0.0, (busy - self - prober_cpu) / window);
  o.self = self / window;
  o.steal = (b.machine.steal - a.machine.steal) / window;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Results

struct Row {
  std::string scenario, metric, kscprobe, blackbox, ratio, target;
};

std::vector<Row> g_rows;
std::vector<std::string> g_notes;
double g_max_other_cores = 0;

void note_load(const std::string& what, const OtherLoad& o) {
  std::printf(
      "  (during the %s window: estate and client %.2f cores, other processes %.2f cores, "
      "steal %.2f)\n",
      what.c_str(), o.self, o.cores, o.steal);
  g_max_other_cores = std::max(g_max_other_cores, o.cores);
}

void row(std::string scenario, std::string metric, std::string kscprobe, std::string blackbox,
         std::string ratio, std::string target) {
  g_rows.push_back({std::move(scenario), std::move(metric), std::move(kscprobe),
                    std::move(blackbox), std::move(ratio), std::move(target)});
}

/// One prober over one measurement window.
struct RateResult {
  bool ok = false;
  std::string error;
  double window_s = 0;
  double probes = 0;
  double probes_per_s = 0;
  double cpu_s = 0;
  double cpu_ms_per_probe = -1;
  double failures = 0;
  double skipped = 0;
  long rss_kib = -1;
  long hwm_kib = -1;
  double server_per_s = 0;    // what the estate saw per second in the same window
  double resumed_share = -1;  // TLS: share of the estate's handshakes that resumed a session
  OtherLoad other;
};

// ---------------------------------------------------------------------------------------------
// The floor: a plain loop of non-blocking connect + close, CPU of that thread only. Paced (rate
// > 0), the loop sleeps until each connect is due, as any prober at that rate must: at 90/s every
// connect starts from a sleeping thread and cold caches, which costs more than in a tight loop.

struct FloorResult {
  int connects = 0;
  int failures = 0;
  double cpu_s = 0;
  double wall_s = 0;
};

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

FloorResult measure_floor(int count, int distinct_addresses, double max_seconds, double rate = 0) {
  std::vector<sockaddr_in> peers(static_cast<std::size_t>(std::max(1, distinct_addresses)));
  for (std::size_t i = 0; i < peers.size(); ++i) {
    peers[i].sin_family = AF_INET;
    peers[i].sin_port = htons(kTcpPort);
    ::inet_pton(AF_INET, host_address(kTcpOctet, static_cast<int>(i)).c_str(), &peers[i].sin_addr);
  }
  FloorResult r;
  auto wall0 = Clock::now();
  double cpu0 = thread_cpu_seconds();
  timespec start{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < count; ++i) {
    if (i % 256 == 0 && since(wall0) > max_seconds) break;
    if (rate > 0) {
      const auto due_ns = static_cast<long long>(start.tv_nsec) +
                          static_cast<long long>(static_cast<double>(i) / rate * 1e9);
      timespec due{start.tv_sec + static_cast<time_t>(due_ns / 1000000000),
                   static_cast<long>(due_ns % 1000000000)};
      while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr) == EINTR) {
      }
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ++r.failures;
      continue;
    }
    const auto& peer = peers[static_cast<std::size_t>(i) % peers.size()];
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
    bool ok = rc == 0;
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 1000) == 1) {
        int error = 0;
        socklen_t len = sizeof error;
        ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
      }
    }
    ::close(fd);
    ++r.connects;
    if (!ok) ++r.failures;
  }
  r.cpu_s = thread_cpu_seconds() - cpu0;
  r.wall_s = since(wall0);
  return r;
}

// ---------------------------------------------------------------------------------------------
// kscprobe as a child process

struct Daemon {
  std::unique_ptr<ChildProcess> process;
  std::uint16_t port = 0;
  double ready_s = 0;
  std::string error;
  std::string exit;  // how it ended when it failed to start
};

Daemon start_kscprobe(const Options& options, const std::string& config, const std::string& log,
                      double ready_timeout_s) {
  Daemon d;
  std::vector<std::string> argv = {options.kscprobe, "--config.file=" + config,
                                   "--web.listen-address=127.0.0.1:0"};
  argv.insert(argv.end(), options.kscprobe_args.begin(), options.kscprobe_args.end());
  auto start = Clock::now();
  d.process = std::make_unique<ChildProcess>(argv, log);
  // The bound port is in the start-up line: listen_address=127.0.0.1:PORT (logfmt or JSON).
  while (since(start) < ready_timeout_s && d.port == 0) {
    if (!d.process->running()) break;
    std::string text = d.process->log();
    auto at = text.find("listen_address");
    if (at != std::string::npos) {
      auto ip = text.find("127.0.0.1:", at);
      // Only from a complete line: a half-written one could cut the port number short.
      if (ip != std::string::npos && ip < at + 40 && text.find('\n', ip) != std::string::npos)
        d.port = static_cast<std::uint16_t>(std::strtoul(text.c_str() + ip + 10, nullptr, 10));
    }
    if (d.port == 0) std::this_thread::sleep_for(50ms);
  }
  if (d.port == 0 ||
      !wait_http_ok(*d.process, d.port, "/-/ready", ready_timeout_s - since(start))) {
    std::string how = d.process->exit_description();
    d.exit = how.empty() ? "not ready in time" : how;
    d.error = (how.empty() ? "kscprobe did not become ready in time:"
                           : "kscprobe " + how + " before it was ready:") +
              log_tail(d.process->log(), 6);
    d.process->stop();
    return d;
  }
  d.ready_s = since(start);
  return d;
}

/// One GET /metrics with the process's CPU around it.
struct Scrape {
  HttpReply reply;
  std::string text;  // uncompressed
  Clock::time_point start;
  double cpu_s = 0;  // the daemon's CPU during the request (render, serialisation, probing)
};

Scrape scrape(pid_t pid, std::uint16_t port, bool gzip) {
  Scrape s;
  ProcUsage before = read_usage(pid);
  s.start = Clock::now();
  s.reply = http_get("127.0.0.1", port, "/metrics", gzip, 300s);
  s.cpu_s = cpu_delta(before, read_usage(pid));
  if (s.reply.content_encoding == "gzip") {
    s.text = gunzip(s.reply.body);
  } else {
    s.text = s.reply.body;
  }
  return s;
}

// Readings at both ends of a measurement window of a kscprobe child: /metrics (uncompressed),
// its CPU and memory, the machine's load and what the estate saw. `alive`: it ran to the end.
struct Window {
  Scrape a;
  ProcUsage u0;
  LoadSample l0;
  Clock::time_point t0;
  EstateCounters e0;
  bool alive = false;
  ProcUsage u1;
  LoadSample l1;
  Clock::time_point t1;
  EstateCounters e1;
};

Window measure_window(ChildProcess& process, std::uint16_t port, BenchEstate& estate,
                      double seconds) {
  Window w;
  const pid_t pid = process.pid();
  w.a = scrape(pid, port, false);
  w.u0 = read_usage(pid);
  w.l0 = sample_load();
  w.t0 = Clock::now();
  w.e0 = estate.counters();
  w.alive = sleep_while_running(process, seconds);
  w.u1 = read_usage(pid);
  w.l1 = sample_load();
  w.t1 = Clock::now();
  w.e1 = estate.counters();
  return w;
}

std::string daemon_section(const Options& options, int interval_s, const std::string& timeout) {
  std::string out = "[daemon]\ninterval = \"" + std::to_string(interval_s) + "s\"\n";
  if (!timeout.empty()) out += "timeout = \"" + timeout + "\"\n";
  for (const auto& line : options.daemon_options) out += line + "\n";
  return out;
}

// Timeout of a check at this interval: 5 s (the default) when it fits, else half the interval,
// which is also what blackbox_exporter gets (the scrape timeout minus its 0.5 s margin at 1 s).
std::string timeout_for(int interval_s) {
  return interval_s > 5 ? std::string() : std::to_string(interval_s * 500) + "ms";
}

RateResult kscprobe_rate(const Options& options, const RateSpec& spec, BenchEstate& estate,
                         const std::string& dir) {
  RateResult r;
  std::string list;
  for (int i = 0; i < spec.targets; ++i) {
    if (i) list += ", ";
    list += "\"" + host_address(spec.tls ? kTlsOctet : kTcpOctet, i) + "\"";
  }
  // One check per target: role database (engine postgresql) has only database_tcp (5432);
  // role web_console has only web_console_tls (8080).
  std::string labels =
      spec.tls ? R"({"role": "web_console"})" : R"({"role": "database", "engine": "postgresql"})";
  write_file(dir + "/targets.json",
             "[{\"targets\": [" + list + "], \"labels\": " + labels + "}]\n");
  write_file(dir + "/kscprobe.toml",
             "target_files = [\"targets.json\"]\n" +
                 daemon_section(options, spec.interval_s, timeout_for(spec.interval_s)) +
                 options.config_append);
  Daemon d = start_kscprobe(options, dir + "/kscprobe.toml", dir + "/kscprobe.log", 60);
  if (!d.error.empty()) {
    r.error = d.error;
    return r;
  }
  pid_t pid = d.process->pid();
  if (!sleep_while_running(*d.process, spec.warmup_s)) {
    r.error = "kscprobe " + d.process->exit_description() +
              " during warm-up:" + log_tail(d.process->log(), 6);
    return r;
  }
  auto [a, u0, l0, t0, e0, alive, u1, l1, t1, e1] =
      measure_window(*d.process, d.port, estate, spec.window_s);
  if (!alive) {
    r.error = "kscprobe " + d.process->exit_description() +
              " during the window:" + log_tail(d.process->log(), 6);
    return r;
  }
  Scrape b = scrape(pid, d.port, false);
  d.process->stop();
  if (a.reply.status != 200 || b.reply.status != 200) {
    r.error = "GET /metrics failed: " + a.reply.error + " " + b.reply.error;
    return r;
  }
  r.window_s = between(t0, t1);
  r.other = other_load(l0, l1, cpu_delta(u0, u1), r.window_s);
  r.failures = sum_samples(b.text, "kscprobe_probe_failures_total").sum -
               sum_samples(a.text, "kscprobe_probe_failures_total").sum;
  // Successful probes only, as for blackbox_exporter (probe_success 1): a probe that timed out
  // spent CPU without completing.
  r.probes = sum_samples(b.text, "kscprobe_probes_total").sum -
             sum_samples(a.text, "kscprobe_probes_total").sum - r.failures;
  // Counters are read when the render starts, i.e. when the request arrives.
  r.probes_per_s = r.probes / between(a.start, b.start);
  r.cpu_s = cpu_delta(u0, u1);
  if (r.probes_per_s > 0) r.cpu_ms_per_probe = r.cpu_s / r.window_s / r.probes_per_s * 1000;
  r.skipped = sum_samples(b.text, "kscprobe_scheduler_skipped_total").sum -
              sum_samples(a.text, "kscprobe_scheduler_skipped_total").sum;
  r.rss_kib = u1.rss_kib;
  r.hwm_kib = u1.hwm_kib;
  r.server_per_s = static_cast<double>(spec.tls ? e1.tls_handshakes - e0.tls_handshakes
                                                : e1.tcp_accepted - e0.tcp_accepted) /
                   r.window_s;
  if (spec.tls && e1.tls_handshakes > e0.tls_handshakes)
    r.resumed_share = static_cast<double>(e1.tls_resumed - e0.tls_resumed) /
                      static_cast<double>(e1.tls_handshakes - e0.tls_handshakes);
  r.ok = true;
  return r;
}

// ---------------------------------------------------------------------------------------------
// blackbox_exporter as a child process, driven like Prometheus

constexpr const char* kBlackboxConfig = R"(modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  tls_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      tls: true
      tls_config:
        insecure_skip_verify: true
)";

RateResult blackbox_rate(const Options& options, const RateSpec& spec, BenchEstate& estate,
                         const std::string& dir, std::size_t saturate) {
  RateResult r;
  write_file(dir + "/blackbox.yml", kBlackboxConfig);
  std::uint16_t port = free_port();
  ChildProcess bb({options.blackbox, "--config.file=" + dir + "/blackbox.yml",
                   "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                  dir + (saturate ? "/blackbox-saturated.log" : "/blackbox.log"));
  if (!wait_http_ok(bb, port, "/-/healthy", 30)) {
    r.error = "blackbox_exporter did not start:" + log_tail(bb.log(), 6);
    return r;
  }
  DriverOptions d;
  d.port = port;
  d.interval = std::chrono::seconds(spec.interval_s);
  // Prometheus's default scrape timeout is 10 s, and never more than the interval.
  d.scrape_timeout = std::min<std::chrono::milliseconds>(d.interval, 10s);
  if (saturate) {
    d.saturate = saturate;
    d.scrape_timeout = 10s;
  }
  const char* module = spec.tls ? "tls_connect" : "tcp_connect";
  std::uint16_t target_port = spec.tls ? kTlsPort : kTcpPort;
  for (int i = 0; i < spec.targets; ++i)
    d.paths.push_back(format("/probe?module=%s&target=%s:%u", module,
                             host_address(spec.tls ? kTlsOctet : kTcpOctet, i).c_str(),
                             static_cast<unsigned>(target_port)));
  ScrapeDriver driver(d);
  driver.start();
  bool alive = true;
  if (options.verbose) {
    // One line a second through warm-up: how the exporter copes with the offered rate.
    DriverCounters last{};
    ProcUsage last_usage = read_usage(bb.pid());
    ProcUsage last_self = read_usage(::getpid());
    for (int s = 0; s < static_cast<int>(spec.warmup_s) && alive; ++s) {
      alive = sleep_while_running(bb, 1);
      DriverCounters c = driver.counters();
      ProcUsage u = read_usage(bb.pid());
      ProcUsage self = read_usage(::getpid());
      std::printf(
          "    %ds: due %llu, ok %llu, probe failed %llu, http failed %llu, skipped %llu, "
          "connections %llu, CPU %.2f s (this benchmark %.2f s)\n",
          s + 1, static_cast<unsigned long long>(c.due - last.due),
          static_cast<unsigned long long>(c.succeeded - last.succeeded),
          static_cast<unsigned long long>(c.probe_failed - last.probe_failed),
          static_cast<unsigned long long>(c.http_failed - last.http_failed),
          static_cast<unsigned long long>(c.skipped - last.skipped),
          static_cast<unsigned long long>(c.connections - last.connections),
          cpu_delta(last_usage, u), cpu_delta(last_self, self));
      last = c;
      last_usage = u;
      last_self = self;
    }
  } else {
    alive = sleep_while_running(bb, spec.warmup_s);
  }
  DriverCounters c0 = driver.counters();
  ProcUsage u0 = read_usage(bb.pid());
  LoadSample l0 = sample_load();
  auto t0 = Clock::now();
  EstateCounters e0 = estate.counters();
  alive = alive && sleep_while_running(bb, spec.window_s);
  DriverCounters c1 = driver.counters();
  ProcUsage u1 = read_usage(bb.pid());
  LoadSample l1 = sample_load();
  auto t1 = Clock::now();
  EstateCounters e1 = estate.counters();
  driver.stop();
  bb.stop();
  if (!alive) {
    r.error = "blackbox_exporter " + bb.exit_description() + ":" + log_tail(bb.log(), 6);
    return r;
  }
  r.window_s = between(t0, t1);
  r.other = other_load(l0, l1, cpu_delta(u0, u1), r.window_s);
  r.probes = static_cast<double>(c1.succeeded - c0.succeeded);
  r.probes_per_s = r.probes / r.window_s;
  r.cpu_s = cpu_delta(u0, u1);
  if (r.probes > 0) r.cpu_ms_per_probe = r.cpu_s / r.probes * 1000;
  r.failures =
      static_cast<double>((c1.probe_failed - c0.probe_failed) + (c1.http_failed - c0.http_failed));
  r.skipped = static_cast<double>(c1.skipped - c0.skipped);
  r.rss_kib = u1.rss_kib;
  r.hwm_kib = u1.hwm_kib;
  r.server_per_s = static_cast<double>(spec.tls ? e1.tls_handshakes - e0.tls_handshakes
                                                : e1.tcp_accepted - e0.tcp_accepted) /
                   r.window_s;
  if (spec.tls && e1.tls_handshakes > e0.tls_handshakes)
    r.resumed_share = static_cast<double>(e1.tls_resumed - e0.tls_resumed) /
                      static_cast<double>(e1.tls_handshakes - e0.tls_handshakes);
  r.ok = true;
  std::printf("  blackbox_exporter: %s connections opened by the client in all\n",
              with_thousands(static_cast<double>(c1.connections)).c_str());
  return r;
}

void print_rate(const char* who, const RateResult& r) {
  if (!r.ok) {
    std::printf("  %s: FAILED: %s\n", who, r.error.c_str());
    return;
  }
  std::printf(
      "  %s: %.0f probes in %.1f s = %.1f probes/s (estate saw %.1f/s), %.3f s CPU = %.1f %% of "
      "a core, %s ms CPU/probe, failures %.0f, skipped %.0f, RSS %.1f MB (peak %.1f MB)\n",
      who, r.probes, r.window_s, r.probes_per_s, r.server_per_s, r.cpu_s,
      100 * r.cpu_s / r.window_s, ms(r.cpu_ms_per_probe).c_str(), r.failures, r.skipped,
      static_cast<double>(r.rss_kib) / 1024, static_cast<double>(r.hwm_kib) / 1024);
  if (r.resumed_share >= 0)
    std::printf("  (%s: %.1f %% of the estate's TLS handshakes resumed a session)\n", who,
                100 * r.resumed_share);
  note_load(who, r.other);
}

std::string rate_cell(const RateResult& r) {
  if (!r.ok) return "failed";
  std::vector<std::string> extra;
  if (r.failures > 0) extra.push_back(with_thousands(r.failures) + " failed");
  if (r.skipped > 0) extra.push_back(with_thousands(r.skipped) + " skipped");
  std::string s = with_thousands(r.probes_per_s);
  for (std::size_t i = 0; i < extra.size(); ++i) s += (i ? ", " : " (") + extra[i];
  return extra.empty() ? s : s + ")";
}

void run_rate(const Options& options, const RateSpec& spec, BenchEstate& estate,
              const std::optional<double>& floor_ms) {
  std::string dir = options.workdir + "/" + spec.name;
  std::filesystem::create_directories(dir);
  double offered = static_cast<double>(spec.targets) / spec.interval_s;
  std::string scenario =
      format("%s: %s targets × 1 %s check @ %d s (%s/s offered)", spec.name.c_str(),
             with_thousands(spec.targets).c_str(), spec.tls ? "TLS" : "TCP", spec.interval_s,
             with_thousands(offered).c_str());
  std::printf("\n== %s; window %.0f s after %.0f s warm-up\n", scenario.c_str(), spec.window_s,
              spec.warmup_s);
  g_notes.push_back(format("%s: window %.0f s after %.0f s of warm-up, for each prober in turn.",
                           spec.name.c_str(), spec.window_s, spec.warmup_s));
  std::fflush(stdout);
  // The floor at this very rate, just before kscprobe runs at it.
  std::optional<double> paced_floor_ms;
  if (!spec.tls) {
    const double seconds = std::min(spec.window_s, 10.0);
    FloorResult f =
        measure_floor(static_cast<int>(offered * seconds), spec.targets, seconds + 5, offered);
    if (f.connects > 0) {
      paced_floor_ms = f.cpu_s / f.connects * 1000;
      std::printf(
          "  floor paced at %s/s: %d connects (%d failed) in %.2f s, %.3f s CPU: %s ms "
          "CPU/connect\n",
          with_thousands(offered).c_str(), f.connects, f.failures, f.wall_s, f.cpu_s,
          ms(*paced_floor_ms).c_str());
    }
  }
  RateResult k = kscprobe_rate(options, spec, estate, dir);
  print_rate("kscprobe", k);
  std::fflush(stdout);
  RateResult b = blackbox_rate(options, spec, estate, dir, 0);
  print_rate("blackbox_exporter", b);
  std::fflush(stdout);
  std::optional<RateResult> saturated;
  if (spec.saturation) {
    saturated = blackbox_rate(options, spec, estate, dir, options.saturating_requests);
    print_rate(
        format("blackbox_exporter saturated (%zu requests in flight)", options.saturating_requests)
            .c_str(),
        *saturated);
    std::fflush(stdout);
  }

  // A prober that completes less than 90 % of the offered rate is overloaded: its cost per
  // completed probe then counts the work spent on probes that timed out, and is no fair figure.
  auto sustained = [&](const RateResult& r) { return r.ok && r.probes_per_s >= 0.9 * offered; };
  auto cost_cell = [&](const RateResult& r) {
    if (!r.ok) return std::string("failed");
    if (!sustained(r))
      return ms(r.cpu_ms_per_probe) +
             format(" (overloaded: %.0f %% completed)", 100 * r.probes_per_s / offered);
    return ms(r.cpu_ms_per_probe);
  };
  double ratio = (sustained(k) && sustained(b) && k.cpu_ms_per_probe > 0)
                     ? b.cpu_ms_per_probe / k.cpu_ms_per_probe
                     : NAN;
  row(scenario, "probes/s completed successfully", rate_cell(k), rate_cell(b), "", "");
  std::string target;
  if (!spec.tls) {
    target = "≥ 6× less than blackbox_exporter";
  } else {
    target = "≤ blackbox_exporter";
  }
  row(scenario, "CPU ms per probe", cost_cell(k), cost_cell(b), times(ratio), target);
  if (saturated) {
    double sat_ratio = (sustained(k) && saturated->ok && k.cpu_ms_per_probe > 0)
                           ? saturated->cpu_ms_per_probe / k.cpu_ms_per_probe
                           : NAN;
    row(scenario,
        format("CPU ms per probe, blackbox_exporter saturated (%zu requests in flight)",
               options.saturating_requests),
        cost_cell(k),
        saturated->ok ? ms(saturated->cpu_ms_per_probe) + " at " +
                            with_thousands(saturated->probes_per_s) + "/s"
                      : "failed",
        times(sat_ratio), target);
  }
  if (!spec.tls && floor_ms && k.ok) {
    row(scenario, format("kscprobe ÷ connect+close floor (%s ms)", ms(*floor_ms).c_str()),
        cost_cell(k), "", sustained(k) ? times(k.cpu_ms_per_probe / *floor_ms) : "n/a",
        "within 2× of the floor");
  }
  if (paced_floor_ms && k.ok) {
    row(scenario,
        format("kscprobe ÷ the floor loop paced at %s/s (%s ms)", with_thousands(offered).c_str(),
               ms(*paced_floor_ms).c_str()),
        cost_cell(k), "", sustained(k) ? times(k.cpu_ms_per_probe / *paced_floor_ms) : "n/a",
        "within 2× of the floor");
  }
  if (spec.tls) {
    auto share = [](const RateResult& r) {
      return r.resumed_share >= 0 ? format("%.1f %%", 100 * r.resumed_share) : std::string("n/a");
    };
    row(scenario, "TLS handshakes that resumed a session (seen by the estate)", share(k), share(b),
        "", "full handshakes read the certificate");
  }
  row(scenario, "CPU, % of one core",
      k.ok ? format("%.1f %%", 100 * k.cpu_s / k.window_s) : "failed",
      b.ok ? format("%.1f %%", 100 * b.cpu_s / b.window_s) : "failed", "", "");
  row(scenario, "RSS (peak)",
      k.ok ? format("%.1f MB (%.1f)", static_cast<double>(k.rss_kib) / 1024,
                    static_cast<double>(k.hwm_kib) / 1024)
           : "failed",
      b.ok ? format("%.1f MB (%.1f)", static_cast<double>(b.rss_kib) / 1024,
                    static_cast<double>(b.hwm_kib) / 1024)
           : "failed",
      "", "");
}

// ---------------------------------------------------------------------------------------------
// The estate scenario

void run_estate(const Options& options, const EstateSpec& spec, BenchEstate& estate) {
  std::string dir = options.workdir + "/estate";
  std::filesystem::create_directories(dir);
  std::string scenario =
      format("estate: %s agents, %s DPs, %d servers @ %d s", with_thousands(spec.agents).c_str(),
             with_thousands(spec.distribution_points).c_str(), spec.servers, spec.interval_s);
  std::printf("\n== %s; window %.0f s after %.0f s warm-up\n", scenario.c_str(), spec.window_s,
              spec.warmup_s);
  g_notes.push_back(
      format("estate: window %.0f s after %.0f s of warm-up (from /-/ready); "
             "/metrics read at both ends of the window.",
             spec.window_s, spec.warmup_s));
  std::fflush(stdout);

  // Agents and distribution points in file_sd target files, with the labels a KSC export gives
  // (site, KSC administration group); servers as [[target]] tables.
  static const char* kGroups[] = {"Workstations", "Laptops", "Servers", "Kiosks"};
  constexpr int kSites = 50;
  std::map<std::pair<int, int>, std::string> agent_groups;
  for (int i = 0; i < spec.agents; ++i) {
    std::string& list = agent_groups[{i % kSites, (i / kSites) % 4}];
    if (!list.empty()) list += ", ";
    list += "\"" + host_address(kAgentOctet, i) + "\"";
  }
  std::string agents = "[\n";
  for (const auto& [key, list] : agent_groups) {
    if (agents.size() > 2) agents += ",\n";
    agents += format(R"({"labels": {"role": "agent", "site": "site-%02d", "ksc_group": "%s"}, )",
                     key.first, kGroups[key.second]) +
              "\"targets\": [" + list + "]}";
  }
  agents += "\n]\n";
  write_file(dir + "/agents.json", agents);
  std::map<int, std::string> dp_groups;
  for (int i = 0; i < spec.distribution_points; ++i) {
    std::string& list = dp_groups[i % kSites];
    if (!list.empty()) list += ", ";
    list += "\"" + host_address(kDistributionPointOctet, i) + "\"";
  }
  std::string dps = "[\n";
  for (const auto& [site, list] : dp_groups) {
    if (dps.size() > 2) dps += ",\n";
    dps += format(R"({"labels": {"role": "distribution_point", "site": "site-%02d"}, )", site) +
           "\"targets\": [" + list + "]}";
  }
  dps += "\n]\n";
  write_file(dir + "/distribution_points.json", dps);
  std::string toml = "target_files = [\"agents.json\", \"distribution_points.json\"]\n" +
                     daemon_section(options, spec.interval_s, timeout_for(spec.interval_s));
  for (int i = 0; i < spec.servers; ++i) {
    toml += format(
        "\n[[target]]\nname = \"ksc-%02d\"\nrole = \"server\"\naddress = \"%s\"\n"
        "labels = { site = \"site-%02d\" }\n",
        i + 1, host_address(kServerOctet, i).c_str(), i % kSites);
  }
  write_file(dir + "/kscprobe.toml", toml + options.config_append);

  Daemon d = start_kscprobe(options, dir + "/kscprobe.toml", dir + "/kscprobe.log", 180);
  if (!d.error.empty()) {
    std::printf("  kscprobe: FAILED: %s\n", d.error.c_str());
    row(scenario, "all", "kscprobe " + d.exit, "", "", "");
    return;
  }
  pid_t pid = d.process->pid();
  std::printf("  kscprobe ready %.1f s after start (configuration and target files loaded)\n",
              d.ready_s);
  std::fflush(stdout);
  if (!sleep_while_running(*d.process, spec.warmup_s)) {
    std::printf("  kscprobe %s during warm-up:%s\n", d.process->exit_description().c_str(),
                log_tail(d.process->log(), 6).c_str());
    row(scenario, "all", "kscprobe " + d.process->exit_description(), "", "", "");
    return;
  }
  auto [a, u0, l0, t0, e0, alive, u1, l1, t1, e1] =
      measure_window(*d.process, d.port, estate, spec.window_s);
  if (!alive) {
    std::printf("  kscprobe %s during the window:%s\n", d.process->exit_description().c_str(),
                log_tail(d.process->log(), 6).c_str());
    row(scenario, "all", "kscprobe " + d.process->exit_description(), "", "", "");
    return;
  }
  Scrape b = scrape(pid, d.port, false);
  Scrape c = scrape(pid, d.port, true);
  ProcUsage u2 = read_usage(pid);
  d.process->stop();
  if (a.reply.status != 200 || b.reply.status != 200 || c.reply.status != 200) {
    std::printf("  GET /metrics failed: %s / %s / %s\n", a.reply.error.c_str(),
                b.reply.error.c_str(), c.reply.error.c_str());
    row(scenario, "all", "/metrics failed", "", "", "");
    return;
  }

  double window = between(t0, t1);
  double cpu = cpu_delta(u0, u1);
  double checks = sum_samples(b.text, "kscprobe_checks").sum;
  double targets = sum_samples(b.text, "kscprobe_targets").sum;
  double due_per_s = checks / spec.interval_s;
  double probes = sum_samples(b.text, "kscprobe_probes_total").sum -
                  sum_samples(a.text, "kscprobe_probes_total").sum;
  double probes_per_s = probes / between(a.start, b.start);
  double failures = sum_samples(b.text, "kscprobe_probe_failures_total").sum -
                    sum_samples(a.text, "kscprobe_probe_failures_total").sum;
  auto skipped_b = sum_samples(b.text, "kscprobe_scheduler_skipped_total");
  double skipped = skipped_b.sum - sum_samples(a.text, "kscprobe_scheduler_skipped_total").sum;
  Buckets lag = bucket_delta(histogram_buckets(a.text, "kscprobe_scheduler_lag_seconds"),
                             histogram_buckets(b.text, "kscprobe_scheduler_lag_seconds"));
  auto p50 = histogram_quantile(0.5, lag), p99 = histogram_quantile(0.99, lag);
  auto p50_bound = quantile_bucket_bound(0.5, lag), p99_bound = quantile_bucket_bound(0.99, lag);
  double in_flight = sum_samples(b.text, "kscprobe_probes_in_flight").sum;
  double queued = sum_samples(b.text, "kscprobe_probes_queued").sum;
  std::size_t series = series_count(b.text);
  auto render_b = sum_samples(b.text, "kscprobe_metrics_render_cpu_seconds");
  auto render_c = sum_samples(c.text, "kscprobe_metrics_render_cpu_seconds");

  auto lag_text = [](std::optional<double> q, std::optional<double> bound) {
    if (!q) return std::string("no samples");
    if (bound && std::isinf(*bound)) return std::string("> 10 s (+Inf bucket)");
    return seconds_text(*q) + " (≤ " + seconds_text(bound.value_or(NAN)) + " bucket)";
  };

  std::printf("  plan: %s checks on %s targets, %s probes/s due\n", with_thousands(checks).c_str(),
              with_thousands(targets).c_str(), with_thousands(due_per_s).c_str());
  std::printf(
      "  window %.1f s: %.0f probes = %.1f probes/s, failures %.0f, skipped %.0f; CPU %.3f s = "
      "%.2f %% of a core; RSS %.1f MB, peak %.1f MB\n",
      window, probes, probes_per_s, failures, skipped, cpu, 100 * cpu / window,
      static_cast<double>(u1.rss_kib) / 1024, static_cast<double>(u2.hwm_kib) / 1024);
  std::printf("  scheduler lag p50 %s, p99 %s; at the end: %.0f in flight, %.0f queued\n",
              lag_text(p50, p50_bound).c_str(), lag_text(p99, p99_bound).c_str(), in_flight,
              queued);
  std::printf(
      "  estate saw %.1f UDP datagrams/s, %.1f TLS handshakes/s, %.1f TCP accepts/s, "
      "%.1f HTTPS requests/s\n",
      static_cast<double>(e1.udp_datagrams - e0.udp_datagrams) / window,
      static_cast<double>(e1.tls_handshakes - e0.tls_handshakes) / window,
      static_cast<double>(e1.tcp_accepted - e0.tcp_accepted) / window,
      static_cast<double>(e1.https_requests - e0.https_requests) / window);
  std::printf(
      "  /metrics: uncompressed %s in %s (daemon CPU meanwhile %s), gzip %s in %s (CPU %s); "
      "%s series; first scrape of the window took %s\n",
      megabytes(static_cast<double>(b.reply.body.size())).c_str(),
      seconds_text(b.reply.seconds).c_str(), seconds_text(b.cpu_s).c_str(),
      megabytes(static_cast<double>(c.reply.body.size())).c_str(),
      seconds_text(c.reply.seconds).c_str(), seconds_text(c.cpu_s).c_str(),
      with_thousands(static_cast<double>(series)).c_str(), seconds_text(a.reply.seconds).c_str());
  note_load("estate", other_load(l0, l1, cpu, window));
  std::fflush(stdout);

  double with_scrape = (cpu + b.cpu_s * window / spec.interval_s) / window;
  row(scenario, "start-up until /-/ready", seconds_text(d.ready_s), "", "", "");
  row(scenario, "checks (targets)", with_thousands(checks) + " (" + with_thousands(targets) + ")",
      "", "", "");
  row(scenario, format("probes/s completed (due: %s/s)", with_thousands(due_per_s).c_str()),
      format("%.1f", probes_per_s) +
          (failures > 0 ? " (" + with_thousands(failures) + " failed)" : std::string()),
      "", "", "");
  row(scenario, "CPU, % of one core (window)", format("%.2f %%", 100 * cpu / window), "", "",
      "< 15 %");
  // Agents and distribution points have two UDP checks each, servers one (shutdown_udp).
  double udp_checks = 2.0 * spec.agents + 2.0 * spec.distribution_points + spec.servers;
  row(scenario,
      format("CPU ms per probe (%.1f %% of them UDP)", checks > 0 ? 100 * udp_checks / checks : 0),
      probes > 0 ? ms(cpu / window / probes_per_s * 1000) : "n/a", "", "", "");
  row(scenario, "CPU incl. one /metrics scrape per interval", format("%.2f %%", 100 * with_scrape),
      "", "", "");
  row(scenario, "RSS (peak)",
      format("%.1f MB (%.1f)", static_cast<double>(u1.rss_kib) / 1024,
             static_cast<double>(u2.hwm_kib) / 1024),
      "", "", "< 300 MB");
  row(scenario, "scheduler lag p50", lag_text(p50, p50_bound), "", "", "");
  row(scenario, "scheduler lag p99", lag_text(p99, p99_bound), "", "", "< 250 ms");
  row(scenario, "probes skipped (window)", skipped_b.samples ? with_thousands(skipped) : "n/a", "",
      "", "0");
  row(scenario, "/metrics scrape: wall (daemon CPU)",
      seconds_text(b.reply.seconds) + " (" + seconds_text(b.cpu_s) + ")", "", "",
      "render < 1 s CPU");
  if (render_c.samples || render_b.samples) {
    row(scenario, "kscprobe_metrics_render_cpu_seconds",
        seconds_text(render_c.samples ? render_c.sum : render_b.sum), "", "", "< 1 s");
  } else {
    row(scenario, "kscprobe_metrics_render_cpu_seconds", "not exposed", "", "", "< 1 s");
  }
  row(scenario, "/metrics size: raw / gzip",
      megabytes(static_cast<double>(b.reply.body.size())) + " / " +
          megabytes(static_cast<double>(c.reply.body.size())) +
          (c.reply.content_encoding == "gzip" ? "" : " (gzip not honoured)"),
      "", "", "gzip supported");
  row(scenario, "/metrics series", with_thousands(static_cast<double>(series)), "", "",
      "scrapable every 60 s");
}

// ---------------------------------------------------------------------------------------------

void print_table(double total_s) {
  std::printf(
      "\n| scenario | metric | kscprobe | blackbox_exporter | ratio | target (issue 6) |\n");
  std::printf("|---|---|---|---|---|---|\n");
  std::string last;
  for (const auto& r : g_rows) {
    std::string scenario = r.scenario == last ? "" : r.scenario;
    last = r.scenario;
    std::printf("| %s | %s | %s | %s | %s | %s |\n", scenario.c_str(), r.metric.c_str(),
                r.kscprobe.c_str(), r.blackbox.c_str(), r.ratio.c_str(), r.target.c_str());
  }
  std::printf(
      "\nratio: blackbox_exporter ÷ kscprobe CPU per probe (floor rows: kscprobe ÷ floor; the "
      "paced floor is the same loop sleeping until each connect is due, at the scenario's rate), "
      "only where both kept up with the offered rate. CPU is the prober process's own (/proc), "
      "over "
      "the window quoted with each scenario; /metrics renders are outside the windows.\n");
  std::printf(
      "Other processes on the machine used up to %.2f cores during these windows (they take "
      "what the benchmark leaves idle; on a busy machine timeouts and failures get likelier).\n",
      g_max_other_cores);
  for (const auto& n : g_notes) std::printf("%s\n", n.c_str());
  std::printf("benchmark run time: %.0f s\n", total_s);
}

void print_environment(const Options& options) {
  utsname u{};
  ::uname(&u);
  std::string cpu_model;
  std::istringstream cpuinfo(read_text("/proc/cpuinfo"));
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu_model = line.substr(line.find(':') + 2);
      break;
    }
  }
  // Inside the namespace bench.sh makes, loopback is the only interface.
  std::string interfaces;
  std::istringstream dev(read_text("/proc/net/dev"));
  for (std::string line; std::getline(dev, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto start = line.find_first_not_of(' ');
    if (!interfaces.empty()) interfaces += ",";
    interfaces += line.substr(start, colon - start);
  }
  bool isolated = interfaces == "lo";
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  std::printf("kscprobe benchmark, %s%s\n", date, options.quick ? " (--quick)" : "");
  std::printf("  host: %s %s, %u CPUs (%s)\n", u.sysname, u.release,
              std::thread::hardware_concurrency(), cpu_model.c_str());
  std::printf("  kscprobe: %s (%s)\n", options.kscprobe.c_str(),
              command_first_line({options.kscprobe, "--version"}).c_str());
  std::printf("  blackbox_exporter: %s (%s)\n", options.blackbox.c_str(),
              command_first_line({options.blackbox, "--version"}).c_str());
  std::printf("  network: interfaces %s%s; ip_local_port_range %s; tcp_tw_reuse %s; somaxconn %s\n",
              interfaces.c_str(),
              isolated ? " (isolated)" : " (NOT isolated: run scripts/bench.sh)",
              trim(read_text("/proc/sys/net/ipv4/ip_local_port_range")).c_str(),
              trim(read_text("/proc/sys/net/ipv4/tcp_tw_reuse")).c_str(),
              trim(read_text("/proc/sys/net/core/somaxconn")).c_str());
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  std::printf("  open files limit %llu; work directory (configs, logs): %s\n",
              static_cast<unsigned long long>(files.rlim_cur), options.workdir.c_str());
}

void usage() {
  std::printf(
      "kscprobe_bench [options]: kscprobe and blackbox_exporter on a simulated estate\n"
      "  --quick                  smaller estate, short windows (about a minute)\n"
      "  --scenarios=a,b          floor, tcp, tcp-90, tls, tls-90, estate (default: all)\n"
      "  --kscprobe=PATH          kscprobe binary (default: the one built with this program)\n"
      "  --blackbox=PATH          blackbox_exporter binary (default %s)\n"
      "  --workdir=DIR            where configs and logs go (default: a new /tmp directory)\n"
      "  --tcp-targets=N --tls-targets=N  targets of the 1 s tcp and tls scenarios\n"
      "  --window=S --warmup=S    measurement window and warm-up of the tcp/tls scenarios\n"
      "  --estate-agents=N --estate-window=S --estate-warmup=S --estate-interval=S\n"
      "  --kscprobe-arg=ARG       extra kscprobe command-line argument (repeatable)\n"
      "  --daemon-option='k = v'  extra line in [daemon] of every generated config (repeatable)\n"
      "  --config-append=TOML     appended to every generated config, e.g.\n"
      "                           '[metrics]\\ndetail = { agent = \"aggregate\" }' (repeatable)\n"
      "  --saturate=N             requests in flight when saturating blackbox_exporter (32)\n"
      "  --verbose                blackbox_exporter's progress every second of its warm-up\n"
      "  --estate-threads=N       threads serving the simulated estate (default 2)\n"
      "  --tcp-close-at-once      the TCP listener closes at accept instead of waiting for the "
      "peer\n",
      "/usr/bin/prometheus-blackbox-exporter");
}

int run(int argc, char** argv) {
  Options options;
  std::optional<double> window, warmup;
  std::optional<int> tcp_targets, tls_targets;
  std::optional<int> estate_agents, estate_interval;
  std::optional<double> estate_window, estate_warmup;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* key) -> std::optional<std::string> {
      std::string k = std::string(key) + "=";
      if (a.rfind(k, 0) == 0) return a.substr(k.size());
      return std::nullopt;
    };
    if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else if (a == "--quick") {
      options.quick = true;
    } else if (a == "--verbose") {
      options.verbose = true;
    } else if (a == "--tcp-close-at-once") {
      options.tcp_close_at_once = true;
    } else if (auto v = value("--kscprobe")) {
      options.kscprobe = *v;
    } else if (auto v = value("--blackbox")) {
      options.blackbox = *v;
    } else if (auto v = value("--workdir")) {
      options.workdir = *v;
    } else if (auto v = value("--scenarios")) {
      std::stringstream ss(*v);
      for (std::string s; std::getline(ss, s, ',');) options.scenarios.insert(s);
    } else if (auto v = value("--tcp-targets")) {
      tcp_targets = std::stoi(*v);
    } else if (auto v = value("--tls-targets")) {
      tls_targets = std::stoi(*v);
    } else if (auto v = value("--window")) {
      window = std::stod(*v);
    } else if (auto v = value("--warmup")) {
      warmup = std::stod(*v);
    } else if (auto v = value("--estate-agents")) {
      estate_agents = std::stoi(*v);
    } else if (auto v = value("--estate-window")) {
      estate_window = std::stod(*v);
    } else if (auto v = value("--estate-warmup")) {
      estate_warmup = std::stod(*v);
    } else if (auto v = value("--estate-interval")) {
      estate_interval = std::stoi(*v);
    } else if (auto v = value("--saturate")) {
      options.saturating_requests = static_cast<std::size_t>(std::max(1, std::stoi(*v)));
    } else if (auto v = value("--estate-threads")) {
      options.estate_threads = std::stoi(*v);
    } else if (auto v = value("--kscprobe-arg")) {
      options.kscprobe_args.push_back(*v);
    } else if (auto v = value("--daemon-option")) {
      options.daemon_options.push_back(*v);
    } else if (auto v = value("--config-append")) {
      // A backslash-n in the argument stands for a line break.
      std::string text = *v;
      for (std::size_t at; (at = text.find("\\n")) != std::string::npos;) text.replace(at, 2, "\n");
      options.config_append += "\n" + text + "\n";
    } else {
      std::fprintf(stderr, "unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (options.quick) {
    options.floor_connects = 10000;
    options.rates = {{"tcp", false, 1000, 1, 2, 5, true}, {"tls", true, 300, 1, 2, 5, true}};
    options.estate = {10000, 100, 2, 10, 11, 10};
  } else {
    // The gentle rates are the ones at which the issue quotes blackbox_exporter near 90/s.
    options.rates = {{"tcp", false, 4000, 1, 5, 20, true},
                     {"tcp-90", false, 900, 10, 5, 20},
                     {"tls", true, 1000, 1, 5, 20, true},
                     {"tls-90", true, 900, 10, 5, 20}};
  }
  for (auto& r : options.rates) {
    if (r.name == "tcp" && tcp_targets) r.targets = *tcp_targets;
    if (r.name == "tls" && tls_targets) r.targets = *tls_targets;
    if (window) r.window_s = *window;
    if (warmup) r.warmup_s = *warmup;
  }
  if (estate_agents) options.estate.agents = *estate_agents;
  if (estate_window) options.estate.window_s = *estate_window;
  if (estate_warmup) options.estate.warmup_s = *estate_warmup;
  if (estate_interval) options.estate.interval_s = *estate_interval;
  auto wanted = [&](const std::string& s) {
    return options.scenarios.empty() || options.scenarios.count(s) > 0;
  };
  if (options.workdir.empty()) {
    char tmpl[] = "/tmp/kscprobe-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    options.workdir = tmpl;
  }
  std::filesystem::create_directories(options.workdir);
  auto started = Clock::now();
  print_environment(options);

  BenchEstate estate;
  EstateLayout layout;
  layout.tcp_ports = {kTcpPort, 8060, 14000};
  layout.tls_ports = {kTlsPort, 8061, 13000, 13291, 13299, 17000};
  layout.https_ports = {19170, 13296};
  layout.udp_ports = {13000, 15000, 15001};
  layout.tcp_close_at_once = options.tcp_close_at_once;
  layout.threads = options.estate_threads;
  estate.start(layout);
  std::printf(
      "  estate: wildcard listeners, tcp %s, tls/https ECDSA P-256, %d thread(s); udp silent\n",
      options.tcp_close_at_once ? "closes at accept" : "holds until the peer closes",
      layout.threads);
  write_file(options.workdir + "/estate-cert.pem", estate.certificate_pem());

  std::optional<double> floor_ms;
  if (wanted("floor")) {
    std::printf("\n== floor: non-blocking connect + close in a plain loop, %s connects\n",
                with_thousands(options.floor_connects).c_str());
    // As many destinations as the tcp scenario, so the kernel's work per connect matches.
    int destinations = options.rates.empty() ? 4000 : options.rates.front().targets;
    FloorResult f = measure_floor(options.floor_connects, destinations, 30);
    if (f.connects > 0) {
      floor_ms = f.cpu_s / f.connects * 1000;
      std::printf("  %d connects (%d failed) in %.2f s = %.0f/s, %.3f s CPU: %s ms CPU/connect\n",
                  f.connects, f.failures, f.wall_s, f.connects / f.wall_s, f.cpu_s,
                  ms(*floor_ms).c_str());
      row("floor: connect + close loop", "CPU ms per connect", ms(*floor_ms), "", "",
          "reference 0.020–0.025 ms");
    }
  }
  for (const auto& spec : options.rates) {
    if (wanted(spec.name)) run_rate(options, spec, estate, floor_ms);
  }
  if (wanted("estate")) run_estate(options, options.estate, estate);
  estate.stop();
  print_table(since(started));
  return 0;
}

}  // namespace
}  // namespace kscprobe::bench

int main(int argc, char** argv) {
  try {
    return kscprobe::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kscprobe_bench: %s\n", e.what());
    return 1;
  }
}
