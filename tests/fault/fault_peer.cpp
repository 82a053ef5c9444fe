// kscprobe-fault-peer: the misbehaving hosts of the fault matrix, on fixed ports of one address.
// It runs inside the target network namespace that tests/fault/run_matrix.sh creates; the ports
// are fixed (not 0) because the matrix config, the nftables rules and blackbox_exporter's targets
// are written before it starts. Every session is bounded in time, and the whole process exits
// after --lifetime seconds even if nobody stops it, so a failed run cannot leave it behind.
//
//   8080 tcp  HTTP 200 with a metrics body         (open)
//   8443 tcp  TLS; HTTP 200 with a metrics body    (open, tls and https)
//   7001 tcp  accepts, never sends a byte          (a peer that never speaks TLS)
//   7002 tcp  answers the ClientHello with garbage (not a ServerHello)
//   7003 tcp  reads the ClientHello, then resets   (RST mid-handshake)
//   7004 tcp  HTTP headers, then stalls the body   (plain)
//   7005 tcp  TLS, HTTP headers, then stalls       (https)
//   7200-7203 tcp TLS+HTTP 200, udp silent         (behind the nftables drop/reject rules)
//   15000 udp  reads and discards                  (KSC's silent UDP ports)
//   15001 udp  echoes                              (a UDP port that answers)
//   7100       nothing listens                     (closed)
#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "simulator/self_signed.hpp"

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using asio::ip::udp;
using namespace std::chrono_literals;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

enum class Mode { http_ok, tls_http_ok, silent, garbage, reset, http_stall, tls_http_stall };

constexpr std::string_view kMetrics =
    "# HELP ksc_Transport__Number_of_all_connections Connections.\n"
    "# TYPE ksc_Transport__Number_of_all_connections gauge\n"
    "ksc_Transport__Number_of_all_connections 42\n";

std::string ok_response() {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
         std::to_string(kMetrics.size()) + "\r\nConnection: close\r\n\r\n" + std::string(kMetrics);
}

// Headers that promise a body which never comes: the client must give up on its own deadline.
constexpr std::string_view kStallHeaders =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial";

// Reads until the end of the request headers (or 8 KiB, or an error): the peer answers after
// the request like a real server, whatever the request looks like.
template <class Stream>
asio::awaitable<void> read_request(Stream& stream) {
  std::string seen;
  std::array<char, 2048> buf;
  while (seen.size() < 8192 && seen.find("\r\n\r\n") == std::string::npos) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), kUse);
    if (ec) co_return;
    seen.append(buf.data(), n);
  }
}

asio::awaitable<void> hold(asio::steady_timer::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(kUse);
}

asio::awaitable<void> serve_tls(tcp::socket socket, std::shared_ptr<ssl::context> ctx, bool stall) {
  ssl::stream<tcp::socket> stream(std::move(socket), *ctx);
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kUse);
  if (hec) co_return;
  co_await read_request(stream);
  if (stall) {
    co_await asio::async_write(stream, asio::buffer(kStallHeaders), kUse);
    co_await hold(30s);
    co_return;
  }
  std::string response = ok_response();
  co_await asio::async_write(stream, asio::buffer(response), kUse);
  co_await stream.async_shutdown(kUse);
}

asio::awaitable<void> session(tcp::socket socket, Mode mode, std::shared_ptr<ssl::context> ctx) {
  // Every session ends within 30 s whatever the client does.
  asio::steady_timer cap(socket.get_executor(), 30s);
  cap.async_wait([&socket](boost::system::error_code ec) {
    if (!ec) socket.close(ec);
  });
  switch (mode) {
    case Mode::http_ok: {
      co_await read_request(socket);
      std::string response = ok_response();
      co_await asio::async_write(socket, asio::buffer(response), kUse);
      break;
    }
    case Mode::tls_http_ok:
    case Mode::tls_http_stall:
      co_await serve_tls(std::move(socket), ctx, mode == Mode::tls_http_stall);
      break;
    case Mode::silent:
      co_await hold(30s);
      break;
    case Mode::garbage: {
      std::array<char, 2048> buf;
      co_await socket.async_read_some(asio::buffer(buf), kUse);
      constexpr std::string_view kJunk = "SSH-2.0-not-a-tls-server\r\n\x01\x02\x03garbage\r\n";
      co_await asio::async_write(socket, asio::buffer(kJunk), kUse);
      co_await hold(200ms);
      break;
    }
    case Mode::reset: {
      std::array<char, 2048> buf;
      co_await socket.async_read_some(asio::buffer(buf), kUse);
      // Linger 0: close() sends RST instead of FIN, in the middle of the client's handshake.
      boost::system::error_code ignored;
      socket.set_option(asio::socket_base::linger(true, 0), ignored);
      socket.close(ignored);
      break;
    }
    case Mode::http_stall:
      co_await read_request(socket);
      co_await asio::async_write(socket, asio::buffer(kStallHeaders), kUse);
      co_await hold(30s);
      break;
  }
  cap.cancel();
}

asio::awaitable<void> accept_loop(tcp::acceptor acceptor, Mode mode,
                                  std::shared_ptr<ssl::context> ctx) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUse);
    if (ec) {
      if (!acceptor.is_open()) co_return;
      co_await hold(50ms);
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket), mode, ctx), asio::detached);
  }
}

asio::awaitable<void> udp_loop(udp::socket socket, bool echo) {
  std::array<char, 2048> buf;
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buf), from, kUse);
    if (ec) {
      if (!socket.is_open()) co_return;
      continue;
    }
    if (echo) co_await socket.async_send_to(asio::buffer(buf.data(), n), from, kUse);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1";
  int lifetime = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view arg = argv[i];
    if (arg == "--address") {
      address = argv[i + 1];
    } else if (arg == "--lifetime") {
      lifetime = std::atoi(argv[i + 1]);
    } else {
      std::cerr << "usage: kscprobe-fault-peer [--address A] [--lifetime SECONDS]\n";
      return 2;
    }
  }
  try {
    asio::io_context io;
    auto ip = asio::ip::make_address(address);
    kscprobe::sim::CertOptions cert;
    cert.common_name = "fault-peer";
    cert.ip_addresses = {address};
    auto credentials = kscprobe::sim::make_self_signed(cert);
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->use_certificate_chain(asio::buffer(credentials.cert_pem));
    ctx->use_private_key(asio::buffer(credentials.key_pem), ssl::context::pem);

    auto listen = [&](unsigned short port, Mode mode) {
      tcp::acceptor acceptor(io);
      tcp::endpoint ep(ip, port);
      acceptor.open(ep.protocol());
      acceptor.set_option(tcp::acceptor::reuse_address(true));
      acceptor.bind(ep);
      acceptor.listen();
      asio::co_spawn(io, accept_loop(std::move(acceptor), mode, ctx), asio::detached);
    };
    auto bind_udp = [&](unsigned short port, bool echo) {
      udp::socket socket(io, udp::endpoint(ip, port));
      asio::co_spawn(io, udp_loop(std::move(socket), echo), asio::detached);
    };
    listen(8080, Mode::http_ok);
    listen(8443, Mode::tls_http_ok);
    listen(7001, Mode::silent);
    listen(7002, Mode::garbage);
    listen(7003, Mode::reset);
    listen(7004, Mode::http_stall);
    listen(7005, Mode::tls_http_stall);
    for (unsigned short port = 7200; port <= 7203; ++port) {
      listen(port, Mode::tls_http_ok);
      bind_udp(port, false);
    }
    bind_udp(15000, false);
    bind_udp(15001, true);

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
    asio::steady_timer lifetime_cap(io, std::chrono::seconds(lifetime));
    lifetime_cap.async_wait([&](boost::system::error_code) { io.stop(); });
    std::cout << "fault-peer ready" << std::endl;
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "kscprobe-fault-peer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
