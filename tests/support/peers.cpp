#include "tests/support/peers.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstring>

namespace kscprobe::test {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Waits `d`, or "for ever" (a day: the io_context goes long before) when zero.
asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           d.count() > 0 ? std::chrono::milliseconds(d) : std::chrono::hours(24));
  co_await timer.async_wait(kTuple);
}

// Reads until the client goes away (or the stream fails).
template <class Stream>
asio::awaitable<void> drain(Stream& stream) {
  std::array<char, 1024> buffer;
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer), kTuple);
    if (ec) co_return;
  }
}

// Reads until the end of the request headers (or 8 KiB, or an error): the peer answers after
// the request like a real server, whatever the request looks like.
template <class Stream>
asio::awaitable<bool> read_request_head(Stream& stream) {
  std::string seen;
  std::array<char, 2048> buf;
  while (seen.size() < 8192 && seen.find("\r\n\r\n") == std::string::npos) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), kTuple);
    if (ec) co_return false;
    seen.append(buf.data(), n);
  }
  co_return true;
}

template <class Stream>
asio::awaitable<void> stall_after_headers(Stream& stream, const PeerOptions& options) {
  const bool complete = co_await read_request_head(stream);
  if (!complete) co_return;
  co_await asio::async_write(stream, asio::buffer(options.bytes), kTuple);
  co_await drain(stream);
}

// Reads the client's first bytes (a ClientHello) into `buffer`; the error when the client went
// away instead.
asio::awaitable<boost::system::error_code> read_hello(tcp::socket& socket,
                                                      std::array<char, 16384>& buffer,
                                                      const PeerOptions& options) {
  auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), kTuple);
  if (options.on_first_read) options.on_first_read();
  co_return ec;
}

asio::awaitable<void> session(tcp::socket socket, std::shared_ptr<const PeerOptions> options) {
  // A session bounded in time ends by closing its socket, whatever it awaits then.
  asio::steady_timer cap(socket.get_executor());
  if (options->keep.count() > 0) {
    cap.expires_after(options->keep);
    cap.async_wait([&socket](boost::system::error_code ec) {
      if (!ec) socket.close(ec);
    });
  }
  const Conduct conduct = options->conduct;
  boost::system::error_code ignored;
  std::array<char, 16384> buffer;
  boost::system::error_code hello_ec;
  if (conduct == Conduct::silent_after_hello || conduct == Conduct::garbage_after_hello ||
      conduct == Conduct::close_after_hello || conduct == Conduct::reset_after_hello) {
    hello_ec = co_await read_hello(socket, buffer, *options);
  }
  if (conduct == Conduct::hold) {
    co_await pause(options->keep);
  } else if (conduct == Conduct::close_at_once) {
    socket.close(ignored);
  } else if (hello_ec) {
    // The client went away before its first bytes: nothing more to do.
  } else if (conduct == Conduct::silent_after_hello) {
    co_await pause(options->keep);
  } else if (conduct == Conduct::garbage_after_hello) {
    co_await asio::async_write(socket, asio::buffer(options->bytes), kTuple);
    co_await pause(options->keep);
  } else if (conduct == Conduct::close_after_hello) {
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  } else if (conduct == Conduct::reset_after_hello) {
    // Linger 0: close() sends RST instead of FIN, in the middle of the client's handshake.
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
  } else if (conduct == Conduct::stall_after_headers && options->tls) {
    ssl::stream<tcp::socket&> stream(socket, *options->tls);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
    if (!ec) co_await stall_after_headers(stream, *options);
  } else if (conduct == Conduct::stall_after_headers) {
    co_await stall_after_headers(socket, *options);
  }
  cap.cancel();
}

asio::awaitable<void> peer_loop(tcp::acceptor acceptor,
                                std::shared_ptr<const PeerOptions> options) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      co_await pause(std::chrono::milliseconds(50));  // out of descriptors: try again soon
      continue;
    }
    if (options->accepted) options->accepted->fetch_add(1);
    if (options->on_accept) options->on_accept(socket);
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket), options), asio::detached);
  }
}

void note_sni(SSL* ssl, Seen& seen) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  seen.sni = name ? name : "";
}

asio::awaitable<void> tls_session(tcp::socket socket, std::shared_ptr<ssl::context> context,
                                  std::shared_ptr<Seen> seen) {
  ssl::stream<tcp::socket> stream(std::move(socket), *context);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
  if (ec) co_return;
  note_sni(stream.native_handle(), *seen);
  co_await drain(stream);
}

asio::awaitable<void> tls_loop(tcp::acceptor acceptor, std::shared_ptr<ssl::context> context,
                               std::shared_ptr<Seen> seen) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      co_await pause(std::chrono::milliseconds(50));  // out of descriptors: try again soon
      continue;
    }
    ++seen->connections;
    asio::co_spawn(acceptor.get_executor(), tls_session(std::move(socket), context, seen),
                   asio::detached);
  }
}

template <class Stream>
asio::awaitable<void> serve_one(Stream& stream, const ServedReply& reply, Seen& seen) {
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  auto [read_ec, n] = co_await http::async_read(stream, buffer, request, kTuple);
  if (read_ec) co_return;
  seen.method = std::string(request.method_string());
  seen.target = std::string(request.target());
  seen.host = std::string(request[http::field::host]);
  seen.user_agent = std::string(request[http::field::user_agent]);
  seen.connection = std::string(request[http::field::connection]);
  seen.accept = std::string(request[http::field::accept]);
  if (seen.on_request) seen.on_request();
  if (reply.silent) {
    co_await drain(stream);
    co_return;
  }
  if (!reply.raw.empty()) {
    co_await asio::async_write(stream, asio::buffer(reply.raw), kTuple);
    co_return;
  }
  http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
  response.set(http::field::content_type, reply.content_type);
  response.keep_alive(false);
  response.body() = reply.body;
  response.prepare_payload();
  co_await http::async_write(stream, response, kTuple);
}

asio::awaitable<void> http_session(tcp::socket socket, std::shared_ptr<const ServedReply> reply,
                                   std::shared_ptr<ssl::context> context,
                                   std::shared_ptr<Seen> seen) {
  if (!context) {
    co_await serve_one(socket, *reply, *seen);
    co_return;
  }
  ssl::stream<tcp::socket> stream(std::move(socket), *context);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
  if (ec) co_return;
  note_sni(stream.native_handle(), *seen);
  co_await serve_one(stream, *reply, *seen);
  co_await stream.async_shutdown(kTuple);
}

asio::awaitable<void> http_loop(tcp::acceptor acceptor, std::shared_ptr<const ServedReply> reply,
                                std::shared_ptr<ssl::context> context, std::shared_ptr<Seen> seen) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      co_await pause(std::chrono::milliseconds(50));  // out of descriptors: try again soon
      continue;
    }
    ++seen->connections;
    asio::co_spawn(acceptor.get_executor(), http_session(std::move(socket), reply, context, seen),
                   asio::detached);
  }
}

}  // namespace

tcp::acceptor listen_on(asio::io_context& io, const asio::ip::address& address,
                        std::uint16_t port) {
  if (port == 0) return tcp::acceptor(io, tcp::endpoint(address, 0));
  tcp::acceptor acceptor(io);
  tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen();
  return acceptor;
}

std::uint16_t closed_tcp_port(const asio::ip::address& address) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(address, 0));
  return acceptor.local_endpoint().port();
}

std::uint16_t closed_udp_port(const asio::ip::address& address) {
  asio::io_context io;
  udp::socket socket(io, udp::endpoint(address, 0));
  return socket.local_endpoint().port();
}

std::uint16_t start_peer(asio::io_context& io, tcp::acceptor acceptor, PeerOptions options) {
  std::uint16_t port = acceptor.local_endpoint().port();
  asio::co_spawn(
      io, peer_loop(std::move(acceptor), std::make_shared<const PeerOptions>(std::move(options))),
      asio::detached);
  return port;
}

std::uint16_t start_peer(asio::io_context& io, const asio::ip::address& address,
                         PeerOptions options) {
  return start_peer(io, listen_on(io, address), std::move(options));
}

FullBacklogListener::FullBacklogListener() {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd_, 0) != 0) {
    error_ = std::string("cannot create the listener: ") + std::strerror(errno);
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

FullBacklogListener::~FullBacklogListener() {
  for (int c : clients_) ::close(c);
  if (fd_ >= 0) ::close(fd_);
}

void FullBacklogListener::accept_pending() {
  for (int i = 0; i < 16; ++i) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 0) != 1) return;
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    clients_.push_back(c);
  }
}

bool FullBacklogListener::queue_full() const {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  return info.tcpi_unacked > info.tcpi_sacked;
}

std::shared_ptr<ssl::context> server_context(const sim::Credentials& credentials, bool tls12_only) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->use_certificate_chain(asio::buffer(credentials.cert_pem));
  context->use_private_key(asio::buffer(credentials.key_pem), ssl::context::pem);
  if (tls12_only) SSL_CTX_set_max_proto_version(context->native_handle(), TLS1_2_VERSION);
  return context;
}

std::uint16_t start_tls_server(asio::io_context& io, const asio::ip::address& address,
                               const sim::Credentials& credentials, std::shared_ptr<Seen> seen,
                               bool tls12_only) {
  auto acceptor = listen_on(io, address);
  std::uint16_t port = acceptor.local_endpoint().port();
  asio::co_spawn(io, tls_loop(std::move(acceptor), server_context(credentials, tls12_only), seen),
                 asio::detached);
  return port;
}

std::uint16_t start_http_server(asio::io_context& io, tcp::acceptor acceptor, ServedReply reply,
                                std::shared_ptr<Seen> seen, std::shared_ptr<ssl::context> context) {
  std::uint16_t port = acceptor.local_endpoint().port();
  asio::co_spawn(
      io,
      http_loop(std::move(acceptor), std::make_shared<const ServedReply>(std::move(reply)),
                std::move(context), std::move(seen)),
      asio::detached);
  return port;
}

std::uint16_t start_http_server(asio::io_context& io, const asio::ip::address& address,
                                ServedReply reply, std::shared_ptr<Seen> seen,
                                const sim::Credentials* credentials) {
  return start_http_server(io, listen_on(io, address), std::move(reply), std::move(seen),
                           credentials ? server_context(*credentials) : nullptr);
}

asio::awaitable<void> serve_udp(udp::socket socket, bool echo,
                                std::shared_ptr<std::string> received,
                                std::function<void()> on_datagram) {
  std::array<char, 2048> buffer;
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buffer), from, kTuple);
    if (ec) {
      if (!socket.is_open() || ec == asio::error::operation_aborted) co_return;
      continue;  // an ICMP error about an earlier peer: keep serving
    }
    if (received) *received = std::string(buffer.data(), n);
    if (on_datagram) on_datagram();
    if (echo) co_await socket.async_send_to(asio::buffer(buffer.data(), n), from, kTuple);
  }
}

std::uint16_t start_udp_server(asio::io_context& io, const udp::endpoint& endpoint, bool echo,
                               std::shared_ptr<std::string> received,
                               std::function<void()> on_datagram) {
  udp::socket socket(io, endpoint);
  std::uint16_t port = socket.local_endpoint().port();
  asio::co_spawn(io,
                 serve_udp(std::move(socket), echo, std::move(received), std::move(on_datagram)),
                 asio::detached);
  return port;
}

}  // namespace kscprobe::test
