// Benchmark of kscprobe on a simulated KSC estate, side by side with blackbox_exporter driven the
// way Prometheus drives it, a plain connect loop (the floor) and openssl s_time.
//
// The path a real estate takes: scripts/bench.sh runs this program in the prober's network
// namespace and passes the estate's (--estate-netns). The two are joined by a veth pair; the
// estate's namespace answers for the whole of 10.96.0.0/12 (`ip route add local`), so every
// connect crosses the veth and completes asynchronously, as it does to a remote host. The
// simulated peers (bench_estate.cpp) run on threads of this process that live in the estate's
// namespace; the probers (kscprobe, blackbox_exporter, openssl) and the floor loop run in the
// prober's. bench.sh also makes part of the address range refuse (RST, ICMP port unreachable) and
// part of it drop, with nftables in the estate's namespace (the octets below).
//
// The estate-names scenario runs the same estate with every target named by a host name, which a
// DNS server of this program (tests/support/fake_dns) answers in the estate's namespace on
// kDnsServer:53; bench.sh points the prober's namespace at it (/etc/netns/<prober>/resolv.conf,
// which `ip netns exec` mounts on /etc/resolv.conf for this program and kscprobe).
//
// The discovery scenario reads the same estate from a fake KSC Administration Server (the
// simulator's OpenAPI, bench_ksc.hpp) that also lives in the estate's namespace, and measures a
// refresh while kscprobe probes what it found.
//
// It asserts nothing about speed: it writes its figures to a JSON file (--results), which
// scripts/bench_table.py turns into the README table with the goals beside them. Only the probers'
// own CPU is counted (from /proc of the child processes; the floor's from its thread), one prober
// after the other, never two at once. kscprobe's windows include its gzip /metrics scrapes every
// 15 s, as blackbox_exporter's include serving its answers.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "platform/platform.hpp"
#include "tests/bench/bench_estate.hpp"
#include "tests/bench/bench_ksc.hpp"
#include "tests/bench/json_out.hpp"
#include "tests/bench/proc_usage.hpp"
#include "tests/bench/scrape_driver.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/fake_dns.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"

#ifndef KSCPROBE_BIN
#define KSCPROBE_BIN "kscprobe"
#endif

namespace kscprobe::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using test::bucket_delta;
using test::Buckets;
using test::ChildProcess;
using test::gunzip;
using test::histogram_buckets;
using test::histogram_quantile;
using test::HttpReply;
using test::Labels;
using test::quantile_bucket_bound;
using test::series_count;
using test::sum_samples;

/// A child of the benchmark: stdout and stderr appended to `log`, SIGTERM if the benchmark dies
/// first (no prober outlives a run), SIGTERM then SIGKILL after 5 s when it goes out of scope.
test::ChildOptions logged_to(const std::string& log) {
  test::ChildOptions o;
  o.stdout_path = log;
  o.append = true;
  o.search_path = true;
  o.die_with_parent = true;
  o.stop_grace = 5s;
  return o;
}

/// One HTTP/1.1 GET on a fresh connection, as Prometheus sends it (gzip accepted when asked).
HttpReply http_get(const std::string& host, std::uint16_t port, const std::string& target,
                   bool gzip, std::chrono::milliseconds timeout) {
  test::HttpRequest request;
  request.host = host;
  request.port = port;
  request.target = target;
  request.version = 11;
  request.timeout = timeout;
  request.headers = {{"Host", host + ":" + std::to_string(port)}, {"User-Agent", "kscprobe-bench"}};
  if (gzip) request.headers.push_back({"Accept-Encoding", "gzip"});
  return test::fetch(request);
}

/// The first line of what a command prints (stdout and stderr), within `timeout`.
std::string command_first_line(const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout = 5s) {
  std::string out;
  test::run(argv, &out, timeout);
  out = out.substr(0, out.find('\n'));
  while (!out.empty() && out.back() == '\r') out.pop_back();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scenarios and options

/// Probing `rate` targets a second, one check each, at a fixed interval (tcp or tls).
struct RateSpec {
  std::string name;
  bool tls = false;
  int rate = 0;  // probes due per second; targets = rate × interval
  int interval_s = 1;
  double warmup_s = 5;
  double window_s = 30;
  int targets() const { return rate * interval_s; }
};

/// The 100 000-device estate: agents (two UDP checks, a fifth of them refused), distribution
/// points, servers; then the status page fetched repeatedly.
struct EstateSpec {
  int agents = 100000;
  int distribution_points = 1000;
  int servers = 10;
  int interval_s = 60;
  double warmup_s = 65;
  double window_s = 60;
  int page_fetches = 20;
  int json_fetches = 5;
  double page_pace_s = 1;
};

/// The same estate read from KSC: the agents and distribution points of EstateSpec are listed by
/// a fake Administration Server (in the estate's namespace, reached over the veth) instead of
/// target files; a quiet span, then `churn` devices replaced, then a span holding the refresh.
struct DiscoverySpec {
  int agents = 100000;
  int distribution_points = 1000;
  int servers = 10;
  int interval_s = 60;
  int refresh_s = 120;   // the section's refresh
  double warmup_s = 65;  // after the first discovery, before the quiet span
  double span_s = 20;    // each measured span
  int churn = 100;       // devices KSC drops, and as many it adds, before the second discovery
  int ksc_servers = 1;   // Administration Servers sharing the devices, one [[ksc]] each
};

/// A server that lists far more than KSC supports, each field at the 256-byte cut: what the
/// device limit (max_devices, default 120 000) holds kscprobe's memory and /metrics to.
struct DiscoveryLimitSpec {
  int devices = 250000;
  int interval_s = 300;  // the kept devices are probed, slowly: the figure is the memory
  double settle_s = 10;  // after the first discovery, for the plan to be composed and run
};

struct Options {
  bool quick = false;
  std::string kscprobe = KSCPROBE_BIN;
  std::string blackbox = "/usr/bin/prometheus-blackbox-exporter";
  std::string openssl = "/usr/bin/openssl";
  std::string estate_netns;  // path of the estate's network namespace (/run/netns/NAME)
  std::string results = "build/bench/results.json";
  std::set<std::string> scenarios;  // empty: all
  std::string workdir;
  int estate_threads = 2;
  // The estate-names scenario's DNS server: its time to answer each query, the TTL it gives.
  int dns_delay_ms = 2;
  int dns_ttl_s = 60;
  int floor_grid_ms = 10;
  std::vector<std::string> kscprobe_args;
  std::vector<std::string> daemon_options;
  std::string config_append;  // TOML appended to every generated configuration
  std::vector<RateSpec> rates;
  EstateSpec estate;
  /// Five times the estate (issue of the half-million agents): by address, from target files,
  /// beside the estate of the same run; no status page fetches (the estate measures the page).
  EstateSpec moonshot{500000, 1000, 10, 60, 65, 60, 0, 0, 1};
  DiscoverySpec discovery;
  /// The moonshot's devices read from five Administration Servers of about 100 000 each (the
  /// issue of the half-million agents): per-server discovery figures, memory through a refresh.
  DiscoverySpec moonshot_discovery{500000, 1000, 10, 60, 120, 65, 20, 100, 5};
  DiscoveryLimitSpec discovery_limit;
};

constexpr std::uint16_t kTcpPort = 5432;  // database_tcp (engine postgresql)
constexpr std::uint16_t kTlsPort = 8080;  // web_console_tls
// Second octets inside 10.96.0.0/12, which the estate's namespace answers for. bench.sh's
// nftables rules name the last three: keep them in step.
constexpr int kServerOctet = 100;             // administration servers
constexpr int kDistributionPointOctet = 101;  // distribution points
constexpr int kTcpOctet = 102;                // answering targets of the tcp scenarios
constexpr int kTlsOctet = 103;                // targets of the tls scenarios
constexpr int kRefusedTcpOctet = 106;         // TCP answered by RST: no listener
constexpr int kDroppedTcpOctet = 107;         // every packet dropped: a host that is off
constexpr int kKscOctet = 109;                // the discovery scenario's KSC OpenAPI
// Agents, 65 024 to an octet, in this order: answering ones (455 168 at most; the 100 000-agent
// estate fills 104 and part of 105), and ones whose UDP ports answer with ICMP port unreachable
// (130 048 at most). The moonshot's 500 000 agents need them all; no agent may fall in an octet
// whose packets are dropped (107), or it would be silent instead of answering.
constexpr int kAgentOctets[] = {104, 105, 96, 97, 98, 99, 110};
constexpr int kRefusedAgentOctets[] = {108, 111};
constexpr std::uint16_t kKscPort = 23299;
// The estate's end of the veth (bench.sh), where the estate-names scenario's DNS server listens
// on port 53 and where bench.sh's resolv.conf for the prober's namespace points.
constexpr const char* kDnsServer = "10.95.255.2";
constexpr const char* kNameDomain = ".estate.test";

/// Shares of the tcp scenarios' targets that refuse and that drop.
constexpr double kRefusedShare = 0.05;
constexpr double kDroppedShare = 0.05;
/// Share of the estate's agents whose UDP ports are closed.
constexpr double kRefusedAgentShare = 0.20;
/// Prometheus scrapes kscprobe every 15 s, inside every measurement window.
constexpr double kScrapeEvery_s = 15;

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string format(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* f, ...) {
  char buffer[1024];
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

Clock::time_point after(Clock::time_point t, double seconds) {
  return t + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

/// 10.<first + i / 65024>.<(i / 254) % 256>.<i % 254 + 1>: host-like addresses (never .0/.255).
std::string host_address(int first_octet, int i) {
  return format("10.%d.%d.%d", first_octet + i / (254 * 256), (i / 254) % 256, i % 254 + 1);
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

/// Sleeps until `until` in small steps; false as soon as the child has exited.
bool sleep_until_while_running(ChildProcess& child, Clock::time_point until) {
  while (Clock::now() < until) {
    if (!child.running()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(50ms, until - Clock::now()));
  }
  return child.running();
}

bool sleep_while_running(ChildProcess& child, double seconds) {
  return sleep_until_while_running(child, after(Clock::now(), seconds));
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

/// Runs `f` with this thread in the network namespace at `path`, then returns to the namespace
/// it was in. Sockets made meanwhile stay in `path`'s namespace for good, and so do the threads
/// started meanwhile: that is how the estate lives in its own namespace inside this process.
void in_netns(const std::string& path, const std::function<void()>& f) {
  int back = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int there = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (back < 0 || there < 0 || ::setns(there, CLONE_NEWNET) != 0) {
    std::string why = std::strerror(errno);
    if (back >= 0) ::close(back);
    if (there >= 0) ::close(there);
    throw std::runtime_error("cannot enter network namespace " + path + ": " + why);
  }
  ::close(there);
  try {
    f();
  } catch (...) {
    ::setns(back, CLONE_NEWNET);
    ::close(back);
    throw;
  }
  if (::setns(back, CLONE_NEWNET) != 0)
    throw std::runtime_error("cannot return to the prober's network namespace");
  ::close(back);
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

void add_load(JsonObject& o, const OtherLoad& load) {
  o.num("bench_cores", load.self).num("other_cores", load.cores).num("steal_cores", load.steal);
}

/// VmRSS of a process every 200 ms on a thread of its own: the peak through a window, not one
/// reading at its end.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), thread_([this] { loop(); }) {}
  ~RssSampler() { stop(); }
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;
  void stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  double peak_mb() const { return static_cast<double>(peak_kib_.load()) / 1024; }
  long samples() const { return samples_.load(); }
  /// The peak since the last call (or the start), and a new span from now.
  double take_span_peak_mb() { return static_cast<double>(span_peak_kib_.exchange(0)) / 1024; }

 private:
  void loop() {
    while (!done_) {
      long rss = read_usage(pid_).rss_kib;
      if (rss > 0) {
        peak_kib_ = std::max(peak_kib_.load(), rss);
        long span = span_peak_kib_.load();
        while (rss > span && !span_peak_kib_.compare_exchange_weak(span, rss)) {
        }
        ++samples_;
      }
      for (int i = 0; i < 20 && !done_; ++i) std::this_thread::sleep_for(10ms);
    }
  }
  pid_t pid_;
  std::atomic<bool> done_{false};
  std::atomic<long> peak_kib_{0};
  std::atomic<long> span_peak_kib_{0};
  std::atomic<long> samples_{0};
  std::thread thread_;
};

/// The addresses of a rate scenario, the same for every prober: tls all answer; tcp has
/// kRefusedShare refusing and kDroppedShare dropping, spread evenly through the list.
std::vector<std::string> rate_targets(const RateSpec& spec) {
  std::vector<std::string> out;
  const int n = spec.targets();
  const int refused = spec.tls ? 0 : static_cast<int>(std::lround(n * kRefusedShare));
  const int dropped = spec.tls ? 0 : static_cast<int>(std::lround(n * kDroppedShare));
  int r = 0, d = 0, ok = 0;
  for (int i = 0; i < n; ++i) {
    // Bresenham-like: the i-th target refuses when the refused count falls behind its share.
    if (r < refused && static_cast<long>(r) * n <= static_cast<long>(i) * refused) {
      out.push_back(host_address(kRefusedTcpOctet, r++));
    } else if (d < dropped && static_cast<long>(d) * n <= static_cast<long>(i) * dropped) {
      out.push_back(host_address(kDroppedTcpOctet, d++));
    } else {
      out.push_back(host_address(spec.tls ? kTlsOctet : kTcpOctet, ok++));
    }
  }
  return out;
}

// Timeout of a check at this interval: 5 s (the default) when it fits, else half the interval,
// which is also what blackbox_exporter gets (the scrape timeout minus its 0.5 s margin at 1 s).
std::string timeout_for(int interval_s) {
  return interval_s > 5 ? std::string() : std::to_string(interval_s * 500) + "ms";
}

double timeout_seconds(int interval_s) { return interval_s > 5 ? 5.0 : interval_s * 0.5; }

std::string daemon_section(const Options& options, int interval_s,
                           const std::vector<std::string>& extra = {}) {
  std::string out = "[daemon]\ninterval = \"" + std::to_string(interval_s) + "s\"\n";
  std::string timeout = timeout_for(interval_s);
  if (!timeout.empty()) out += "timeout = \"" + timeout + "\"\n";
  for (const auto& line : extra) out += line + "\n";
  for (const auto& line : options.daemon_options) out += line + "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// The floor: non-blocking connects to the scenario's targets at its rate, each closed as soon
// as it completes (or is refused) or when the probes' timeout runs out, on one epoll loop; CPU
// of that thread only. It does what any prober must do for a TCP check and nothing more. It is
// paced like kscprobe: connects due within one step of a grid (kscprobe's wake grid, 10 ms)
// start together in one wake-up; --floor-grid-ms=0 wakes for each connect instead.

struct FloorResult {
  long attempts = 0;
  long succeeded = 0;
  long refused = 0;
  long timed_out = 0;
  long other = 0;
  double cpu_s = 0;
  double wall_s = 0;
};

FloorResult measure_floor(const std::vector<std::string>& targets, std::uint16_t port, double rate,
                          double seconds, double timeout_s, int grid_ms) {
  std::vector<sockaddr_in> peers(targets.size());
  for (std::size_t i = 0; i < peers.size(); ++i) {
    peers[i].sin_family = AF_INET;
    peers[i].sin_port = htons(port);
    ::inet_pton(AF_INET, targets[i].c_str(), &peers[i].sin_addr);
  }
  FloorResult r;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0 || peers.empty()) return r;
  // Connects in flight, oldest first (one timeout for all), and which descriptor is whose:
  // a descriptor closed on completion may be reused by a later connect.
  struct Pending {
    int fd;
    std::uint64_t serial;
    Clock::time_point deadline;
  };
  std::deque<Pending> pending;
  std::vector<std::uint64_t> live;  // by descriptor: serial of its connect, 0 when closed
  std::uint64_t serial = 0;
  auto finish = [&](int fd, int error) {
    live[static_cast<std::size_t>(fd)] = 0;
    ::close(fd);
    if (error == 0) {
      ++r.succeeded;
    } else if (error == ECONNREFUSED) {
      ++r.refused;
    } else if (error == ETIMEDOUT) {
      ++r.timed_out;
    } else {
      ++r.other;
    }
  };
  const long total = std::lround(rate * seconds);
  const auto timeout =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  const auto start = Clock::now();
  const double cpu0 = kscprobe::platform::thread_cpu_seconds();
  epoll_event events[256];
  long next = 0;
  // When the i-th connect starts: its due time, rounded up to the grid.
  const double grid_s = grid_ms / 1000.0;
  auto due = [&](long i) {
    double t = static_cast<double>(i) / rate;
    if (grid_s > 0) t = std::ceil(t / grid_s - 1e-9) * grid_s;
    return after(start, t);
  };
  // Bounded: the last connect is due after `seconds`, the last timeout one timeout later.
  const auto hard_end = after(start, seconds + timeout_s + 5);
  while (Clock::now() < hard_end) {
    auto now = Clock::now();
    for (; next < total && due(next) <= now; ++next) {
      ++r.attempts;
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        ++r.other;
        continue;
      }
      if (static_cast<std::size_t>(fd) >= live.size())
        live.resize(static_cast<std::size_t>(fd) + 1024);
      live[static_cast<std::size_t>(fd)] = ++serial;
      const auto& peer = peers[static_cast<std::size_t>(next) % peers.size()];
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&peer), sizeof peer) == 0) {
        finish(fd, 0);
      } else if (errno != EINPROGRESS) {
        finish(fd, errno);
      } else {
        epoll_event e{};
        e.events = EPOLLOUT;
        e.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        pending.push_back({fd, serial, now + timeout});
      }
    }
    while (!pending.empty() && pending.front().deadline <= now) {
      Pending p = pending.front();
      pending.pop_front();
      if (live[static_cast<std::size_t>(p.fd)] == p.serial) finish(p.fd, ETIMEDOUT);
    }
    while (!pending.empty() &&
           live[static_cast<std::size_t>(pending.front().fd)] != pending.front().serial)
      pending.pop_front();
    if (next >= total && pending.empty()) break;
    auto wake = hard_end;
    if (next < total) wake = std::min(wake, due(next));
    if (!pending.empty()) wake = std::min(wake, pending.front().deadline);
    // Millisecond resolution: a connect is at most 1 ms late, as on kscprobe's own loop.
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now()).count();
    int n = ::epoll_wait(ep, events, 256, static_cast<int>(std::max<long long>(0, wait)));
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      int error = 0;
      socklen_t len = sizeof error;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
      finish(fd, error);  // close() also takes it off the epoll set
    }
  }
  for (const auto& p : pending)
    if (live[static_cast<std::size_t>(p.fd)] == p.serial) finish(p.fd, ETIMEDOUT);
  r.cpu_s = kscprobe::platform::thread_cpu_seconds() - cpu0;
  r.wall_s = since(start);
  ::close(ep);
  return r;
}

// ---------------------------------------------------------------------------------------------
// kscprobe as a child process

struct Daemon {
  std::unique_ptr<ChildProcess> process;
  std::uint16_t port = 0;
  double ready_s = 0;
  std::string error;
};

Daemon start_kscprobe(const Options& options, const std::string& config, const std::string& log,
                      double ready_timeout_s) {
  Daemon d;
  std::vector<std::string> argv = {options.kscprobe, "--config.file=" + config,
                                   "--web.listen-address=127.0.0.1:0"};
  argv.insert(argv.end(), options.kscprobe_args.begin(), options.kscprobe_args.end());
  auto start = Clock::now();
  d.process = std::make_unique<ChildProcess>(argv, logged_to(log));
  // The bound port is in the start-up line: listen_address=127.0.0.1:PORT (logfmt or JSON).
  while (since(start) < ready_timeout_s && d.port == 0) {
    if (!d.process->running()) break;
    std::string text = d.process->out();
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
    d.error = (how.empty() ? "kscprobe did not become ready in time:"
                           : "kscprobe " + how + " before it was ready:") +
              log_tail(d.process->out(), 6);
    d.process->stop();
    return d;
  }
  d.ready_s = since(start);
  return d;
}

/// One GET with the process's CPU around it.
struct Fetch {
  HttpReply reply;
  std::string text;  // uncompressed
  Clock::time_point start;
  double cpu_s = 0;  // the daemon's CPU during the request (render, serialisation, probing)
};

Fetch fetch(pid_t pid, std::uint16_t port, const std::string& path, bool gzip) {
  Fetch s;
  ProcUsage before = read_usage(pid);
  s.start = Clock::now();
  s.reply = http_get("127.0.0.1", port, path, gzip, 300s);
  s.cpu_s = cpu_delta(before, read_usage(pid));
  s.text = s.reply.header("Content-Encoding") == "gzip" ? gunzip(s.reply.body) : s.reply.body;
  return s;
}

/// How Prometheus reads kscprobe: /metrics with Accept-Encoding: gzip.
Fetch scrape(pid_t pid, std::uint16_t port) { return fetch(pid, port, "/metrics", true); }

/// A measurement window of a kscprobe child: its CPU and memory, the machine's load and what the
/// estate saw, with a gzip scrape at its start and every 15 s inside it (counted in its CPU),
/// and one more right after it (not counted) to read the counters at its end.
struct Window {
  bool alive = false;
  Fetch first, last;
  int scrapes = 0;  // inside the window
  double scrape_cpu_s = 0;
  double scrape_gzip_bytes = 0;  // the last one inside the window
  ProcUsage u0, u1;
  LoadSample l0, l1;
  Clock::time_point t0, t1;
  EstateCounters e0, e1;
  double seconds() const { return between(t0, t1); }
  double cpu() const { return cpu_delta(u0, u1); }
  /// Delta of a counter (all label sets holding `with`) between the first and last scrapes.
  double delta(std::string_view name, const Labels& with = {}) const {
    return sum_samples(last.text, name, with).sum - sum_samples(first.text, name, with).sum;
  }
  double counter_seconds() const { return between(first.start, last.start); }
};

Window measure_window(ChildProcess& process, std::uint16_t port, BenchEstate& estate,
                      double seconds) {
  Window w;
  const pid_t pid = process.pid();
  w.u0 = read_usage(pid);
  w.l0 = sample_load();
  w.t0 = Clock::now();
  w.e0 = estate.counters();
  const auto end = after(w.t0, seconds);
  w.alive = true;
  for (int i = 0; w.alive && after(w.t0, i * kScrapeEvery_s) < end; ++i) {
    w.alive = sleep_until_while_running(process, after(w.t0, i * kScrapeEvery_s));
    if (!w.alive) break;
    Fetch s = scrape(pid, port);
    ++w.scrapes;
    w.scrape_cpu_s += s.cpu_s;
    w.scrape_gzip_bytes = static_cast<double>(s.reply.body.size());
    if (i == 0) w.first = std::move(s);
  }
  w.alive = w.alive && sleep_until_while_running(process, end);
  w.u1 = read_usage(pid);
  w.l1 = sample_load();
  w.t1 = Clock::now();
  w.e1 = estate.counters();
  if (w.alive) w.last = scrape(pid, port);
  return w;
}

// ---------------------------------------------------------------------------------------------
// Results of one prober over one window

struct ProberResult {
  bool ok = false;
  std::string error;
  double window_s = 0;
  double attempts_per_s = 0;  // probes that ended in the window, whatever their outcome
  double succeeded_per_s = 0;
  double refused_per_s = NAN;  // where the prober tells refused and timed out apart
  double timed_out_per_s = NAN;
  double failed_per_s = 0;
  double cpu_s = 0;
  double cpu_ms_per_probe = NAN;  // CPU ÷ probes that ended: the failures cost work too
  double skipped = NAN;
  double peak_rss_mb = NAN;
  double hwm_mb = NAN;
  double estate_per_s = NAN;  // accepts (tcp) or handshakes (tls) the estate saw a second
  double resumed_share = NAN;
  int scrapes = -1;
  double scrape_cpu_s = NAN;
  OtherLoad other;

  JsonObject json() const {
    JsonObject o;
    o.flag("ok", ok);
    if (!ok) return o.str("error", error);
    o.num("window_s", window_s)
        .num("probes_per_s", attempts_per_s)
        .num("succeeded_per_s", succeeded_per_s)
        .num("refused_per_s", refused_per_s)
        .num("timed_out_per_s", timed_out_per_s)
        .num("failed_per_s", failed_per_s)
        .num("cpu_s", cpu_s)
        .num("cpu_percent", window_s > 0 ? 100 * cpu_s / window_s : NAN)
        .num("cpu_ms_per_probe", cpu_ms_per_probe)
        .num("skipped", skipped)
        .num("peak_rss_mb", peak_rss_mb)
        .num("vm_hwm_mb", hwm_mb)
        .num("estate_per_s", estate_per_s)
        .num("resumed_share", resumed_share);
    if (scrapes >= 0) o.num("scrapes_in_window", scrapes).num("scrape_cpu_s", scrape_cpu_s);
    add_load(o, other);
    return o;
  }
};

void print_result(const char* who, const ProberResult& r) {
  if (!r.ok) {
    std::printf("  %s: FAILED: %s\n", who, r.error.c_str());
  } else {
    std::printf(
        "  %s: %.1f probes/s ended (%.1f ok, %.1f failed), %.3f s CPU in %.1f s = %.1f %% of a "
        "core, %.4f ms CPU/probe, peak RSS %.1f MB%s\n",  // RSS nan: not a process of its own
        who, r.attempts_per_s, r.succeeded_per_s, r.failed_per_s, r.cpu_s, r.window_s,
        100 * r.cpu_s / r.window_s, r.cpu_ms_per_probe, r.peak_rss_mb,
        r.scrapes >= 0
            ? format(", %d gzip scrapes in the window (%.3f s CPU)", r.scrapes, r.scrape_cpu_s)
                  .c_str()
            : "");
    std::printf("    (other processes %.2f cores, this benchmark %.2f, steal %.2f)\n",
                r.other.cores, r.other.self, r.other.steal);
  }
  std::fflush(stdout);
}

void count_estate(ProberResult& r, bool tls, const EstateCounters& e0, const EstateCounters& e1) {
  const auto seen = tls ? e1.tls_handshakes - e0.tls_handshakes : e1.tcp_accepted - e0.tcp_accepted;
  r.estate_per_s = static_cast<double>(seen) / r.window_s;
  if (tls && seen > 0)
    r.resumed_share =
        static_cast<double>(e1.tls_resumed - e0.tls_resumed) / static_cast<double>(seen);
}

// ---------------------------------------------------------------------------------------------
// kscprobe at a rate

ProberResult kscprobe_rate(const Options& options, const RateSpec& spec,
                           const std::vector<std::string>& targets, BenchEstate& estate,
                           const std::string& dir, bool full_handshakes) {
  ProberResult r;
  std::string list;
  for (const auto& t : targets) list += (list.empty() ? "\"" : ", \"") + t + "\"";
  // One check per target: role database (engine postgresql) has only database_tcp (5432);
  // role web_console has only web_console_tls (8080).
  std::string labels =
      spec.tls ? R"({"role": "web_console"})" : R"({"role": "database", "engine": "postgresql"})";
  write_file(dir + "/targets.json",
             "[{\"targets\": [" + list + "], \"labels\": " + labels + "}]\n");
  std::vector<std::string> extra;
  if (full_handshakes) extra.push_back("tls_full_handshake_interval = \"0s\"");
  const std::string name = full_handshakes ? "kscprobe-full" : "kscprobe";
  write_file(dir + "/" + name + ".toml", "target_files = [\"targets.json\"]\n" +
                                             daemon_section(options, spec.interval_s, extra) +
                                             options.config_append);
  Daemon d = start_kscprobe(options, dir + "/" + name + ".toml", dir + "/" + name + ".log", 60);
  if (!d.error.empty()) {
    r.error = d.error;
    return r;
  }
  RssSampler rss(d.process->pid());
  if (!sleep_while_running(*d.process, spec.warmup_s)) {
    r.error = "kscprobe " + d.process->exit_description() +
              " during warm-up:" + log_tail(d.process->out(), 6);
    return r;
  }
  Window w = measure_window(*d.process, d.port, estate, spec.window_s);
  rss.stop();
  ProcUsage end = read_usage(d.process->pid());
  d.process->stop();
  if (!w.alive) {
    r.error = "kscprobe " + d.process->exit_description() +
              " during the window:" + log_tail(d.process->out(), 6);
    return r;
  }
  if (w.first.reply.status != 200 || w.last.reply.status != 200) {
    r.error = "GET /metrics failed: " + w.first.reply.error + " " + w.last.reply.error;
    return r;
  }
  r.window_s = w.seconds();
  r.cpu_s = w.cpu();
  r.other = other_load(w.l0, w.l1, r.cpu_s, r.window_s);
  // Counters are read when a render starts, i.e. when its request arrives.
  const double span = w.counter_seconds();
  const double probes = w.delta("kscprobe_probes_total");
  const double failures = w.delta("kscprobe_probe_failures_total");
  r.attempts_per_s = probes / span;
  r.failed_per_s = failures / span;
  r.succeeded_per_s = (probes - failures) / span;
  r.refused_per_s = w.delta("kscprobe_probe_failures_total", {{"reason", "refused"}}) / span;
  r.timed_out_per_s = w.delta("kscprobe_probe_failures_total", {{"reason", "timeout"}}) / span;
  if (r.attempts_per_s > 0) r.cpu_ms_per_probe = r.cpu_s / r.window_s / r.attempts_per_s * 1000;
  r.skipped = w.delta("kscprobe_scheduler_skipped_total");
  r.peak_rss_mb = rss.peak_mb();
  r.hwm_mb = static_cast<double>(end.hwm_kib) / 1024;
  r.scrapes = w.scrapes;
  r.scrape_cpu_s = w.scrape_cpu_s;
  count_estate(r, spec.tls, w.e0, w.e1);
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

ProberResult blackbox_rate(const Options& options, const RateSpec& spec,
                           const std::vector<std::string>& targets, BenchEstate& estate,
                           const std::string& dir) {
  ProberResult r;
  write_file(dir + "/blackbox.yml", kBlackboxConfig);
  std::uint16_t port = free_port();
  ChildProcess bb({options.blackbox, "--config.file=" + dir + "/blackbox.yml",
                   "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                  logged_to(dir + "/blackbox.log"));
  if (!wait_http_ok(bb, port, "/-/healthy", 30)) {
    r.error = "blackbox_exporter did not start:" + log_tail(bb.out(), 6);
    return r;
  }
  RssSampler rss(bb.pid());
  DriverOptions d;
  d.port = port;
  d.interval = std::chrono::seconds(spec.interval_s);
  // Prometheus's default scrape timeout is 10 s, and never more than the interval; the exporter
  // takes 0.5 s off it for its own probe timeout (0.5 s at 1 s, its module's 5 s at 10 s).
  d.scrape_timeout = std::min<std::chrono::milliseconds>(d.interval, 10s);
  const char* module = spec.tls ? "tls_connect" : "tcp_connect";
  std::uint16_t target_port = spec.tls ? kTlsPort : kTcpPort;
  for (const auto& t : targets)
    d.paths.push_back(format("/probe?module=%s&target=%s:%u", module, t.c_str(),
                             static_cast<unsigned>(target_port)));
  ScrapeDriver driver(d);
  driver.start();
  bool alive = sleep_while_running(bb, spec.warmup_s);
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
  rss.stop();
  bb.stop();
  if (!alive) {
    r.error = "blackbox_exporter " + bb.exit_description() + ":" + log_tail(bb.out(), 6);
    return r;
  }
  r.window_s = between(t0, t1);
  r.cpu_s = cpu_delta(u0, u1);
  r.other = other_load(l0, l1, r.cpu_s, r.window_s);
  const double succeeded = static_cast<double>(c1.succeeded - c0.succeeded);
  const double failed = static_cast<double>(c1.probe_failed - c0.probe_failed);
  // Probes that ended: every answer, success or not. Requests that got no answer in time are
  // failures too (they are the ones the exporter could not serve), but they ended no probe.
  r.attempts_per_s = (succeeded + failed) / r.window_s;
  r.succeeded_per_s = succeeded / r.window_s;
  r.failed_per_s = (failed + static_cast<double>(c1.http_failed - c0.http_failed)) / r.window_s;
  if (r.attempts_per_s > 0) r.cpu_ms_per_probe = r.cpu_s / (succeeded + failed) * 1000;
  r.skipped = static_cast<double>(c1.skipped - c0.skipped);
  r.peak_rss_mb = rss.peak_mb();
  r.hwm_mb = static_cast<double>(u1.hwm_kib) / 1024;
  count_estate(r, spec.tls, e0, e1);
  r.ok = true;
  return r;
}

// ---------------------------------------------------------------------------------------------
// openssl s_time -new: full handshakes back to back, as cheap as a TLS client gets

ProberResult openssl_s_time(const Options& options, const std::vector<std::string>& targets,
                            BenchEstate& estate, const std::string& dir, double seconds) {
  ProberResult r;
  // A few of the scenario's targets in turn, one s_time run each (it takes one host).
  const int runs = std::max(1, std::min<int>(4, static_cast<int>(targets.size())));
  const int each = std::max(1, static_cast<int>(std::lround(seconds / runs)));
  rusage before{}, later{};
  ::getrusage(RUSAGE_CHILDREN, &before);
  LoadSample l0 = sample_load();
  EstateCounters e0 = estate.counters();
  auto t0 = Clock::now();
  long handshakes = 0;
  for (int i = 0; i < runs; ++i) {
    const std::string& host = targets[static_cast<std::size_t>(i) * targets.size() / runs];
    const std::string log = dir + format("/s_time-%d.log", i);
    ChildProcess p({options.openssl, "s_time", "-connect", host + ":" + std::to_string(kTlsPort),
                    "-new", "-time", std::to_string(each)},
                   logged_to(log));
    if (sleep_while_running(p, each + 30)) {
      p.stop();
      r.error = "openssl s_time did not finish";
      return r;
    }
    // "N connections in T.TTs; ..." (user time) and "N connections in T real seconds, ...".
    std::string text = read_text(log);
    auto at = text.find(" connections in ");
    if (at == std::string::npos) {
      r.error = "openssl s_time printed no count:" + log_tail(text, 4);
      return r;
    }
    auto start = text.rfind('\n', at);
    handshakes +=
        std::strtol(text.c_str() + (start == std::string::npos ? 0 : start + 1), nullptr, 10);
  }
  auto t1 = Clock::now();
  ::getrusage(RUSAGE_CHILDREN, &later);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  r.cpu_s =
      secs(later.ru_utime) - secs(before.ru_utime) + secs(later.ru_stime) - secs(before.ru_stime);
  r.window_s = between(t0, t1);
  r.other = other_load(l0, sample_load(), r.cpu_s, r.window_s);
  r.attempts_per_s = static_cast<double>(handshakes) / r.window_s;
  r.succeeded_per_s = r.attempts_per_s;
  if (handshakes > 0) r.cpu_ms_per_probe = r.cpu_s / static_cast<double>(handshakes) * 1000;
  count_estate(r, true, e0, estate.counters());
  r.ok = handshakes > 0;
  if (!r.ok) r.error = "no handshakes";
  return r;
}

// ---------------------------------------------------------------------------------------------
// The rate scenarios

JsonObject run_rate(const Options& options, const RateSpec& spec, BenchEstate& estate) {
  std::string dir = options.workdir + "/" + spec.name;
  std::filesystem::create_directories(dir);
  const std::vector<std::string> targets = rate_targets(spec);
  const int refused =
      static_cast<int>(std::count_if(targets.begin(), targets.end(), [](const std::string& t) {
        return t.rfind(format("10.%d.", kRefusedTcpOctet), 0) == 0;
      }));
  const int dropped =
      static_cast<int>(std::count_if(targets.begin(), targets.end(), [](const std::string& t) {
        return t.rfind(format("10.%d.", kDroppedTcpOctet), 0) == 0;
      }));
  std::printf(
      "\n== %s: %d targets × 1 %s check @ %d s = %d/s (%d refuse, %d drop), timeout %.1f s; "
      "window %.0f s after %.0f s warm-up\n",
      spec.name.c_str(), spec.targets(), spec.tls ? "TLS" : "TCP", spec.interval_s, spec.rate,
      refused, dropped, timeout_seconds(spec.interval_s), spec.window_s, spec.warmup_s);
  std::fflush(stdout);
  JsonObject o;
  o.str("name", spec.name)
      .str("transport", spec.tls ? "tls" : "tcp")
      .num("rate_per_s", spec.rate)
      .num("targets", spec.targets())
      .num("refused_targets", refused)
      .num("dropped_targets", dropped)
      .num("interval_s", spec.interval_s)
      .num("timeout_s", timeout_seconds(spec.interval_s))
      .num("window_s", spec.window_s)
      .num("warmup_s", spec.warmup_s);
  if (!spec.tls) {
    // The floor over the same targets at the same rate, just before kscprobe runs at it.
    LoadSample l0 = sample_load();
    FloorResult f = measure_floor(targets, kTcpPort, spec.rate, std::min(spec.window_s, 20.0),
                                  timeout_seconds(spec.interval_s), options.floor_grid_ms);
    ProberResult floor;
    floor.other = other_load(l0, sample_load(), 0, f.wall_s);
    floor.ok = f.attempts > 0;
    // Rates over the span the connects were paced over (the last timeouts run a little beyond).
    floor.window_s = std::min(spec.window_s, 20.0);
    floor.cpu_s = f.cpu_s;
    floor.attempts_per_s = static_cast<double>(f.attempts) / floor.window_s;
    floor.succeeded_per_s = static_cast<double>(f.succeeded) / floor.window_s;
    floor.refused_per_s = static_cast<double>(f.refused) / floor.window_s;
    floor.timed_out_per_s = static_cast<double>(f.timed_out) / floor.window_s;
    floor.failed_per_s = static_cast<double>(f.attempts - f.succeeded) / floor.window_s;
    if (f.attempts > 0) floor.cpu_ms_per_probe = f.cpu_s / static_cast<double>(f.attempts) * 1000;
    std::printf("  floor: %ld connects: %ld ok, %ld refused, %ld timed out, %ld other\n",
                f.attempts, f.succeeded, f.refused, f.timed_out, f.other);
    print_result("floor", floor);
    o.obj("floor", floor.json().num("grid_ms", options.floor_grid_ms));
  }
  ProberResult k = kscprobe_rate(options, spec, targets, estate, dir, false);
  print_result(spec.tls ? "kscprobe (resumed)" : "kscprobe", k);
  o.obj("kscprobe", k.json());
  if (spec.tls) {
    ProberResult full = kscprobe_rate(options, spec, targets, estate, dir, true);
    print_result("kscprobe (full handshakes)", full);
    o.obj("kscprobe_full", full.json());
  }
  ProberResult b = blackbox_rate(options, spec, targets, estate, dir);
  print_result("blackbox_exporter", b);
  o.obj("blackbox", b.json());
  if (spec.tls) {
    ProberResult s = openssl_s_time(options, targets, estate, dir, std::min(spec.window_s, 20.0));
    print_result("openssl s_time -new", s);
    o.obj("openssl_s_time", s.json());
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The estate scenario, then the status page at that size

struct Lag {
  std::optional<double> p50, p99, p50_bound, p99_bound;
  std::optional<double> max_bound;  // upper bound of the bucket of the largest lag
  double mean = NAN;
  double count = 0;
};

Lag lag_between(const std::string& earlier, const std::string& later) {
  Lag l;
  Buckets b = bucket_delta(histogram_buckets(earlier, "kscprobe_scheduler_lag_seconds"),
                           histogram_buckets(later, "kscprobe_scheduler_lag_seconds"));
  l.p50 = histogram_quantile(0.5, b);
  l.p99 = histogram_quantile(0.99, b);
  l.p50_bound = quantile_bucket_bound(0.5, b);
  l.p99_bound = quantile_bucket_bound(0.99, b);
  l.max_bound = quantile_bucket_bound(1.0, b);
  l.count = sum_samples(later, "kscprobe_scheduler_lag_seconds_count").sum -
            sum_samples(earlier, "kscprobe_scheduler_lag_seconds_count").sum;
  if (l.count > 0)
    l.mean = (sum_samples(later, "kscprobe_scheduler_lag_seconds_sum").sum -
              sum_samples(earlier, "kscprobe_scheduler_lag_seconds_sum").sum) /
             l.count;
  return l;
}

/// Quantiles are interpolated inside the bucket that holds them (as PromQL does); the bucket's
/// upper bound says how fine that reading is, the mean is exact.
JsonObject lag_json(const Lag& l) {
  JsonObject o;
  auto v = [](const std::optional<double>& x) { return x ? *x * 1000 : NAN; };
  return o.num("p50_ms", v(l.p50))
      .num("p50_bucket_le_ms", v(l.p50_bound))
      .num("p99_ms", v(l.p99))
      .num("p99_bucket_le_ms", v(l.p99_bound))
      .num("max_bucket_le_ms", v(l.max_bound))
      .num("mean_ms", l.mean * 1000)
      .num("starts", l.count);
}

std::string lag_text(const Lag& l) {
  auto ms = [](const std::optional<double>& x) { return x ? format("%.1f", *x * 1000) : "n/a"; };
  return format(
      "p50 %s ms (≤ %s bucket), p99 %s ms (≤ %s bucket), largest ≤ %s ms, mean %.2f ms over %.0f "
      "starts",
      ms(l.p50).c_str(), ms(l.p50_bound).c_str(), ms(l.p99).c_str(), ms(l.p99_bound).c_str(),
      ms(l.max_bound).c_str(), l.mean * 1000, l.count);
}

/// `count` GETs of `path`, one every `pace_s` (or right after the previous one when it took
/// longer): size, wall time and the daemon's CPU per fetch, beyond what probing costs meanwhile.
JsonObject fetch_repeatedly(Daemon& d, const std::string& path, int count, double pace_s,
                            double probing_cores) {
  const pid_t pid = d.process->pid();
  Fetch before = scrape(pid, d.port);
  ProcUsage u0 = read_usage(pid);
  const auto t0 = Clock::now();
  double bytes = 0, wall_max = 0, cpu_max = 0;
  std::vector<double> cpu_per_fetch;
  int ok = 0, statuses = 0;
  std::string content_type;
  for (int i = 0; i < count && d.process->running(); ++i) {
    sleep_until_while_running(*d.process, after(t0, i * pace_s));
    Fetch f = fetch(pid, d.port, path, false);
    statuses = f.reply.status;
    if (f.reply.status != 200) continue;
    ++ok;
    bytes = static_cast<double>(f.reply.body.size());
    wall_max = std::max(wall_max, f.reply.seconds);
    cpu_max = std::max(cpu_max, f.cpu_s);
    cpu_per_fetch.push_back(f.cpu_s);
  }
  const double span = since(t0);
  const double cpu = cpu_delta(u0, read_usage(pid));
  Fetch after_fetches = scrape(pid, d.port);
  // The daemon's CPU across each fetch, median: the render plus what probing cost during that
  // fetch (a few milliseconds), so an upper bound of the render's cost. The window's total, net
  // of probing at the window's rate, is printed beside it (it can round to 0 in the noise).
  double per_render = NAN;
  if (!cpu_per_fetch.empty()) {
    std::sort(cpu_per_fetch.begin(), cpu_per_fetch.end());
    per_render = cpu_per_fetch[cpu_per_fetch.size() / 2];
  }
  const double net_per_render = ok > 0 ? std::max(0.0, cpu - probing_cores * span) / ok : NAN;
  Lag lag = lag_between(before.text, after_fetches.text);
  std::printf(
      "  GET %s × %d (%d answered 200, last status %d): %.0f bytes, CPU per fetch %.1f ms "
      "(median, probing during the fetch included; %.1f ms net of probing over the run; largest "
      "%.1f ms, %.2f s wall); lag meanwhile %s\n",
      path.c_str(), count, ok, statuses, bytes, per_render * 1000, net_per_render * 1000,
      cpu_max * 1000, wall_max, lag_text(lag).c_str());
  std::fflush(stdout);
  JsonObject o;
  o.str("path", path)
      .num("fetches", count)
      .num("ok", ok)
      .num("last_status", statuses)
      .num("bytes", bytes)
      .num("cpu_ms_per_render", per_render * 1000)
      .num("cpu_ms_per_render_net", net_per_render * 1000)
      .num("cpu_ms_max_fetch", cpu_max * 1000)
      .num("wall_s_max", wall_max)
      .num("seconds", span)
      .obj("lag", lag_json(lag));
  return o;
}

// The estate's agents, the same in the estate scenario (target files) and the discovery
// scenario (KSC): a fifth of them (every fifth) refuse UDP, the rest answer; each is in one of
// four administration groups and, in the target files, one of 50 sites.
const char* const kAgentGroups[] = {"Workstations", "Laptops", "Servers", "Kiosks"};
constexpr int kSites = 50;

int refused_agent_count(int agents) {
  return static_cast<int>(std::lround(agents * kRefusedAgentShare));
}
int agent_group(int i) { return (i / kSites) % 4; }

/// The `i`th address of the octets `octets` (65 024 hosts to an octet, as host_address).
template <std::size_t N>
std::string host_in(const int (&octets)[N], int i) {
  constexpr int kPerOctet = 254 * 256;
  const auto k = static_cast<std::size_t>(i / kPerOctet);
  if (k >= N) throw std::runtime_error(format("more agents than the estate has addresses for"));
  return host_address(octets[k], i % kPerOctet);
}

/// The address of each agent, in order: refusing ones in kRefusedAgentOctets, the others in
/// kAgentOctets.
std::vector<std::string> agent_addresses(int agents, int refused_agents) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(agents));
  for (int i = 0, refused = 0, answering = 0; i < agents; ++i) {
    out.push_back(i % 5 == 0 && refused < refused_agents ? host_in(kRefusedAgentOctets, refused++)
                                                         : host_in(kAgentOctets, answering++));
  }
  return out;
}

/// The estate's Administration Servers as [[target]] tables, one per site in turn, at the given
/// addresses (or names).
std::string server_targets(const std::vector<std::string>& addresses) {
  std::string toml;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    toml += format(
        "\n[[target]]\nname = \"ksc-%02zu\"\nrole = \"server\"\naddress = \"%s\"\n"
        "labels = { site = \"site-%02zu\" }\n",
        i + 1, addresses[i].c_str(), i % kSites);
  }
  return toml;
}

std::vector<std::string> server_addresses(int servers) {
  std::vector<std::string> out;
  for (int i = 0; i < servers; ++i) out.push_back(host_address(kServerOctet, i));
  return out;
}

std::string server_targets(int servers) { return server_targets(server_addresses(servers)); }

/// Whether the resolv.conf this program sees (the prober's namespace's, from bench.sh) names the
/// estate's DNS server.
bool resolv_conf_names_estate_dns() {
  std::istringstream in(read_text("/etc/resolv.conf"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key, value;
    if (words >> key >> value && key == "nameserver") return value == kDnsServer;
  }
  return false;
}

/// Failed probes during the window by reason (the reasons seen at all).
JsonObject failures_by_reason(const Window& w, std::string* text) {
  JsonObject o;
  for (const char* reason : {"resolve", "refused", "timeout", "unreachable", "reset", "tls",
                             "http_status", "protocol"}) {
    const double n = w.delta("kscprobe_probe_failures_total", {{"reason", reason}});
    if (n <= 0) continue;
    o.num(reason, n);
    if (!text->empty()) *text += ", ";
    *text += format("%s %.0f", reason, n);
  }
  if (text->empty()) *text = "none";
  return o;
}

/// How the estate scenario runs: targets by address, by host name, or by address with the
/// textfile output on (the whole exposition written every 15 s while probing); the moonshot is
/// a larger estate by address.
enum class EstateWay : std::uint8_t { by_address, by_names, with_textfile, moonshot };

/// The estate from target files, its targets given by address or by host name.
JsonObject run_estate(const Options& run_options, const EstateSpec& spec, BenchEstate& estate,
                      EstateWay way) {
  const bool by_names = way == EstateWay::by_names;
  const bool textfile = way == EstateWay::with_textfile;
  const bool moonshot = way == EstateWay::moonshot;
  std::string dir = run_options.workdir + (by_names   ? "/estate-names"
                                           : textfile ? "/estate-textfile"
                                           : moonshot ? "/moonshot"
                                                      : "/estate");
  Options options = run_options;
  const std::string textfile_path = dir + "/kscprobe.prom";
  if (textfile) options.kscprobe_args.push_back("--write-textfile=" + textfile_path);
  std::filesystem::create_directories(dir);
  const int refused_agents = refused_agent_count(spec.agents);
  // Agents have two UDP checks each; every one of a refusing agent is refused.
  const int expected_refused_checks = 2 * refused_agents;
  std::printf(
      "\n== estate%s: %d agents (%d refuse UDP), %d DPs, %d servers @ %d s; window %.0f s after "
      "%.0f s warm-up\n",
      by_names   ? " by names"
      : textfile ? " with the textfile output"
      : moonshot ? " at five times the size (moonshot)"
                 : "",
      spec.agents, refused_agents, spec.distribution_points, spec.servers, spec.interval_s,
      spec.window_s, spec.warmup_s);
  std::fflush(stdout);
  JsonObject o;
  o.num("agents", spec.agents)
      .num("refused_agents", refused_agents)
      .num("distribution_points", spec.distribution_points)
      .num("servers", spec.servers)
      .num("interval_s", spec.interval_s)
      .num("window_s", spec.window_s)
      .num("warmup_s", spec.warmup_s);

  // The targets as the files give them: addresses, or names the DNS server answers with them.
  std::vector<std::string> agent_targets = agent_addresses(spec.agents, refused_agents);
  std::vector<std::string> dp_targets;
  for (int i = 0; i < spec.distribution_points; ++i)
    dp_targets.push_back(host_address(kDistributionPointOctet, i));
  std::vector<std::string> servers = server_addresses(spec.servers);
  std::unique_ptr<test::FakeDnsServer> dns;
  if (by_names) {
    if (!resolv_conf_names_estate_dns()) {
      std::string e = std::string("/etc/resolv.conf does not name the estate's DNS server ") +
                      kDnsServer + ": run the benchmark through scripts/bench.sh";
      std::printf("  %s\n", e.c_str());
      return o.flag("ok", false).str("error", e);
    }
    auto zone = std::make_shared<std::unordered_map<std::string, boost::asio::ip::address_v4>>();
    auto name = [&](const char* prefix, std::size_t i, std::string& target) {
      std::string n = format("%s%zu%s", prefix, i, kNameDomain);
      (*zone)[n] = boost::asio::ip::make_address_v4(target);
      target = n;
    };
    for (std::size_t i = 0; i < agent_targets.size(); ++i) name("a", i, agent_targets[i]);
    for (std::size_t i = 0; i < dp_targets.size(); ++i) name("dp", i, dp_targets[i]);
    for (std::size_t i = 0; i < servers.size(); ++i) name("ksc", i + 1, servers[i]);
    test::FakeDnsServer::Options dns_options;
    dns_options.delay = std::chrono::milliseconds(options.dns_delay_ms);
    dns_options.ttl = static_cast<std::uint32_t>(options.dns_ttl_s);
    dns_options.listen_address = boost::asio::ip::make_address_v4(kDnsServer);
    dns_options.listen_port = 53;
    dns_options.address_of =
        [zone](const std::string& n) -> std::optional<boost::asio::ip::address_v4> {
      auto it = zone->find(n);
      if (it == zone->end()) return std::nullopt;
      return it->second;
    };
    in_netns(options.estate_netns,
             [&] { dns = std::make_unique<test::FakeDnsServer>(std::move(dns_options)); });
    std::printf(
        "  DNS server in the estate's namespace on %s:53: %zu names (a<N>%s, dp<N>, ksc<N>), "
        "answers after %d ms, TTL %d s\n",
        kDnsServer, zone->size(), kNameDomain, options.dns_delay_ms, options.dns_ttl_s);
    std::fflush(stdout);
    o.num("names", static_cast<double>(zone->size()))
        .num("dns_delay_ms", options.dns_delay_ms)
        .num("dns_ttl_s", options.dns_ttl_s);
  }

  // Agents and distribution points in file_sd target files, with the labels a KSC export gives
  // (site, KSC administration group); servers as [[target]] tables. The refusing agents are
  // spread over the sites and groups like the others.
  std::map<std::pair<int, int>, std::string> agent_groups;
  for (int i = 0; i < spec.agents; ++i) {
    std::string& list = agent_groups[{i % kSites, agent_group(i)}];
    if (!list.empty()) list += ", ";
    list += "\"" + agent_targets[i] + "\"";
  }
  std::string agents = "[\n";
  for (const auto& [key, list] : agent_groups) {
    if (agents.size() > 2) agents += ",\n";
    agents += format(R"({"labels": {"role": "agent", "site": "site-%02d", "ksc_group": "%s"}, )",
                     key.first, kAgentGroups[key.second]) +
              "\"targets\": [" + list + "]}";
  }
  agents += "\n]\n";
  write_file(dir + "/agents.json", agents);
  std::map<int, std::string> dp_groups;
  for (int i = 0; i < spec.distribution_points; ++i) {
    std::string& list = dp_groups[i % kSites];
    if (!list.empty()) list += ", ";
    list += "\"" + dp_targets[i] + "\"";
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
                     daemon_section(options, spec.interval_s);
  toml += server_targets(servers);
  write_file(dir + "/kscprobe.toml", toml + options.config_append);

  Daemon d = start_kscprobe(options, dir + "/kscprobe.toml", dir + "/kscprobe.log", 180);
  if (!d.error.empty()) {
    std::printf("  kscprobe: FAILED: %s\n", d.error.c_str());
    return o.flag("ok", false).str("error", d.error);
  }
  const pid_t pid = d.process->pid();
  RssSampler rss(pid);
  std::printf("  kscprobe ready %.1f s after start (configuration and target files loaded)\n",
              d.ready_s);
  std::fflush(stdout);
  if (!sleep_while_running(*d.process, spec.warmup_s)) {
    std::string e = "kscprobe " + d.process->exit_description() +
                    " during warm-up:" + log_tail(d.process->out(), 6);
    std::printf("  %s\n", e.c_str());
    return o.flag("ok", false).str("error", e);
  }
  Window w = measure_window(*d.process, d.port, estate, spec.window_s);
  if (!w.alive || w.last.reply.status != 200) {
    std::string e = "kscprobe " + d.process->exit_description() + " during the window " +
                    w.last.reply.error + ":" + log_tail(d.process->out(), 6);
    std::printf("  %s\n", e.c_str());
    return o.flag("ok", false).str("error", e);
  }
  const double window = w.seconds();
  const double cpu = w.cpu();
  const std::string& end = w.last.text;
  const double checks = sum_samples(end, "kscprobe_checks").sum;
  const double probes = w.delta("kscprobe_probes_total");
  const double failures = w.delta("kscprobe_probe_failures_total");
  const double probes_per_s = probes / w.counter_seconds();
  // Checks whose last probe was refused, by role: every UDP check of every refusing agent, and
  // nothing else. kscprobe_aggregate_checks counts every check at every detail level.
  const double refused_agent_checks =
      sum_samples(end, "kscprobe_aggregate_checks", {{"role", "agent"}, {"state", "refused"}}).sum;
  const double refused_checks =
      sum_samples(end, "kscprobe_aggregate_checks", {{"state", "refused"}}).sum;
  const auto failure_info =
      sum_samples(end, "kscprobe_probe_failure_info", {{"reason", "refused"}});
  const double refused_per_s =
      w.delta("kscprobe_probe_failures_total", {{"reason", "refused"}}) / w.counter_seconds();
  Lag lag = lag_between(w.first.text, end);
  const double hwm_mb = static_cast<double>(read_usage(pid).hwm_kib) / 1024;
  std::printf(
      "  window %.1f s: %.1f probes/s (%.0f failed), CPU %.3f s = %.2f %% of a core with %d gzip "
      "scrapes (%.3f s CPU, %.1f MB gzip each); %s\n",
      window, probes_per_s, failures, cpu, 100 * cpu / window, w.scrapes, w.scrape_cpu_s,
      w.scrape_gzip_bytes / 1e6, lag_text(lag).c_str());
  std::printf(
      "  refused: %.0f agent checks in state refused (expected %d), %.0f in all roles, %.1f "
      "refusals/s; kscprobe_probe_failure_info refused: %zu series\n",
      refused_agent_checks, expected_refused_checks, refused_checks, refused_per_s,
      failure_info.samples);
  // The limits it ran with: the open-file limit kscprobe found (after raising its soft limit) and
  // the in-flight budgets it derived from the plan and that limit.
  const double open_files = sum_samples(end, "kscprobe_open_files_limit").sum;
  const double budget_connect =
      sum_samples(end, "kscprobe_probe_budget", {{"lane", "connect"}}).sum;
  const double budget_quiet = sum_samples(end, "kscprobe_probe_budget", {{"lane", "quiet"}}).sum;
  const double clamped = sum_samples(end, "kscprobe_probe_budget_clamped").sum;
  std::printf("  limits: open files %.0f, budgets connect %.0f and quiet %.0f%s\n", open_files,
              budget_connect, budget_quiet, clamped > 0 ? " (lowered to fit)" : "");
  // Probes that ended against those due (every check once per interval), and why the failed
  // ones failed: refused and nothing else, whether the targets are named by address or by name.
  const double due_share = checks > 0 ? probes_per_s / (checks / spec.interval_s) : NAN;
  std::string reasons_text;
  JsonObject reasons = failures_by_reason(w, &reasons_text);
  const double local_errors = w.delta("kscprobe_local_errors_total");
  std::printf(
      "  due probes run: %.2f %% (%.1f of %.1f a second); failures by reason in the window: %s; "
      "local faults: %.0f\n",
      100 * due_share, probes_per_s, checks / spec.interval_s, reasons_text.c_str(), local_errors);
  std::fflush(stdout);
  if (dns) {
    // What the DNS server received in the whole seconds inside the window, and how the
    // resolver answered the lookups of the window (kscprobe_resolver_lookups_total).
    const auto by_second = dns->queries_by_second();
    const auto first_second = static_cast<std::size_t>(std::ceil(between(dns->started(), w.t0)));
    const auto end_second = static_cast<std::size_t>(between(dns->started(), w.t1));
    double sum = 0, peak = 0, seconds_counted = 0;
    for (std::size_t i = first_second; i < end_second; ++i) {
      const double n = i < by_second.size() ? static_cast<double>(by_second[i]) : 0;
      sum += n;
      peak = std::max(peak, n);
      ++seconds_counted;
    }
    const double per_s = seconds_counted > 0 ? sum / seconds_counted : NAN;
    auto outcome = [&](const char* what) {
      return w.delta("kscprobe_resolver_lookups_total", {{"outcome", what}});
    };
    const double cache = outcome("cache"), joined = outcome("joined"), query = outcome("query"),
                 queue_full = outcome("queue_full");
    const double lookups = cache + joined + query + queue_full;
    const double span = w.counter_seconds();
    std::printf(
        "  DNS server: %.0f queries/s (A, and AAAA with a routable IPv6 address; busiest second "
        "%.0f) over %.0f s, %llu in "
        "all; resolver: %.1f lookups/s, %.1f %% from the cache, %.1f %% joined, %.1f names "
        "asked/s, %.0f refused (queue full)\n",
        per_s, peak, seconds_counted, static_cast<unsigned long long>(dns->queries()),
        lookups / span, lookups > 0 ? 100 * cache / lookups : NAN,
        lookups > 0 ? 100 * joined / lookups : NAN, query / span, queue_full);
    std::fflush(stdout);
    JsonObject r;
    r.num("dns_queries_per_s", per_s)
        .num("dns_queries_peak_second", peak)
        .num("dns_seconds", seconds_counted)
        .num("lookups_per_s", lookups / span)
        .num("cache_share", lookups > 0 ? cache / lookups : NAN)
        .num("joined_share", lookups > 0 ? joined / lookups : NAN)
        .num("names_asked_per_s", query / span)
        .num("queue_full", queue_full);
    o.obj("resolver", r);
  }
  o.flag("ok", true)
      .num("ready_s", d.ready_s)
      .num("open_files_limit", open_files)
      .num("budget_connect", budget_connect)
      .num("budget_quiet", budget_quiet)
      .num("budget_clamped", clamped)
      .num("checks", checks)
      .num("targets", sum_samples(end, "kscprobe_targets").sum)
      .num("probes_per_s", probes_per_s)
      .num("failed_probes", failures)
      .num("skipped", w.delta("kscprobe_scheduler_skipped_total"))
      .num("cpu_s", cpu)
      .num("cpu_percent", 100 * cpu / window)
      .num("scrapes_in_window", w.scrapes)
      .num("scrape_cpu_s", w.scrape_cpu_s)
      .num("metrics_gzip_bytes", w.scrape_gzip_bytes)
      .num("metrics_bytes", static_cast<double>(end.size()))
      .num("metrics_series", static_cast<double>(series_count(end)))
      .num("expected_refused_checks", expected_refused_checks)
      .num("refused_checks_seen", refused_agent_checks)
      .num("refused_checks_all_roles", refused_checks)
      .num("refusals_per_s", refused_per_s)
      .num("failure_info_refused_series",
           failure_info.samples ? static_cast<double>(failure_info.samples) : NAN)
      .num("due_share", due_share)
      .obj("failures_by_reason", reasons)
      .num("local_errors", local_errors)
      .obj("lag", lag_json(lag));
  add_load(o, other_load(w.l0, w.l1, cpu, window));
  // Peak through warm-up and window (the status page's renders come after).
  const double peak_mb = rss.peak_mb();

  // The status page at this size: `/` as served, then its JSON variant.
  JsonObject page;
  if (textfile) {
    // The file the last write left: whole (renamed into place), and written within two periods.
    std::error_code ec;
    const auto size = std::filesystem::file_size(textfile_path, ec);
    const auto age = ec ? std::filesystem::file_time_type::duration::max()
                        : std::filesystem::file_time_type::clock::now() -
                              std::filesystem::last_write_time(textfile_path, ec);
    const double age_s = ec ? NAN : std::chrono::duration<double>(age).count();
    o.num("textfile_bytes", ec ? NAN : static_cast<double>(size)).num("textfile_age_s", age_s);
    std::printf("  textfile %s: %.1f MB, written %.1f s before the window's end\n",
                textfile_path.c_str(), ec ? 0.0 : static_cast<double>(size) / 1e6, age_s);
  }
  // By names or with the textfile, the page is the same page: the estate scenario measures it.
  if (spec.page_fetches > 0 && way == EstateWay::by_address) {
    page.obj("html", fetch_repeatedly(d, "/", spec.page_fetches, spec.page_pace_s, cpu / window));
    page.obj("json", fetch_repeatedly(d, "/?format=json", spec.json_fetches, spec.page_pace_s,
                                      cpu / window));
  }
  rss.stop();
  o.num("peak_rss_mb", peak_mb)
      .num("peak_rss_with_status_page_mb", rss.peak_mb())
      .num("rss_samples", static_cast<double>(rss.samples()))
      .num("vm_hwm_mb", hwm_mb);
  std::printf(
      "  peak RSS %.1f MB through the window, %.1f MB with the status page (%ld samples; VmHWM "
      "at the window's end %.1f MB)\n",
      peak_mb, rss.peak_mb(), rss.samples(), hwm_mb);
  d.process->stop();
  if (!page.empty()) o.obj("status_page", page);
  return o;
}

// ---------------------------------------------------------------------------------------------
// The estate read from KSC: discovery of every device, then a refresh while probing

/// Polls the fake server (cheap: no kscprobe scrape) every 20 ms until `done` says so, the
/// daemon exits or `limit_s` passes; returns whether `done` said so.
bool wait_for_ksc(BenchKsc& ksc, ChildProcess& daemon, double limit_s,
                  const std::function<bool(const sim::KscCounters&)>& done) {
  const auto t0 = Clock::now();
  while (since(t0) < limit_s && daemon.running()) {
    if (done(ksc.counters())) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

unsigned calls_of(const sim::KscCounters& c, const std::string& method) {
  auto it = c.calls.find(method);
  return it == c.calls.end() ? 0 : it->second;
}

std::uint32_t ipv4_of(const std::string& address) {
  in_addr a{};
  ::inet_pton(AF_INET, address.c_str(), &a);
  return ntohl(a.s_addr);
}

/// Whether `ipv4` (host order) is a refusing agent's address (kRefusedAgentOctets).
bool is_refused_agent(std::uint32_t ipv4) {
  for (int octet : kRefusedAgentOctets)
    if ((ipv4 >> 16) == ((10u << 8) | static_cast<std::uint32_t>(octet))) return true;
  return false;
}

JsonObject run_discovery(const Options& options, const DiscoverySpec& spec,
                         const std::string& name) {
  std::string dir = options.workdir + "/" + name;
  std::filesystem::create_directories(dir);
  const int refused_agents = refused_agent_count(spec.agents);
  const int kscs = std::max(1, spec.ksc_servers);
  std::printf(
      "\n== %s: %d agents (%d refuse UDP) and %d DPs listed by %d KSC server(s), %d servers "
      "probed @ %d s; refresh %d s, %d devices replaced before the second discovery\n",
      name.c_str(), spec.agents, refused_agents, spec.distribution_points, kscs, spec.servers,
      spec.interval_s, spec.refresh_s, spec.churn);
  std::fflush(stdout);
  JsonObject o;
  o.num("agents", spec.agents)
      .num("refused_agents", refused_agents)
      .num("distribution_points", spec.distribution_points)
      .num("servers", spec.servers)
      .num("interval_s", spec.interval_s)
      .num("refresh_s", spec.refresh_s)
      .num("warmup_s", spec.warmup_s)
      .num("span_s", spec.span_s)
      .num("churn", spec.churn)
      .num("ksc_servers", kscs);
  if (spec.refresh_s - spec.span_s - 5 < spec.warmup_s) {
    return o.flag("ok", false).str("error", "refresh must exceed warm-up + span + 5 s");
  }

  // The devices as KSC lists them: the estate scenario's agents at the same addresses (the
  // refusing ones last connected to the server 3 h ago: agents whose klnagent stopped), then
  // the distribution points, which are update agents. Ids are GUID-like, as on a real server.
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  const int devices = spec.agents + spec.distribution_points;
  std::vector<sim::KscHostDef> hosts =
      sim::KscOpenApiServer::generate_hosts(static_cast<std::size_t>(devices + spec.churn), now, 0);
  std::vector<sim::KscHostDef> spare(hosts.begin() + devices, hosts.end());
  hosts.resize(static_cast<std::size_t>(devices));
  const std::vector<std::string> addresses = agent_addresses(spec.agents, refused_agents);
  for (int i = 0; i < devices; ++i) {
    sim::KscHostDef& h = hosts[static_cast<std::size_t>(i)];
    const bool agent = i < spec.agents;
    h.display_name = agent ? format("pc-%06d", i) : format("dp-%04d", i - spec.agents);
    h.fqdn = h.display_name + ".corp.example";
    h.dns_name = h.display_name;
    const std::string address = agent ? addresses[static_cast<std::size_t>(i)]
                                      : host_address(kDistributionPointOctet, i - spec.agents);
    h.ipv4 = ipv4_of(address);
    h.group_id = 1 + (agent ? agent_group(i) : 4);
    const bool stopped = agent && is_refused_agent(ipv4_of(address));
    h.last_agent_connected = stopped ? now - 3 * 3600 : now - i % 600;
  }
  // The churn: the first answering agents leave, as many new ones come (new ids, new names,
  // the next free answering addresses).
  std::vector<sim::KscHostDef> churned;
  churned.reserve(hosts.size());
  std::vector<std::string> left, came;
  for (const auto& h : hosts) {
    const bool answering_agent = h.display_name.rfind("pc-", 0) == 0 && !is_refused_agent(h.ipv4);
    if (answering_agent && static_cast<int>(left.size()) < spec.churn) {
      left.push_back(h.display_name);
      continue;
    }
    churned.push_back(h);
  }
  const int answering = spec.agents - refused_agents;
  for (int k = 0; k < spec.churn; ++k) {
    sim::KscHostDef h = spare[static_cast<std::size_t>(k)];
    h.display_name = format("pc-new-%05d", k);
    h.fqdn = h.display_name + ".corp.example";
    h.dns_name = h.display_name;
    h.ipv4 = ipv4_of(host_in(kAgentOctets, answering + k));
    h.group_id = 1;
    h.last_agent_connected = now;
    came.push_back(h.display_name);
    churned.push_back(std::move(h));
  }
  std::map<std::int64_t, std::string> groups = {{0, "Managed devices"}};
  for (int g = 0; g < 4; ++g) groups[1 + g] = kAgentGroups[g];
  groups[5] = "Distribution points";

  // The devices dealt among the servers in turn (each has agents of every kind and distribution
  // points); a device stays on its server through the churn, a new one goes where it is dealt.
  std::map<std::string, int> server_of;
  std::vector<std::vector<sim::KscHostDef>> hosts_of(static_cast<std::size_t>(kscs)),
      churned_of(static_cast<std::size_t>(kscs));
  std::vector<std::vector<std::string>> update_agents_of(static_cast<std::size_t>(kscs));
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const int k = static_cast<int>(i % static_cast<std::size_t>(kscs));
    server_of[hosts[i].display_name] = k;
    hosts_of[static_cast<std::size_t>(k)].push_back(hosts[i]);
    if (i >= static_cast<std::size_t>(spec.agents))  // the distribution points come last
      update_agents_of[static_cast<std::size_t>(k)].push_back(hosts[i].id);
  }
  for (std::size_t i = 0; i < churned.size(); ++i) {
    auto it = server_of.find(churned[i].display_name);
    const int k = it != server_of.end() ? it->second : static_cast<int>(i % kscs);
    churned_of[static_cast<std::size_t>(k)].push_back(churned[i]);
  }
  hosts.clear();
  hosts.shrink_to_fit();
  churned.clear();
  churned.shrink_to_fit();

  std::vector<std::unique_ptr<BenchKsc>> servers;
  std::vector<std::string> names;
  std::string toml = daemon_section(options, spec.interval_s);
  toml += server_targets(spec.servers);
  for (int k = 0; k < kscs; ++k) {
    auto ksc = std::make_unique<BenchKsc>();
    const auto at = static_cast<std::size_t>(k);
    in_netns(options.estate_netns, [&] {
      // Not 13299: the estate's wildcard listeners hold that port for the servers' checks.
      ksc->start(host_address(kKscOctet, k), kKscPort, std::move(hosts_of[at]), groups,
                 update_agents_of[at]);
    });
    const std::string n = kscs == 1 ? "ksc-bench" : format("ksc-bench-%d", k + 1);
    const std::string files = dir + "/" + n;
    write_file(files + "-ca.pem", ksc->ca_pem());
    write_file(files + ".password", ksc->password() + "\n");
    toml += format(
        "\n[[ksc]]\nname = \"%s\"\nurl = \"%s\"\nuser = \"%s\"\npassword_file = \"%s\"\n"
        "ca_file = \"%s\"\nrefresh = \"%ds\"\n",
        n.c_str(), ksc->url().c_str(), ksc->user().c_str(), (files + ".password").c_str(),
        (files + "-ca.pem").c_str(), spec.refresh_s);
    names.push_back(n);
    servers.push_back(std::move(ksc));
  }
  write_file(dir + "/kscprobe.toml", toml + options.config_append);
  auto stop_servers = [&] {
    for (auto& ksc : servers) ksc->stop();
  };

  const auto launched = Clock::now();
  Daemon d = start_kscprobe(options, dir + "/kscprobe.toml", dir + "/kscprobe.log", 180);
  if (!d.error.empty()) {
    std::printf("  kscprobe: FAILED: %s\n", d.error.c_str());
    return o.flag("ok", false).str("error", d.error);
  }
  const pid_t pid = d.process->pid();
  RssSampler rss(pid);
  auto fail = [&](const std::string& what) {
    std::string e =
        what + " (kscprobe " + d.process->exit_description() + "):" + log_tail(d.process->out(), 6);
    std::printf("  %s\n", e.c_str());
    return o.flag("ok", false).str("error", e);
  };

  // Whether a device is in the plan now: the status page's count of its checks (/metrics names
  // a healthy agent only at full and basic detail).
  auto planned = [&](const std::vector<std::string>& names) {
    if (names.empty()) return 0.0;
    const HttpReply r =
        http_get("127.0.0.1", d.port, "/?format=json&limit=1&target=" + names[0], false, 30s);
    std::smatch m;
    static const std::regex matched_re("\"matched\":([0-9]+),\"offset\"");
    return std::regex_search(r.body, m, matched_re) && std::stoi(m[1].str()) > 0 ? 1.0 : 0.0;
  };

  // A discovery, from each server's side: its first request to its last one (the instance
  // statistics), every server polled in turn until each has seen `round` of them.
  const std::string stats_method = "HostGroup.GetInstanceStatistics";
  struct Seen {
    Clock::time_point start{}, end{};
    unsigned connections_before = 0;
    sim::KscCounters counters;
  };
  auto requests_of = [](const sim::KscCounters& c) {
    unsigned n = 0;
    for (const auto& [m, k] : c.calls) n += k;
    return n;
  };
  auto wait_discovery = [&](unsigned round, double limit_s, std::vector<Seen>& seen) {
    const auto t0 = Clock::now();
    std::vector<bool> done(servers.size(), false);
    std::size_t left = servers.size();
    while (left > 0 && since(t0) < limit_s && d.process->running()) {
      for (std::size_t k = 0; k < servers.size(); ++k) {
        if (done[k]) continue;
        const sim::KscCounters c = servers[k]->counters();
        if (seen[k].start == Clock::time_point{} && c.connections > seen[k].connections_before)
          seen[k].start = Clock::now();
        if (calls_of(c, stats_method) >= round) {
          seen[k].end = Clock::now();
          seen[k].counters = c;
          done[k] = true;
          --left;
        }
      }
      if (left > 0) std::this_thread::sleep_for(20ms);
    }
    return left == 0;
  };
  std::vector<Seen> first(servers.size());
  if (!wait_discovery(1, 120, first)) return fail("no first discovery within 120 s");
  Clock::time_point first_start = first[0].start, first_end = first[0].end;
  unsigned first_requests = 0;
  for (const Seen& x : first) {
    first_start = std::min(first_start, x.start);
    first_end = std::max(first_end, x.end);
    first_requests += requests_of(x.counters);
  }
  std::printf(
      "  first discovery: %.2f s seen from the server(s) (%u requests), %.1f s after start\n",
      between(first_start, first_end), first_requests, between(launched, first_end));
  std::fflush(stdout);

  // Warm-up, then the quiet span [a, b] and the span [b, c] that holds the second discovery.
  const auto next_run = after(first_end, spec.refresh_s);
  const auto a_at = after(next_run, -(spec.span_s + 5));
  if (!sleep_until_while_running(*d.process, a_at)) return fail("kscprobe exited in warm-up");
  const double peak_before_refresh = rss.peak_mb();
  rss.take_span_peak_mb();
  ProcUsage ua = read_usage(pid);
  Fetch fa = scrape(pid, d.port);
  if (!sleep_until_while_running(*d.process, after(a_at, spec.span_s)))
    return fail("kscprobe exited in the quiet span");
  ProcUsage ub = read_usage(pid);
  // Steady: the quiet span's peak (a scrape in it); then the span that holds the refresh.
  const double steady_peak_mb = rss.take_span_peak_mb();
  const auto b_at = Clock::now();
  Fetch fb = scrape(pid, d.port);
  const double left_before = planned(left);
  std::vector<Seen> second(servers.size());
  for (std::size_t k = 0; k < servers.size(); ++k) {
    servers[k]->set_hosts(std::move(churned_of[k]));
    second[k].connections_before = servers[k]->counters().connections;
  }
  if (!wait_discovery(2, spec.refresh_s + 120.0, second))
    return fail("no second discovery in time");
  Clock::time_point second_start = second[0].start, second_end = second[0].end;
  for (const Seen& x : second) {
    second_start = std::min(second_start, x.start);
    second_end = std::max(second_end, x.end);
  }
  // The span ends at least 5 s after the second discovery, time for the plan to be composed
  // again, and is never shorter than the quiet one.
  const auto c_at = std::max(after(b_at, spec.span_s), after(second_end, 5));
  if (!sleep_until_while_running(*d.process, c_at)) return fail("kscprobe exited after refresh");
  ProcUsage uc = read_usage(pid);
  Fetch fc = scrape(pid, d.port);
  const double refresh_peak_mb = rss.take_span_peak_mb();
  rss.stop();
  const double quiet_s = between(fa.start, fb.start), refresh_span_s = between(fb.start, fc.start);
  const double cpu_quiet = cpu_delta(ua, ub), cpu_refresh = cpu_delta(ub, uc);
  const Lag lag_quiet = lag_between(fa.text, fb.text);
  const Lag lag_refresh = lag_between(fb.text, fc.text);
  const std::string& end = fc.text;
  auto value = [&](std::string_view name, const Labels& with = {}) {
    return sum_samples(end, name, with).sum;
  };
  auto series = [&](const std::string& text, std::string_view name, const Labels& with) {
    return static_cast<double>(sum_samples(text, name, with).samples);
  };
  const double came_seen = planned(came);
  const double left_seen = planned(left);
  const double hwm_mb = static_cast<double>(read_usage(pid).hwm_kib) / 1024;
  const double first_duration = sum_samples(fa.text, "kscprobe_discovery_duration_seconds", {}).sum;
  const double second_duration = value("kscprobe_discovery_duration_seconds");
  std::printf(
      "  kscprobe's discovery durations: %.2f s (first), %.2f s (second, %.2f s seen from the "
      "server); %0.f agents and %.0f DPs in use, success %.0f\n",
      first_duration, second_duration, between(second_start, second_end),
      value("kscprobe_discovery_targets", {{"role", "agent"}}),
      value("kscprobe_discovery_targets", {{"role", "distribution_point"}}),
      value("kscprobe_discovery_success"));
  std::printf("  quiet span %.1f s: CPU %.3f s (%.2f %% of a core); lag %s\n", quiet_s, cpu_quiet,
              100 * cpu_quiet / quiet_s, lag_text(lag_quiet).c_str());
  std::printf("  span with the refresh %.1f s: CPU %.3f s (%.2f %% of a core); lag %s\n",
              refresh_span_s, cpu_refresh, 100 * cpu_refresh / refresh_span_s,
              lag_text(lag_refresh).c_str());
  std::printf("  after the refresh: %s %s, %s %s; agent_stopped diagnoses %.0f (expected %d)\n",
              came.empty() ? "-" : came[0].c_str(), came_seen == 1 ? "came" : "DID NOT COME",
              left.empty() ? "-" : left[0].c_str(),
              left_before == 1 && left_seen == 0 ? "left" : "DID NOT LEAVE",
              series(end, "kscprobe_agent_diagnosis", {{"diagnosis", "agent_stopped"}}),
              refused_agents);
  std::printf(
      "  peak RSS %.1f MB through the first discovery and warm-up, %.1f MB steady (the quiet "
      "span's), %.1f MB in the span of the refresh (%.2fx steady; %ld samples; VmHWM %.1f MB)\n",
      peak_before_refresh, steady_peak_mb, refresh_peak_mb,
      steady_peak_mb > 0 ? refresh_peak_mb / steady_peak_mb : 0.0, rss.samples(), hwm_mb);
  std::printf("  /metrics %.1f MB raw, %.1f MB gzip, %.0f series\n", end.size() / 1e6,
              fc.reply.body.size() / 1e6, static_cast<double>(series_count(end)));
  // Per server: kscprobe's own figures (duration, devices kept) and the server's (requests, time
  // from its first request to its last).
  std::vector<std::string> per_server;
  double requests = 0, largest_page = 0;
  for (std::size_t k = 0; k < servers.size(); ++k) {
    const sim::KscCounters c = servers[k]->counters();
    requests += requests_of(c);
    largest_page = std::max(largest_page, static_cast<double>(c.largest_chunk));
    const Labels of = {{"ksc_server", names[k]}};
    const double first_s = sum_samples(fa.text, "kscprobe_discovery_duration_seconds", of).sum;
    const double second_s = sum_samples(end, "kscprobe_discovery_duration_seconds", of).sum;
    Labels agents = of, dps = of;
    agents.emplace_back("role", "agent");
    dps.emplace_back("role", "distribution_point");
    const double n_agents = value("kscprobe_discovery_targets", agents);
    const double n_dps = value("kscprobe_discovery_targets", dps);
    if (servers.size() > 1)
      std::printf(
          "  %s: discovery %.2f s (first), %.2f s (second; %.2f s and %.2f s seen from the "
          "server), %.0f agents and %.0f DPs, %u requests, success %.0f\n",
          names[k].c_str(), first_s, second_s, between(first[k].start, first[k].end),
          between(second[k].start, second[k].end), n_agents, n_dps, requests_of(c),
          value("kscprobe_discovery_success", of));
    JsonObject one;
    one.str("name", names[k])
        .num("first_discovery_s", first_s)
        .num("first_discovery_server_s", between(first[k].start, first[k].end))
        .num("second_discovery_s", second_s)
        .num("second_discovery_server_s", between(second[k].start, second[k].end))
        .num("discovered_agents", n_agents)
        .num("discovered_distribution_points", n_dps)
        .num("requests", requests_of(c))
        .num("success", value("kscprobe_discovery_success", of));
    per_server.push_back(one.text(4));
  }
  std::fflush(stdout);
  JsonObject lag_q = lag_json(lag_quiet), lag_r = lag_json(lag_refresh);
  o.flag("ok", true)
      .num("ready_s", d.ready_s)
      .num("first_discovery_s", first_duration)
      .num("first_discovery_server_s", between(first_start, first_end))
      .num("second_discovery_s", second_duration)
      .num("second_discovery_server_s", between(second_start, second_end))
      .num("requests", requests)
      .num("largest_page", largest_page)
      .num("success", value("kscprobe_discovery_success"))
      .num("discovered_agents", value("kscprobe_discovery_targets", {{"role", "agent"}}))
      .num("discovered_distribution_points",
           value("kscprobe_discovery_targets", {{"role", "distribution_point"}}))
      .num("checks", value("kscprobe_checks"))
      .num("targets", value("kscprobe_targets"))
      .flag("churn_seen", came_seen == 1 && left_before == 1 && left_seen == 0)
      .num("agent_stopped",
           series(end, "kscprobe_agent_diagnosis", {{"diagnosis", "agent_stopped"}}))
      .num("expected_agent_stopped", refused_agents)
      .num("quiet_s", quiet_s)
      .num("quiet_cpu_s", cpu_quiet)
      .num("refresh_span_s", refresh_span_s)
      .num("refresh_cpu_s", cpu_refresh)
      .obj("lag_quiet", lag_q)
      .obj("lag_refresh", lag_r)
      .num("peak_rss_before_refresh_mb", peak_before_refresh)
      .num("steady_peak_rss_mb", steady_peak_mb)
      .num("refresh_peak_rss_mb", refresh_peak_mb)
      .num("peak_rss_mb", rss.peak_mb())
      .num("vm_hwm_mb", hwm_mb)
      .num("metrics_bytes", static_cast<double>(end.size()))
      .num("metrics_gzip_bytes", static_cast<double>(fc.reply.body.size()))
      .num("metrics_series", static_cast<double>(series_count(end)))
      .raw("per_server", json_array(per_server));
  d.process->stop();
  stop_servers();
  return o;
}

// The device limit against a server that lists 250 000 devices whose names, FQDNs and ids are
// each 250 bytes or more: kscprobe keeps max_devices of them (the default), counts the rest, and
// its peak memory and /metrics stay those of the limit.
JsonObject run_discovery_limit(const Options& options, const DiscoveryLimitSpec& spec) {
  std::printf("\ndiscovery-limit: %d devices listed, fields of 250+ bytes, default max_devices\n",
              spec.devices);
  JsonObject o;
  o.num("devices_listed", spec.devices).num("interval_s", spec.interval_s);
  const std::string dir = options.workdir + "/discovery-limit";
  std::filesystem::create_directories(dir);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  std::vector<sim::KscHostDef> hosts =
      sim::KscOpenApiServer::generate_hosts(static_cast<std::size_t>(spec.devices), now, 0);
  const std::string pad(236, 'x');
  const std::string label(60, 'l');
  const std::vector<std::string> addresses = agent_addresses(100000, refused_agent_count(100000));
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    sim::KscHostDef& h = hosts[i];
    h.display_name = format("pc-%07zu-", i) + pad + format("%06zu", i);
    h.fqdn = format("h%07zu", i) + label.substr(8) + "." + label + "." + label + "." + label;
    h.id = h.display_name + "-id";
    h.ipv4 = ipv4_of(addresses[i % addresses.size()]);
  }
  std::map<std::int64_t, std::string> groups = {{0, "Managed devices"}};
  for (int g = 0; g < 4; ++g) groups[1 + g] = kAgentGroups[g];
  BenchKsc ksc;
  in_netns(options.estate_netns,
           [&] { ksc.start(host_address(kKscOctet, 0), kKscPort, std::move(hosts), groups, {}); });
  write_file(dir + "/ksc-ca.pem", ksc.ca_pem());
  write_file(dir + "/ksc.password", ksc.password() + "\n");
  std::string toml = daemon_section(options, spec.interval_s);
  toml += format(
      "\n[[ksc]]\nname = \"ksc-limit\"\nurl = \"%s\"\nuser = \"%s\"\npassword_file = \"%s\"\n"
      "ca_file = \"%s\"\nrefresh = \"3600s\"\nroles = [\"agent\"]\n",
      ksc.url().c_str(), ksc.user().c_str(), (dir + "/ksc.password").c_str(),
      (dir + "/ksc-ca.pem").c_str());
  write_file(dir + "/kscprobe.toml", toml + options.config_append);
  Daemon d = start_kscprobe(options, dir + "/kscprobe.toml", dir + "/kscprobe.log", 180);
  if (!d.error.empty()) {
    std::printf("  kscprobe: FAILED: %s\n", d.error.c_str());
    ksc.stop();
    return o.flag("ok", false).str("error", d.error);
  }
  const pid_t pid = d.process->pid();
  RssSampler rss(pid);
  const auto start = Clock::now();
  const bool discovered = wait_for_ksc(ksc, *d.process, 300, [&](const sim::KscCounters& c) {
    return calls_of(c, "HostGroup.GetInstanceStatistics") >= 1;
  });
  const double discovery_s = since(start);
  if (!discovered || !sleep_while_running(*d.process, spec.settle_s)) {
    std::string e = "no discovery within 300 s:" + log_tail(d.process->out(), 6);
    std::printf("  %s\n", e.c_str());
    d.process->stop();
    ksc.stop();
    return o.flag("ok", false).str("error", e);
  }
  Fetch f = scrape(pid, d.port);
  rss.stop();
  const double hwm_mb = static_cast<double>(read_usage(pid).hwm_kib) / 1024;
  auto value = [&](std::string_view name, const Labels& with = {}) {
    return sum_samples(f.text, name, with).sum;
  };
  const double kept = value("kscprobe_discovery_targets", {{"role", "agent"}});
  const double over = value("kscprobe_discovery_skipped_hosts", {{"reason", "over_limit"}});
  std::printf(
      "  %.0f devices kept, %.0f counted over the limit; discovery within %.1f s\n"
      "  peak RSS %.1f MB (%ld samples; VmHWM %.1f MB); /metrics %.1f MB of text\n",
      kept, over, discovery_s, rss.peak_mb(), rss.samples(), hwm_mb,
      static_cast<double>(f.text.size()) / 1e6);
  std::fflush(stdout);
  o.flag("ok", true)
      .num("kept", kept)
      .num("over_limit", over)
      .num("discovery_within_s", discovery_s)
      .num("peak_rss_mb", rss.peak_mb())
      .num("vm_hwm_mb", hwm_mb)
      .num("metrics_bytes", static_cast<double>(f.text.size()))
      .num("success", value("kscprobe_discovery_success"));
  d.process->stop();
  ksc.stop();
  return o;
}

// ---------------------------------------------------------------------------------------------

JsonObject environment(const Options& options) {
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
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  double load[3] = {NAN, NAN, NAN};
  ::getloadavg(load, 3);
  const std::string kscprobe_version = command_first_line({options.kscprobe, "--version"});
  const std::string blackbox_version = command_first_line({options.blackbox, "--version"});
  const std::string openssl_version = command_first_line({options.openssl, "version"});
  std::printf("kscprobe benchmark, %s%s\n", date, options.quick ? " (--quick)" : "");
  std::printf("  host: %s %s, %u CPUs (%s), load average %.2f %.2f %.2f\n", u.sysname, u.release,
              std::thread::hardware_concurrency(), cpu_model.c_str(), load[0], load[1], load[2]);
  std::printf("  kscprobe: %s (%s)\n  blackbox_exporter: %s (%s)\n  %s\n", options.kscprobe.c_str(),
              kscprobe_version.c_str(), options.blackbox.c_str(), blackbox_version.c_str(),
              openssl_version.c_str());
  std::printf("  estate namespace %s; work directory (configs, logs): %s\n",
              options.estate_netns.c_str(), options.workdir.c_str());
  // The host's limits the daemon runs under (it raises its soft open-file limit to the hard one).
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  std::string ports = read_text("/proc/sys/net/ipv4/ip_local_port_range");
  for (char& c : ports)
    if (c == '\t' || c == '\n') c = ' ';
  std::printf("  limits: open files %llu (soft) / %llu (hard); local port range %s\n",
              static_cast<unsigned long long>(files.rlim_cur),
              static_cast<unsigned long long>(files.rlim_max), ports.c_str());
  JsonObject m;
  m.num("open_files_soft", static_cast<double>(files.rlim_cur))
      .num("open_files_hard", static_cast<double>(files.rlim_max))
      .str("local_port_range", ports)
      .num("cores", std::thread::hardware_concurrency())
      .str("cpu_model", cpu_model)
      .str("kernel", std::string(u.sysname) + " " + u.release)
      .raw("load_average",
           json_array({json_number(load[0]), json_number(load[1]), json_number(load[2])}));
  JsonObject v;
  v.str("kscprobe", kscprobe_version)
      .str("blackbox_exporter", blackbox_version)
      .str("openssl", openssl_version);
  JsonObject o;
  o.num("schema", 1)
      .str("date", date)
      .flag("quick", options.quick)
      .obj("machine", m)
      .obj("versions", v)
      .str("network",
           "prober and estate in two network namespaces joined by a veth pair; the estate "
           "answers for 10.96.0.0/12 (ip route add local)");
  return o;
}

void usage() {
  std::printf(
      "kscprobe_bench [options]: kscprobe, blackbox_exporter, the connect floor and openssl\n"
      "s_time over a veth to a simulated estate (run it through scripts/bench.sh)\n"
      "  --estate-netns=PATH      the estate's network namespace (/run/netns/NAME), required\n"
      "  --results=FILE           where the JSON results go (default build/bench/results.json)\n"
      "  --quick                  smaller numbers, short windows (a smoke run)\n"
      "  --scenarios=a,b          tcp-90, tcp-4000, tls-90, tls-1000, estate, estate-names,\n"
      "                           estate-textfile, moonshot, discovery, moonshot-discovery,\n"
      "                           discovery-limit\n"
      "                           (default: all)\n"
      "  --kscprobe=PATH --blackbox=PATH --openssl=PATH   the programs to run\n"
      "  --workdir=DIR            where configs and logs go (default: a new /tmp directory)\n"
      "  --window=S --warmup=S    measurement window and warm-up of the tcp/tls scenarios\n"
      "  --estate-agents=N --estate-window=S --estate-warmup=S --estate-interval=S\n"
      "  --moonshot-agents=N      the moonshot's agents (default 500 000)\n"
      "  --page-fetches=N         GETs of the status page at the estate (default 20)\n"
      "  --dns-delay-ms=N --dns-ttl=S   estate-names: the DNS server's delay per answer (2)\n"
      "                           and the TTL it gives (60)\n"
      "  --kscprobe-arg=ARG       extra kscprobe command-line argument (repeatable)\n"
      "  --daemon-option='k = v'  extra line in [daemon] of every generated config (repeatable)\n"
      "  --config-append=TOML     appended to every generated config (\\n for line breaks)\n"
      "  --estate-threads=N       threads serving the simulated estate (default 2)\n"
      "  --floor-grid-ms=N        the floor's pacing grid (default 10, kscprobe's; 0: none)\n");
}

int run(int argc, char** argv) {
  Options options;
  std::optional<double> window, warmup;
  std::optional<int> estate_agents, estate_interval, page_fetches, moonshot_agents;
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
    } else if (auto v = value("--kscprobe")) {
      options.kscprobe = *v;
    } else if (auto v = value("--blackbox")) {
      options.blackbox = *v;
    } else if (auto v = value("--openssl")) {
      options.openssl = *v;
    } else if (auto v = value("--moonshot-agents")) {
      moonshot_agents = std::stoi(*v);
    } else if (auto v = value("--estate-netns")) {
      options.estate_netns = *v;
    } else if (auto v = value("--results")) {
      options.results = *v;
    } else if (auto v = value("--workdir")) {
      options.workdir = *v;
    } else if (auto v = value("--scenarios")) {
      std::stringstream ss(*v);
      for (std::string s; std::getline(ss, s, ',');) options.scenarios.insert(s);
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
    } else if (auto v = value("--page-fetches")) {
      page_fetches = std::stoi(*v);
    } else if (auto v = value("--floor-grid-ms")) {
      options.floor_grid_ms = std::stoi(*v);
    } else if (auto v = value("--dns-delay-ms")) {
      options.dns_delay_ms = std::stoi(*v);
    } else if (auto v = value("--dns-ttl")) {
      options.dns_ttl_s = std::stoi(*v);
    } else if (auto v = value("--estate-threads")) {
      options.estate_threads = std::stoi(*v);
    } else if (auto v = value("--kscprobe-arg")) {
      options.kscprobe_args.push_back(*v);
    } else if (auto v = value("--daemon-option")) {
      options.daemon_options.push_back(*v);
    } else if (auto v = value("--config-append")) {
      std::string text = *v;
      for (std::size_t at; (at = text.find("\\n")) != std::string::npos;) text.replace(at, 2, "\n");
      options.config_append += "\n" + text + "\n";
    } else {
      std::fprintf(stderr, "unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (options.estate_netns.empty()) {
    std::fprintf(stderr,
                 "--estate-netns is required: run the benchmark through scripts/bench.sh\n");
    return 2;
  }
  if (options.quick) {
    options.rates = {{"tcp-1000", false, 1000, 1, 3, 10}, {"tls-300", true, 300, 1, 3, 10}};
    options.estate = {10000, 100, 2, 10, 11, 15, 5, 2, 0.5};
    options.moonshot = {50000, 100, 2, 10, 11, 15, 0, 0, 0.5};
    options.discovery = {10000, 100, 2, 10, 40, 11, 10, 20};
    options.moonshot_discovery = {50000, 100, 2, 10, 40, 11, 10, 20, 5};
    options.discovery_limit = {130000, 300, 5};
  } else {
    options.rates = {{"tcp-90", false, 90, 10, 10, 30},
                     {"tcp-4000", false, 4000, 1, 5, 30},
                     {"tls-90", true, 90, 10, 10, 30},
                     {"tls-1000", true, 1000, 1, 5, 30}};
  }
  for (auto& r : options.rates) {
    if (window) r.window_s = *window;
    if (warmup) r.warmup_s = *warmup;
  }
  if (estate_agents) options.estate.agents = *estate_agents;
  if (estate_window) options.estate.window_s = *estate_window;
  if (estate_warmup) options.estate.warmup_s = *estate_warmup;
  if (estate_interval) options.estate.interval_s = *estate_interval;
  if (page_fetches) options.estate.page_fetches = *page_fetches;
  if (moonshot_agents) options.moonshot.agents = *moonshot_agents;
  auto wanted = [&](const std::string& s) {
    return options.scenarios.empty() || options.scenarios.count(s) > 0;
  };
  if (options.workdir.empty()) {
    options.workdir = test::temp_dir("bench");
  }
  std::filesystem::create_directories(options.workdir);
  auto started = Clock::now();
  JsonObject results = environment(options);

  BenchEstate estate;
  EstateLayout layout;
  layout.tcp_ports = {kTcpPort, 8060, 14000};
  layout.tls_ports = {kTlsPort, 8061, 13000, 13291, 13299, 17000};
  layout.https_ports = {19170, 13296};
  layout.udp_ports = {13000, 15000, 15001};
  layout.threads = options.estate_threads;
  in_netns(options.estate_netns, [&] { estate.start(layout); });
  std::printf("  estate: wildcard listeners in its own namespace, TLS ECDSA P-256, %d thread(s)\n",
              layout.threads);
  write_file(options.workdir + "/estate-cert.pem", estate.certificate_pem());

  std::vector<std::string> tcp, tls;
  for (const auto& spec : options.rates) {
    if (!wanted(spec.name)) continue;
    (spec.tls ? tls : tcp).push_back(run_rate(options, spec, estate).text(4));
  }
  results.raw("tcp", json_array(tcp)).raw("tls", json_array(tls));
  if (wanted("estate"))
    results.obj("estate", run_estate(options, options.estate, estate, EstateWay::by_address));
  if (wanted("estate-names"))
    results.obj("estate_names", run_estate(options, options.estate, estate, EstateWay::by_names));
  if (wanted("estate-textfile"))
    results.obj("estate_textfile",
                run_estate(options, options.estate, estate, EstateWay::with_textfile));
  if (wanted("moonshot"))
    results.obj("moonshot", run_estate(options, options.moonshot, estate, EstateWay::moonshot));
  if (wanted("discovery"))
    results.obj("discovery", run_discovery(options, options.discovery, "discovery"));
  if (wanted("moonshot-discovery"))
    results.obj("moonshot_discovery",
                run_discovery(options, options.moonshot_discovery, "moonshot-discovery"));
  if (wanted("discovery-limit"))
    results.obj("discovery_limit", run_discovery_limit(options, options.discovery_limit));
  estate.stop();
  results.num("run_seconds", since(started));
  std::filesystem::path out(options.results);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  write_file(options.results, results.text() + "\n");
  std::printf("\nresults: %s (%.0f s)\n", options.results.c_str(), since(started));
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
