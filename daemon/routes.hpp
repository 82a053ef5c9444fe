#pragma once
// The daemon's HTTP routes: a path, the methods it takes, and its handler. The server (limits,
// TLS, auth, gzip) is daemon/web/http_server.cpp; a new route is a row of the table in
// routes.cpp and its handler.
#include <functional>
#include <string>

#include "daemon/web/http_server.hpp"

namespace kscprobe {

class MetricsEndpoint;
class PlanComposer;
class ProbeEndpoint;
class ResultRecorder;
class ResultTable;

class Routes {
 public:
  /// What the routes answer from: the daemon's, outliving the routes.
  struct Parts {
    MetricsEndpoint& metrics;
    ProbeEndpoint& probe;
    const ResultTable& table;
    ResultRecorder& recorder;
    const PlanComposer& composer;
    /// POST /-/reload: the daemon's reload; false with the errors appended to `*errors`.
    std::function<bool(std::string* errors)> reload;
  };

  explicit Routes(Parts parts) : p_(std::move(parts)) {}

  /// The server's handler: the route of `req`'s path, 405 for a method it does not take, 404
  /// for any other path.
  boost::asio::awaitable<HttpResponse> route(HttpRequest req);

  /// /-/ready answers 503 until the daemon is up, and again once it stops.
  void set_ready(bool ready) { ready_ = ready; }

 private:
  boost::asio::awaitable<HttpResponse> serve_metrics(HttpRequest req);
  boost::asio::awaitable<HttpResponse> serve_probe(HttpRequest req);
  boost::asio::awaitable<HttpResponse> serve_healthy(HttpRequest req);
  boost::asio::awaitable<HttpResponse> serve_ready(HttpRequest req);
  boost::asio::awaitable<HttpResponse> serve_reload(HttpRequest req);
  boost::asio::awaitable<HttpResponse> serve_status(HttpRequest req);

  Parts p_;
  bool ready_ = false;
};

}  // namespace kscprobe
