#pragma once
// Drives blackbox_exporter the way Prometheus does: every target's /probe URL is requested once
// per scrape interval, at a fixed offset (offsets spread evenly over the interval), with the
// scrape timeout in X-Prometheus-Scrape-Timeout-Seconds, gzip accepted, over a pool of
// keep-alive connections (most recently used first, as Go's HTTP client reuses them). It can
// also saturate the exporter with a fixed number of back-to-back requests instead.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kscprobe::bench {

struct DriverOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  /// Request targets, one per scrape target, e.g. "/probe?module=tcp_connect&target=h:5432".
  std::vector<std::string> paths;
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds scrape_timeout{1000};
  /// Connections open at once, at most (beyond: the scrape fails, as it would run out of fds).
  std::size_t max_connections = 8192;
  /// 0: the Prometheus schedule above. N > 0: saturation instead, N requests in flight at all
  /// times, each sent as soon as the previous one answered (targets taken in turn, no interval):
  /// the exporter's best throughput and cost per probe, without any timeout pressure.
  std::size_t saturate = 0;
};

/// Monotonic counts since start().
struct DriverCounters {
  std::uint64_t due = 0;           ///< scrapes that came due
  std::uint64_t skipped = 0;       ///< came due while the target's previous scrape still ran
  std::uint64_t succeeded = 0;     ///< 200 with probe_success 1: a completed, successful probe
  std::uint64_t probe_failed = 0;  ///< 200 with probe_success 0
  std::uint64_t http_failed = 0;   ///< no complete 200 response within the scrape timeout
  std::uint64_t connections = 0;   ///< connections opened
};

/// Runs on a thread of its own until stop() or destruction.
class ScrapeDriver {
 public:
  explicit ScrapeDriver(DriverOptions options);
  ~ScrapeDriver();
  ScrapeDriver(const ScrapeDriver&) = delete;
  ScrapeDriver& operator=(const ScrapeDriver&) = delete;

  void start();
  void stop();
  DriverCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kscprobe::bench
