#pragma once
// Loopback peers for the prober tests. Every server is a coroutine on the test's io_context that
// owns its sockets (moved into the coroutine frame), so a test only keeps the port; whatever is
// still pending is destroyed with the io_context. Traffic goes to 127.0.0.1 and ::1 only.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/prober.hpp"
#include "collectors/tls_context_cache.hpp"
#include "config/plan.hpp"
#include "simulator/self_signed.hpp"

namespace kscprobe::test {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using asio::ip::udp;
using namespace std::chrono_literals;

inline asio::ip::address loopback_v4() { return asio::ip::address_v4::loopback(); }
inline asio::ip::address loopback_v6() { return asio::ip::address_v6::loopback(); }

inline CheckSpec make_spec(Transport transport, std::string address, std::uint16_t port,
                           Duration timeout = Duration(3000)) {
  CheckSpec spec;
  spec.check = "test";
  spec.address = std::move(address);
  spec.port = port;
  spec.transport = transport;
  spec.timeout = timeout;
  spec.interval = Duration(30000);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Running probes

struct Probed {
  ProbeResult result;
  double wall_seconds = 0;  // measured by the test, independent of result.duration
};

// Runs one probe on `io` and returns its result. A watchdog stops the loop if the probe does not
// finish within its timeout plus 10 s, which fails the test instead of hanging it. With `cancel`,
// the probe is bound to that signal's slot, as the daemon does.
inline Probed probe(asio::io_context& io, const CheckSpec& spec, ProbeEnv& env,
                    asio::cancellation_signal* cancel = nullptr) {
  struct State {
    std::optional<ProbeResult> result;
    bool threw = false;
  };
  auto state = std::make_shared<State>();
  auto done = [state, &io](std::exception_ptr error, ProbeResult result) {
    state->threw = error != nullptr;
    state->result = std::move(result);
    io.stop();
  };
  auto start = std::chrono::steady_clock::now();
  if (cancel != nullptr) {
    asio::co_spawn(io, run_probe(spec, env), asio::bind_cancellation_slot(cancel->slot(), done));
  } else {
    asio::co_spawn(io, run_probe(spec, env), done);
  }
  auto watchdog = std::make_shared<asio::steady_timer>(io, spec.timeout + 10s);
  watchdog->async_wait([&io](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  io.restart();
  io.run();
  watchdog->cancel();
  Probed out;
  out.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(state->threw) << "run_probe threw";
  if (!state->result) {
    ADD_FAILURE() << "probe did not finish within timeout + 10s";
    return out;
  }
  out.result = std::move(*state->result);
  return out;
}

// ---------------------------------------------------------------------------------------------
// TCP peers

inline tcp::acceptor listen_on(asio::io_context& io, const asio::ip::address& address) {
  tcp::acceptor acceptor(io, tcp::endpoint(address, 0));
  return acceptor;
}

// A port on which nothing listens: bound once to learn a free port, then closed.
inline std::uint16_t closed_tcp_port(asio::io_context& io, const asio::ip::address& address) {
  tcp::acceptor acceptor(io, tcp::endpoint(address, 0));
  std::uint16_t port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

// Accepts connections and keeps them open without reading or writing. `on_accept` runs for each
// connection, with the connection, after the accept.
using OnAccept = std::function<void(tcp::socket&)>;

inline asio::awaitable<void> hold_loop(tcp::acceptor acceptor, OnAccept on_accept) {
  std::vector<tcp::socket> held;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    held.push_back(std::move(socket));
    if (on_accept) on_accept(held.back());
  }
}

inline std::uint16_t start_holding_server(asio::io_context& io, const asio::ip::address& address,
                                          OnAccept on_accept = {}) {
  auto acceptor = listen_on(io, address);
  std::uint16_t port = acceptor.local_endpoint().port();
  asio::co_spawn(io, hold_loop(std::move(acceptor), std::move(on_accept)), asio::detached);
  return port;
}

// Accepts, reads what the client sends first (a TLS ClientHello), then runs `then` with it.
using AfterFirstRead = std::function<asio::awaitable<void>(tcp::socket&)>;

inline asio::awaitable<void> first_read_loop(tcp::acceptor acceptor, AfterFirstRead then,
                                             std::function<void()> on_first_read) {
  std::vector<std::shared_ptr<tcp::socket>> held;
  for (;;) {
    auto [ec, accepted] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto socket = std::make_shared<tcp::socket>(std::move(accepted));
    held.push_back(socket);
    std::array<char, 16384> buffer;
    auto [read_ec, n] =
        co_await socket->async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (on_first_read) on_first_read();
    if (!read_ec && then) co_await then(*socket);
  }
}

// A peer that reads the client's first bytes and then does nothing: a stalled TLS server.
inline std::uint16_t start_silent_after_hello(asio::io_context& io,
                                              const asio::ip::address& address,
                                              std::function<void()> on_first_read = {}) {
  auto acceptor = listen_on(io, address);
  std::uint16_t port = acceptor.local_endpoint().port();
  asio::co_spawn(io, first_read_loop(std::move(acceptor), {}, std::move(on_first_read)),
                 asio::detached);
  return port;
}

// A peer that answers the ClientHello with bytes that are not TLS.
inline std::uint16_t start_garbage_server(asio::io_context& io, const asio::ip::address& address) {
  auto acceptor = listen_on(io, address);
  std::uint16_t port = acceptor.local_endpoint().port();
  AfterFirstRead reply = [](tcp::socket& socket) -> asio::awaitable<void> {
    static const std::string garbage = "HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS\r\n";
    co_await asio::async_write(socket, asio::buffer(garbage), asio::as_tuple(asio::use_awaitable));
  };
  asio::co_spawn(io, first_read_loop(std::move(acceptor), reply, {}), asio::detached);
  return port;
}

// A peer that reads the ClientHello and closes cleanly (FIN, nothing left unread).
inline std::uint16_t start_closing_server(asio::io_context& io, const asio::ip::address& address) {
  auto acceptor = listen_on(io, address);
  std::uint16_t port = acceptor.local_endpoint().port();
  AfterFirstRead close = [](tcp::socket& socket) -> asio::awaitable<void> {
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    co_return;
  };
  asio::co_spawn(io, first_read_loop(std::move(acceptor), close, {}), asio::detached);
  return port;
}

// A listener whose accept queue is full, so the kernel drops new SYNs: the probe's connect gets
// no answer at all (the classic "filtered" port). listen(fd, 0) allows one queued connection;
// TCP_INFO on a listener reports the queue length (tcpi_unacked) and its limit (tcpi_sacked).
class FullBacklogListener {
 public:
  FullBacklogListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 0) != 0) {
      ADD_FAILURE() << "cannot create the listener";
      return;
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    for (int i = 0; i < 4 && !queue_full(); ++i) {
      int client = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      clients_.push_back(client);
      ::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      pollfd pfd{client, POLLOUT, 0};
      ::poll(&pfd, 1, 2000);  // the handshake completes at once on loopback
      // The final ACK reaches the listener's queue asynchronously; wait for the kernel's own
      // count to show it, for at most 2 s.
      for (int spin = 0; spin < 2000 && !queue_full(); ++spin) ::poll(nullptr, 0, 1);
    }
  }
  ~FullBacklogListener() {
    for (int c : clients_) ::close(c);
    if (fd_ >= 0) ::close(fd_);
  }
  FullBacklogListener(const FullBacklogListener&) = delete;
  FullBacklogListener& operator=(const FullBacklogListener&) = delete;

  std::uint16_t port() const { return port_; }

  /// Accepts what the queue holds (at most 16), making room for the next handshake.
  void accept_pending() {
    for (int i = 0; i < 16; ++i) {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 0) != 1) return;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      clients_.push_back(c);
    }
  }

  bool queue_full() const {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
    return info.tcpi_unacked > info.tcpi_sacked;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> clients_;
};

// ---------------------------------------------------------------------------------------------
// TLS peers

inline std::shared_ptr<ssl::context> server_context(const sim::Credentials& credentials,
                                                    bool tls12_only = false) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->use_certificate_chain(asio::buffer(credentials.cert_pem));
  context->use_private_key(asio::buffer(credentials.key_pem), ssl::context::pem);
  if (tls12_only) SSL_CTX_set_max_proto_version(context->native_handle(), TLS1_2_VERSION);
  return context;
}

// What a TLS or HTTP test server saw from the probe.
struct Seen {
  int connections = 0;
  std::string sni;  // server name the client sent, empty if none
  std::string method;
  std::string target;
  std::string host;
  std::string user_agent;
  std::string connection;
  std::string accept;
  std::function<void()> on_request;  // runs when an HTTP request has been read
};

inline void note_sni(SSL* ssl, Seen& seen) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  seen.sni = name ? name : "";
}

// Completes TLS handshakes, then waits for the client to go away.
inline asio::awaitable<void> tls_loop(tcp::acceptor acceptor, std::shared_ptr<ssl::context> context,
                                      std::shared_ptr<Seen> seen) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    ++seen->connections;
    ssl::stream<tcp::socket> stream(std::move(socket), *context);
    auto [hs_ec] = co_await stream.async_handshake(ssl::stream_base::server,
                                                   asio::as_tuple(asio::use_awaitable));
    if (hs_ec) continue;
    note_sni(stream.native_handle(), *seen);
    std::array<char, 1024> buffer;
    for (;;) {
      auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(buffer),
                                                          asio::as_tuple(asio::use_awaitable));
      if (read_ec) break;
    }
  }
}

inline std::uint16_t start_tls_server(asio::io_context& io, const asio::ip::address& address,
                                      const sim::Credentials& credentials,
                                      std::shared_ptr<Seen> seen = std::make_shared<Seen>(),
                                      bool tls12_only = false) {
  auto acceptor = listen_on(io, address);
  std::uint16_t port = acceptor.local_endpoint().port();
  asio::co_spawn(io, tls_loop(std::move(acceptor), server_context(credentials, tls12_only), seen),
                 asio::detached);
  return port;
}

// ---------------------------------------------------------------------------------------------
// HTTP peers

struct HttpReply {
  int status = 200;
  std::string body = "ok\n";
  std::string content_type = "text/plain";
  std::string raw;      // when set, written verbatim instead of a proper response
  bool silent = false;  // read the request and never answer
};

template <class Stream>
asio::awaitable<void> serve_one(Stream& stream, const HttpReply& reply, Seen& seen) {
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  auto [read_ec, n] =
      co_await http::async_read(stream, buffer, request, asio::as_tuple(asio::use_awaitable));
  if (read_ec) co_return;
  seen.method = std::string(request.method_string());
  seen.target = std::string(request.target());
  seen.host = std::string(request[http::field::host]);
  seen.user_agent = std::string(request[http::field::user_agent]);
  seen.connection = std::string(request[http::field::connection]);
  seen.accept = std::string(request[http::field::accept]);
  if (seen.on_request) seen.on_request();
  if (reply.silent) {
    std::array<char, 64> sink;
    co_await stream.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
    co_return;
  }
  if (!reply.raw.empty()) {
    co_await asio::async_write(stream, asio::buffer(reply.raw),
                               asio::as_tuple(asio::use_awaitable));
    co_return;
  }
  http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
  response.set(http::field::content_type, reply.content_type);
  response.keep_alive(false);
  response.body() = reply.body;
  response.prepare_payload();
  co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
}

inline asio::awaitable<void> http_loop(tcp::acceptor acceptor, HttpReply reply,
                                       std::shared_ptr<ssl::context> context,
                                       std::shared_ptr<Seen> seen) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    ++seen->connections;
    if (context) {
      ssl::stream<tcp::socket> stream(std::move(socket), *context);
      auto [hs_ec] = co_await stream.async_handshake(ssl::stream_base::server,
                                                     asio::as_tuple(asio::use_awaitable));
      if (hs_ec) continue;
      note_sni(stream.native_handle(), *seen);
      co_await serve_one(stream, reply, *seen);
    } else {
      co_await serve_one(socket, reply, *seen);
    }
  }
}

// An HTTP server, or HTTPS when `credentials` is given, answering every request with `reply`.
inline std::uint16_t start_http_server(asio::io_context& io, const asio::ip::address& address,
                                       HttpReply reply, std::shared_ptr<Seen> seen,
                                       const sim::Credentials* credentials = nullptr) {
  auto acceptor = listen_on(io, address);
  std::uint16_t port = acceptor.local_endpoint().port();
  auto context = credentials ? server_context(*credentials) : nullptr;
  asio::co_spawn(io, http_loop(std::move(acceptor), std::move(reply), context, seen),
                 asio::detached);
  return port;
}

// ---------------------------------------------------------------------------------------------
// UDP peers

// Echoes every datagram back; `received` gets the last payload, `on_datagram` runs per datagram.
inline asio::awaitable<void> udp_echo_loop(udp::socket socket,
                                           std::shared_ptr<std::string> received, bool echo,
                                           std::function<void()> on_datagram) {
  std::array<char, 2048> buffer;
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buffer), from,
                                                      asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    *received = std::string(buffer.data(), n);
    if (on_datagram) on_datagram();
    if (echo) {
      co_await socket.async_send_to(asio::buffer(buffer.data(), n), from,
                                    asio::as_tuple(asio::use_awaitable));
    }
  }
}

inline std::uint16_t start_udp_server(asio::io_context& io, const asio::ip::address& address,
                                      bool echo, std::shared_ptr<std::string> received,
                                      std::function<void()> on_datagram = {}) {
  udp::socket socket(io, udp::endpoint(address, 0));
  std::uint16_t port = socket.local_endpoint().port();
  asio::co_spawn(
      io, udp_echo_loop(std::move(socket), std::move(received), echo, std::move(on_datagram)),
      asio::detached);
  return port;
}

inline std::uint16_t closed_udp_port(asio::io_context& io, const asio::ip::address& address) {
  udp::socket socket(io, udp::endpoint(address, 0));
  std::uint16_t port = socket.local_endpoint().port();
  socket.close();
  return port;
}

// ---------------------------------------------------------------------------------------------
// Files

// A file under the test temp directory, removed when the object goes.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content)
      : path_(::testing::TempDir() + "kscprobe_" + std::to_string(::getpid()) + "_" + name) {
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kscprobe::test
