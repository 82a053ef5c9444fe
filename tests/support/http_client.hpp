#pragma once
// The HTTP client of the tests and of the benchmark: one request on a fresh connection, plain or
// TLS, with a deadline over the whole exchange; blocking (its own io_context) or as a coroutine on
// the caller's loop (when the server runs on that same loop). Also the raw-socket helpers of the
// tests that speak broken HTTP on purpose, and gunzip.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kscprobe::test {

struct TlsClientOptions {
  /// Verify the server's chain against `ca_pem` (no host name check); false: accept any.
  bool verify = false;
  std::string ca_pem;
  /// A client certificate (mutual TLS) when both are set.
  std::string cert_pem, key_pem;
  /// e.g. TLS1_2_VERSION; 0: the library's default.
  int max_version = 0;
};

struct HttpRequest {
  std::string host = "127.0.0.1";  ///< an IP address: nothing is resolved
  std::uint16_t port = 0;
  std::string method = "GET";
  std::string target = "/";
  /// 10 or 11. HTTP/1.0 (the default): the server closes the connection after its answer.
  int version = 10;
  /// Sent as given; a Host field is added (`host`) unless one is here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Over the whole exchange: connect, handshake, request and response.
  std::chrono::milliseconds timeout{5000};
  std::optional<TlsClientOptions> tls;
};

struct HttpReply {
  int status = 0;  ///< 0: no response head (see error)
  /// Empty when the whole response was read; else why it stopped (the part read is kept).
  std::string error;
  /// The status line and the header fields, "HTTP/1.1 200 OK\r\nName: value..." without the
  /// blank line that ends them.
  std::string headers;
  /// The body as received (compressed when Content-Encoding says so; chunks joined).
  std::string body;
  /// Wall time from the start of the connect to the end of the response.
  double seconds = 0;

  /// The value of the first header field `name` (case-insensitive); "" when absent.
  std::string header(std::string_view name) const;
  /// headers, blank line, body: the response as a raw client would see it (unchunked).
  std::string text() const;
};

/// One request; blocks on an io_context of its own.
HttpReply fetch(const HttpRequest& request);

/// The same exchange as a coroutine on the caller's executor.
boost::asio::awaitable<HttpReply> async_fetch(HttpRequest request);

/// `method` `target` over HTTP/1.0 to 127.0.0.1:`port` (the daemon's endpoints), within 15 s;
/// nullopt when no
/// response head came back.
std::optional<HttpReply> http_request(unsigned port, const std::string& method,
                                      const std::string& target);

/// A blocking TCP connection to 127.0.0.1:`port`, with `timeout` on each send and receive; -1
/// when the connect fails.
int connect_loopback(unsigned port, std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Sends `bytes` to 127.0.0.1:`port` and returns everything received until the server closes
/// (or `timeout` passes without data); "" when the connect fails.
std::string raw_exchange(unsigned port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Inflates a gzip stream; "" on error or past `limit` bytes of output.
std::string gunzip(std::string_view data, std::size_t limit = std::size_t(1) << 32);

}  // namespace kscprobe::test
