#pragma once
// The simulated estate of the benchmark: one wildcard socket per port answers for every
// 127.x.y.z address, so 100 000 "hosts" cost a handful of sockets and no per-host state.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kscprobe::bench {

/// Which ports the estate serves, on 0.0.0.0 (IPv4 only).
struct EstateLayout {
  /// Accept, then wait for the peer to close (or close at once with tcp_close_at_once).
  std::vector<std::uint16_t> tcp_ports;
  /// Accept, complete a TLS handshake (ECDSA P-256 certificate), wait for the peer to close.
  std::vector<std::uint16_t> tls_ports;
  /// TLS, then answer every HTTP request with 200 and a small Prometheus text body.
  std::vector<std::uint16_t> https_ports;
  /// Read and discard every datagram: silent agents (open|filtered, never refused).
  std::vector<std::uint16_t> udp_ports;
  bool tcp_close_at_once = false;
  /// Threads running the estate (never the probers' CPU: they are other processes).
  int threads = 1;
};

/// What the estate has seen so far (monotonic).
struct EstateCounters {
  std::uint64_t tcp_accepted = 0;
  std::uint64_t tls_handshakes = 0;
  /// Of those, abbreviated handshakes that resumed an earlier session (no certificate sent).
  std::uint64_t tls_resumed = 0;
  std::uint64_t tls_failures = 0;
  std::uint64_t https_requests = 0;
  std::uint64_t udp_datagrams = 0;
};

class BenchEstate {
 public:
  BenchEstate();
  ~BenchEstate();
  BenchEstate(const BenchEstate&) = delete;
  BenchEstate& operator=(const BenchEstate&) = delete;

  /// Makes the certificate, binds every port and starts the threads. Throws std::runtime_error
  /// naming the port on a bind failure.
  void start(const EstateLayout& layout);
  /// Stops the threads and closes every socket. Idempotent.
  void stop();
  EstateCounters counters() const;
  /// The PEM certificate every TLS port presents.
  const std::string& certificate_pem() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kscprobe::bench
