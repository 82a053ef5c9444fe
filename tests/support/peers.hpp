#pragma once
// The peers the probers, the load tests and the fault matrix talk to: servers that answer well
// (TLS, HTTP, UDP echo) and servers that misbehave (hold a connection, send garbage, close or
// reset mid-handshake, stall after the headers, a full accept queue). Every server is a
// coroutine on the caller's io_context that owns its sockets, one session per connection, so a
// caller keeps only the port; whatever is still pending is destroyed with the io_context.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "simulator/self_signed.hpp"

namespace kscprobe::test {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using asio::ip::udp;

inline asio::ip::address loopback_v4() { return asio::ip::address_v4::loopback(); }
inline asio::ip::address loopback_v6() { return asio::ip::address_v6::loopback(); }

/// A listening acceptor on `address`:`port` (0: a free port; a fixed port reuses the address).
tcp::acceptor listen_on(asio::io_context& io, const asio::ip::address& address,
                        std::uint16_t port = 0);

/// A TCP (UDP) port on which nothing listens: bound once to learn a free port, then closed.
std::uint16_t closed_tcp_port(const asio::ip::address& address = loopback_v4());
std::uint16_t closed_udp_port(const asio::ip::address& address = loopback_v4());

// ---------------------------------------------------------------------------------------------
// Misbehaving TCP peers

/// What a misbehaving peer does with each connection it accepts.
enum class Conduct {
  hold,                 ///< nothing: never reads, never writes, keeps it open
  close_at_once,        ///< closes it at once (an open port, for a connect check)
  silent_after_hello,   ///< reads the client's first bytes (a ClientHello), then nothing
  garbage_after_hello,  ///< reads the first bytes, answers PeerOptions::bytes (not TLS)
  close_after_hello,    ///< reads the first bytes, closes cleanly (FIN)
  reset_after_hello,    ///< reads the first bytes, resets (RST: linger 0)
  stall_after_headers,  ///< reads a request's headers, sends PeerOptions::bytes (headers that
                        ///< promise more body), then sends nothing more until the client leaves
};

struct PeerOptions {
  Conduct conduct = Conduct::hold;
  /// The garbage of garbage_after_hello, the headers of stall_after_headers.
  std::string bytes;
  /// stall_after_headers behind a TLS handshake with this context.
  std::shared_ptr<ssl::context> tls;
  /// Runs for each connection, with it, after the accept.
  std::function<void(tcp::socket&)> on_accept;
  /// Runs when a connection's first bytes have been read (the *_after_hello conducts).
  std::function<void()> on_first_read;
  /// Counts the accepted connections (may be read from another thread).
  std::atomic<long>* accepted = nullptr;
  /// A session closes its connection after this long, whatever it is doing (zero: a session
  /// lasts until the client leaves or the io_context goes).
  std::chrono::milliseconds keep{0};
};

/// The garbage a peer sends instead of a ServerHello.
inline const std::string kNotTls = "HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS\r\n";
/// Headers that promise 100 bytes of body and the 3 that come.
inline const std::string kStalledHeaders = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";

/// Serves `acceptor` with `options`; returns its port.
std::uint16_t start_peer(asio::io_context& io, tcp::acceptor acceptor, PeerOptions options);
/// The same on a free port of `address`.
std::uint16_t start_peer(asio::io_context& io, const asio::ip::address& address,
                         PeerOptions options);

/// A listener whose accept queue is full, so the kernel drops new SYNs: a connect gets no answer
/// at all (the classic "filtered" port). listen(fd, 0) allows one queued connection; TCP_INFO on
/// a listener reports the queue length (tcpi_unacked) and its limit (tcpi_sacked).
class FullBacklogListener {
 public:
  FullBacklogListener();
  ~FullBacklogListener();
  FullBacklogListener(const FullBacklogListener&) = delete;
  FullBacklogListener& operator=(const FullBacklogListener&) = delete;

  /// False (with the reason in error()) when the listener could not be made.
  bool ok() const { return port_ != 0; }
  const std::string& error() const { return error_; }
  std::uint16_t port() const { return port_; }
  /// Accepts what the queue holds (at most 16), making room for the next handshake.
  void accept_pending();
  bool queue_full() const;

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string error_;
  std::vector<int> clients_;
};

// ---------------------------------------------------------------------------------------------
// TLS and HTTP peers

std::shared_ptr<ssl::context> server_context(const sim::Credentials& credentials,
                                             bool tls12_only = false);

/// What a TLS or HTTP peer saw from its clients.
struct Seen {
  int connections = 0;
  std::string sni;  ///< server name the client sent, empty if none
  std::string method;
  std::string target;
  std::string host;
  std::string user_agent;
  std::string connection;
  std::string accept;
  std::function<void()> on_request;  ///< runs when an HTTP request has been read
};

/// Completes TLS handshakes, then waits for each client to go away.
std::uint16_t start_tls_server(asio::io_context& io, const asio::ip::address& address,
                               const sim::Credentials& credentials,
                               std::shared_ptr<Seen> seen = std::make_shared<Seen>(),
                               bool tls12_only = false);

/// How an HTTP peer answers every request.
struct ServedReply {
  int status = 200;
  std::string body = "ok\n";
  std::string content_type = "text/plain";
  std::string raw;      ///< when set, written verbatim instead of a proper response
  bool silent = false;  ///< read the request and never answer
};

/// An HTTP server on `acceptor`, or HTTPS with `context`, answering every request with `reply`.
std::uint16_t start_http_server(asio::io_context& io, tcp::acceptor acceptor, ServedReply reply,
                                std::shared_ptr<Seen> seen,
                                std::shared_ptr<ssl::context> context = nullptr);
/// The same on a free port of `address`, HTTPS when `credentials` is given.
std::uint16_t start_http_server(asio::io_context& io, const asio::ip::address& address,
                                ServedReply reply, std::shared_ptr<Seen> seen,
                                const sim::Credentials* credentials = nullptr);

// ---------------------------------------------------------------------------------------------
// UDP peers

/// Receives datagrams on `socket` and echoes them when `echo`; `received` gets the last payload,
/// `on_datagram` runs for each.
asio::awaitable<void> serve_udp(udp::socket socket, bool echo,
                                std::shared_ptr<std::string> received,
                                std::function<void()> on_datagram = {});

/// serve_udp on `endpoint` (port 0: a free one); returns the port.
std::uint16_t start_udp_server(asio::io_context& io, const udp::endpoint& endpoint, bool echo,
                               std::shared_ptr<std::string> received = nullptr,
                               std::function<void()> on_datagram = {});
inline std::uint16_t start_udp_server(asio::io_context& io, const asio::ip::address& address,
                                      bool echo, std::shared_ptr<std::string> received = nullptr,
                                      std::function<void()> on_datagram = {}) {
  return start_udp_server(io, udp::endpoint(address, 0), echo, std::move(received),
                          std::move(on_datagram));
}

// ---------------------------------------------------------------------------------------------

/// Peers on an io_context and a thread of their own, so the loop under test is measured alone.
class PeerThread {
 public:
  PeerThread() : guard_(io_.get_executor()) {}
  ~PeerThread() { stop(); }
  PeerThread(const PeerThread&) = delete;
  PeerThread& operator=(const PeerThread&) = delete;
  asio::io_context& io() { return io_; }
  void start() {
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    guard_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace kscprobe::test
