#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kscprobe {

struct WebSecurity;

/// A request as handlers see it (no Beast types leak out of http_server.cpp).
struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // path and query, as sent
  std::string path;                                          // target without the query
  std::string query;                                         // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string header(std::string_view name) const;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Gzip the body when the client accepts it (large text bodies such as /metrics).
  bool compressible = false;
};

/// True if an Accept-Encoding header value accepts gzip (q=0 refuses it).
bool accepts_gzip(std::string_view accept_encoding);

/// Splits "host:port", ":port", "[v6]:port" into host (empty = all interfaces) and port.
bool parse_listen_address(const std::string& text, std::string* host, unsigned* port,
                          std::string* error);

/// A small HTTP/1.1 server on the daemon's event loop (Boost.Beast), with limits on header
/// size, body size, idle time and connection count so no client can wedge the daemon.
class HttpServer {
 public:
  /// Handlers are coroutines on the event loop, so an endpoint can probe before answering.
  using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest)>;
  struct Limits {
    /// At the limit, the connection waiting longest for a request is closed to make room.
    std::size_t max_connections = 512;
    std::size_t header_limit = 16 * 1024;
    std::size_t body_limit = 64 * 1024;
    /// Deadline for a whole request (header and body, however slowly it trickles in), for an
    /// idle keep-alive connection, and for writing a response.
    unsigned idle_timeout_seconds = 30;
  };

  HttpServer(boost::asio::any_io_executor ex, Handler handler, Limits limits);
  HttpServer(boost::asio::any_io_executor ex, Handler handler)
      : HttpServer(ex, std::move(handler), Limits{}) {}
  ~HttpServer();

  /// Binds and starts accepting. ":port" listens on every IPv6 and IPv4 address.
  bool listen(const std::string& address, std::string* error);
  /// Serves on an already listening socket (socket activation); takes ownership of `fd`.
  bool adopt(int fd, std::string* error);
  /// "host:port" actually bound (useful with port 0).
  std::string local_address() const;
  unsigned local_port() const;
  /// TLS and basic auth for connections accepted from now on (null: plain and open).
  void set_security(std::shared_ptr<const WebSecurity> security);
  bool tls_enabled() const;
  /// Changes Limits::max_connections for the connections accepted from now on (the open-file
  /// limit may leave room for fewer).
  void set_max_connections(std::size_t n);
  std::size_t max_connections() const;
  /// Stops accepting and closes every open connection.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kscprobe
