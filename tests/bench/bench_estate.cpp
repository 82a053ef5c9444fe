#include "tests/bench/bench_estate.hpp"

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "simulator/self_signed.hpp"

namespace kscprobe::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using asio::ip::udp;
using TlsStream = asio::ssl::stream<tcp::socket>;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// What metrics_https (13296) expects: a body that parses as Prometheus text.
constexpr std::string_view kMetricsBody =
    "# TYPE ksc_Transport__Number_of_all_connections gauge\n"
    "ksc_Transport__Number_of_all_connections 42\n"
    "# TYPE ksc_Transport__Total_active_hosts_count gauge\n"
    "ksc_Transport__Total_active_hosts_count 100000\n";

}  // namespace

struct BenchEstate::Impl {
  asio::ssl::context tls{asio::ssl::context::tls_server};
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::unique_ptr<udp::socket>> udp_sockets;
  std::vector<std::thread> threads;
  std::string certificate_pem;
  bool tcp_close_at_once = false;
  bool started = false;

  std::atomic<std::uint64_t> tcp_accepted{0};
  std::atomic<std::uint64_t> tls_handshakes{0};
  std::atomic<std::uint64_t> tls_resumed{0};
  std::atomic<std::uint64_t> tls_failures{0};
  std::atomic<std::uint64_t> https_requests{0};
  std::atomic<std::uint64_t> udp_datagrams{0};

  void count_handshake(TlsStream& stream) {
    tls_handshakes.fetch_add(1, std::memory_order_relaxed);
    if (SSL_session_reused(stream.native_handle()) == 1)
      tls_resumed.fetch_add(1, std::memory_order_relaxed);
  }

  // Reads until the peer closes or resets: the connection lives as long as the prober wants.
  template <typename Stream>
  static asio::awaitable<void> drain(Stream& stream) {
    std::array<char, 512> buffer;
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer), kTuple);
      if (ec) co_return;
    }
  }

  static asio::awaitable<void> hold(tcp::socket socket) { co_await drain(socket); }

  asio::awaitable<void> tls_session(tcp::socket socket) {
    TlsStream stream(std::move(socket), tls);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (ec) {
      tls_failures.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    count_handshake(stream);
    co_await drain(stream);
  }

  asio::awaitable<void> https_session(tcp::socket socket) {
    TlsStream stream(std::move(socket), tls);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (ec) {
      tls_failures.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    count_handshake(stream);
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      auto [read_ec, n] = co_await http::async_read(stream, buffer, request, kTuple);
      if (read_ec) co_return;
      https_requests.fetch_add(1, std::memory_order_relaxed);
      http::response<http::string_body> response{http::status::ok, request.version()};
      response.set(http::field::content_type, "text/plain; version=0.0.4");
      response.body() = std::string(kMetricsBody);
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      auto [write_ec, m] = co_await http::async_write(stream, response, kTuple);
      if (write_ec || !response.keep_alive()) co_return;
    }
  }

  enum class Kind { tcp, tls, https };

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, Kind kind) {
    asio::steady_timer backoff(io);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
        // Out of descriptors or similar: let sessions finish instead of spinning.
        backoff.expires_after(std::chrono::milliseconds(10));
        co_await backoff.async_wait(kTuple);
        continue;
      }
      auto ex = acceptor.get_executor();
      switch (kind) {
        case Kind::tcp:
          tcp_accepted.fetch_add(1, std::memory_order_relaxed);
          if (tcp_close_at_once) {
            boost::system::error_code ignored;
            socket.close(ignored);
          } else {
            asio::co_spawn(ex, hold(std::move(socket)), asio::detached);
          }
          break;
        case Kind::tls:
          asio::co_spawn(ex, tls_session(std::move(socket)), asio::detached);
          break;
        case Kind::https:
          asio::co_spawn(ex, https_session(std::move(socket)), asio::detached);
          break;
      }
    }
  }

  asio::awaitable<void> udp_sink(udp::socket& socket) {
    std::array<char, 2048> buffer;
    udp::endpoint from;
    for (;;) {
      auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buffer), from, kTuple);
      if (ec) {
        if (!socket.is_open() || ec == asio::error::operation_aborted) co_return;
        continue;
      }
      udp_datagrams.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void listen(std::uint16_t port, Kind kind) {
    auto acceptor = std::make_unique<tcp::acceptor>(io);
    boost::system::error_code ec;
    tcp::endpoint endpoint(tcp::v4(), port);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    // The kernel caps the backlog at net.core.somaxconn, which bench.sh raises.
    if (!ec) acceptor->listen(65535, ec);
    if (ec)
      throw std::runtime_error("cannot listen on 0.0.0.0:" + std::to_string(port) + ": " +
                               ec.message());
    asio::co_spawn(io, accept_loop(*acceptor, kind), asio::detached);
    acceptors.push_back(std::move(acceptor));
  }

  void bind_udp(std::uint16_t port) {
    auto socket = std::make_unique<udp::socket>(io);
    boost::system::error_code ec;
    udp::endpoint endpoint(udp::v4(), port);
    socket->open(endpoint.protocol(), ec);
    if (!ec) socket->set_option(asio::socket_base::receive_buffer_size(4 << 20), ec);
    if (!ec) socket->bind(endpoint, ec);
    if (ec)
      throw std::runtime_error("cannot bind udp 0.0.0.0:" + std::to_string(port) + ": " +
                               ec.message());
    asio::co_spawn(io, udp_sink(*socket), asio::detached);
    udp_sockets.push_back(std::move(socket));
  }
};

BenchEstate::BenchEstate() : impl_(std::make_unique<Impl>()) {}

BenchEstate::~BenchEstate() { stop(); }

void BenchEstate::start(const EstateLayout& layout) {
  Impl& im = *impl_;
  sim::CertOptions cert;
  cert.common_name = "kscprobe-bench";
  cert.key = sim::KeyType::ec_p256;
  sim::Credentials credentials = sim::make_self_signed(cert);
  im.certificate_pem = credentials.cert_pem;
  im.tls.use_certificate_chain(asio::buffer(credentials.cert_pem));
  im.tls.use_private_key(asio::buffer(credentials.key_pem), asio::ssl::context::pem);
  im.tcp_close_at_once = layout.tcp_close_at_once;
  for (auto port : layout.tcp_ports) im.listen(port, Impl::Kind::tcp);
  for (auto port : layout.tls_ports) im.listen(port, Impl::Kind::tls);
  for (auto port : layout.https_ports) im.listen(port, Impl::Kind::https);
  for (auto port : layout.udp_ports) im.bind_udp(port);
  im.guard.emplace(im.io.get_executor());
  for (int i = 0; i < std::max(1, layout.threads); ++i)
    im.threads.emplace_back([&im] { im.io.run(); });
  im.started = true;
}

void BenchEstate::stop() {
  Impl& im = *impl_;
  if (!im.started) return;
  im.started = false;
  im.guard.reset();
  im.io.stop();
  for (auto& t : im.threads) t.join();
  im.threads.clear();
  // Sockets close with the Impl; pending sessions are destroyed with the io_context.
}

EstateCounters BenchEstate::counters() const {
  const Impl& im = *impl_;
  EstateCounters c;
  c.tcp_accepted = im.tcp_accepted.load(std::memory_order_relaxed);
  c.tls_handshakes = im.tls_handshakes.load(std::memory_order_relaxed);
  c.tls_resumed = im.tls_resumed.load(std::memory_order_relaxed);
  c.tls_failures = im.tls_failures.load(std::memory_order_relaxed);
  c.https_requests = im.https_requests.load(std::memory_order_relaxed);
  c.udp_datagrams = im.udp_datagrams.load(std::memory_order_relaxed);
  return c;
}

const std::string& BenchEstate::certificate_pem() const { return impl_->certificate_pem; }

}  // namespace kscprobe::bench
