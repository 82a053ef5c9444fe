#include "tests/bench/scrape_driver.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <thread>

#include "tests/support/http_client.hpp"

namespace kscprobe::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// What Prometheus 2.x sends with every scrape.
constexpr const char* kAccept =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

struct Connection {
  explicit Connection(asio::io_context& io) : stream(io) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

enum class Outcome { done, retry };

bool probe_succeeded(const std::string& body) {
  return body.rfind("probe_success 1", 0) == 0 ||
         body.find("\nprobe_success 1") != std::string::npos;
}

}  // namespace

struct ScrapeDriver::Impl {
  explicit Impl(DriverOptions o) : options(std::move(o)), busy(options.paths.size(), 0) {
    endpoint = asio::ip::tcp::endpoint(asio::ip::make_address(options.host), options.port);
    host_header = options.host + ":" + std::to_string(options.port);
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g",
                  std::chrono::duration<double>(options.scrape_timeout).count());
    timeout_header = seconds;
  }

  DriverOptions options;
  asio::io_context io;
  asio::steady_timer timer{io};
  asio::ip::tcp::endpoint endpoint;
  std::string host_header, timeout_header;
  std::vector<char> busy;
  std::vector<std::unique_ptr<Connection>> idle;
  std::size_t open_connections = 0;
  std::size_t next_target = 0;
  bool stopping = false;
  std::thread thread;

  std::atomic<std::uint64_t> due{0}, skipped{0}, succeeded{0}, probe_failed{0}, http_failed{0},
      connections{0};

  static void bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

  void drop(std::unique_ptr<Connection>& c) {
    if (!c) return;
    boost::system::error_code ignored;
    c->stream.socket().close(ignored);
    c.reset();
    --open_connections;
  }

  asio::awaitable<Outcome> attempt(std::size_t i, Clock::time_point deadline, bool may_reuse) {
    std::unique_ptr<Connection> c;
    bool reused = false;
    if (may_reuse && !idle.empty()) {
      c = std::move(idle.back());
      idle.pop_back();
      reused = true;
    } else {
      if (open_connections >= options.max_connections) {
        bump(http_failed);
        co_return Outcome::done;
      }
      c = std::make_unique<Connection>(io);
      ++open_connections;
      bump(connections);
      c->stream.expires_at(deadline);
      auto [ec] = co_await c->stream.async_connect(endpoint, kTuple);
      if (ec) {
        drop(c);
        bump(http_failed);
        co_return Outcome::done;
      }
    }
    http::request<http::empty_body> request{http::verb::get, options.paths[i], 11};
    request.set(http::field::host, host_header);
    request.set(http::field::user_agent, "Prometheus/2.42.0");
    request.set(http::field::accept, kAccept);
    request.set(http::field::accept_encoding, "gzip");
    request.set("X-Prometheus-Scrape-Timeout-Seconds", timeout_header);
    c->stream.expires_at(deadline);
    auto [write_ec, written] = co_await http::async_write(c->stream, request, kTuple);
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 << 20);
    boost::system::error_code read_ec = write_ec;
    if (!write_ec) {
      auto [ec, n] = co_await http::async_read(c->stream, c->buffer, parser, kTuple);
      read_ec = ec;
    }
    if (read_ec) {
      drop(c);
      // A kept-alive connection the server closed meanwhile: Go's client retries such an
      // idempotent request once on a new connection, so do we.
      bool stale = reused && !parser.is_header_done() && read_ec != beast::error::timeout &&
                   Clock::now() < deadline;
      if (stale) co_return Outcome::retry;
      bump(http_failed);
      co_return Outcome::done;
    }
    auto& response = parser.get();
    if (response.result() != http::status::ok) {
      bump(http_failed);
    } else if (beast::iequals(response[http::field::content_encoding], "gzip")) {
      bump(probe_succeeded(test::gunzip(response.body())) ? succeeded : probe_failed);
    } else {
      bump(probe_succeeded(response.body()) ? succeeded : probe_failed);
    }
    if (response.keep_alive()) {
      c->stream.expires_never();
      idle.push_back(std::move(c));
    } else {
      drop(c);
    }
    co_return Outcome::done;
  }

  asio::awaitable<void> scrape(std::size_t i) {
    auto deadline = Clock::now() + options.scrape_timeout;
    if (co_await attempt(i, deadline, true) == Outcome::retry) co_await attempt(i, deadline, false);
    busy[i] = 0;
  }

  void launch(std::size_t i) {
    bump(due);
    if (busy[i]) {
      bump(skipped);
      return;
    }
    busy[i] = 1;
    asio::co_spawn(io, scrape(i), asio::detached);
  }

  // One of options.saturate workers: request after request, targets in turn.
  asio::awaitable<void> worker() {
    while (!stopping) {
      std::size_t i = next_target++ % options.paths.size();
      bump(due);
      auto deadline = Clock::now() + options.scrape_timeout;
      auto failed_before = http_failed.load(std::memory_order_relaxed);
      if (co_await attempt(i, deadline, true) == Outcome::retry) {
        co_await attempt(i, deadline, false);
      }
      if (http_failed.load(std::memory_order_relaxed) != failed_before) {
        // An exporter that refuses or drops requests is not hammered in a tight loop.
        asio::steady_timer pause(io, std::chrono::milliseconds(10));
        co_await pause.async_wait(kTuple);
      }
    }
  }

  asio::awaitable<void> schedule() {
    const auto start = Clock::now();
    const auto n = static_cast<__int128>(options.paths.size());
    const auto interval_ns =
        static_cast<__int128>(std::chrono::nanoseconds(options.interval).count());
    auto due_at = [&](std::uint64_t k) {
      return start + std::chrono::nanoseconds(static_cast<std::int64_t>(interval_ns * k / n));
    };
    std::uint64_t k = 0;
    while (!stopping) {
      auto now = Clock::now();
      while (due_at(k) <= now) {
        launch(static_cast<std::size_t>(k % options.paths.size()));
        ++k;
      }
      timer.expires_at(due_at(k));
      co_await timer.async_wait(kTuple);
    }
  }
};

ScrapeDriver::ScrapeDriver(DriverOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

ScrapeDriver::~ScrapeDriver() { stop(); }

void ScrapeDriver::start() {
  Impl& im = *impl_;
  if (im.options.paths.empty() || im.thread.joinable()) return;
  if (im.options.saturate > 0) {
    for (std::size_t w = 0; w < im.options.saturate; ++w)
      asio::co_spawn(im.io, im.worker(), asio::detached);
  } else {
    asio::co_spawn(im.io, im.schedule(), asio::detached);
  }
  im.thread = std::thread([&im] { im.io.run(); });
}

void ScrapeDriver::stop() {
  Impl& im = *impl_;
  if (!im.thread.joinable()) return;
  asio::post(im.io, [&im] {
    im.stopping = true;
    im.timer.cancel();
  });
  // Scrapes still in flight are abandoned with the io_context, like a stopped Prometheus.
  im.io.stop();
  im.thread.join();
}

DriverCounters ScrapeDriver::counters() const {
  const Impl& im = *impl_;
  DriverCounters c;
  c.due = im.due.load(std::memory_order_relaxed);
  c.skipped = im.skipped.load(std::memory_order_relaxed);
  c.succeeded = im.succeeded.load(std::memory_order_relaxed);
  c.probe_failed = im.probe_failed.load(std::memory_order_relaxed);
  c.http_failed = im.http_failed.load(std::memory_order_relaxed);
  c.connections = im.connections.load(std::memory_order_relaxed);
  return c;
}

}  // namespace kscprobe::bench
