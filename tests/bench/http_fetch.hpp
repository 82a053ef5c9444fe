#pragma once
// One blocking HTTP/1.1 GET on loopback, timed, with a deadline: how the benchmark reads /metrics
// and checks that a prober is up.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kscprobe::bench {

struct HttpReply {
  int status = 0;  // 0: no response (see error)
  std::string error;
  std::string content_encoding;
  /// The body as received (compressed when content_encoding is gzip).
  std::string body;
  /// Wall time from the start of the connect to the last byte of the body.
  double seconds = 0;
};

/// GET http://host:port/target. With `gzip` it sends Accept-Encoding: gzip, as Prometheus does.
HttpReply http_get(const std::string& host, std::uint16_t port, const std::string& target,
                   bool gzip, std::chrono::milliseconds timeout);

/// Inflates a gzip (or zlib) stream; empty on error.
std::string gunzip(std::string_view data);

}  // namespace kscprobe::bench
