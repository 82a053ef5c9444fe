#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <limits>

namespace kscprobe::test {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

template <class Stream>
asio::awaitable<void> exchange(Stream& stream, const HttpRequest& rq, HttpReply& out) {
  http::request<http::string_body> req;
  req.method_string(rq.method);
  req.target(rq.target);
  req.version(rq.version);
  bool has_host = false;
  for (const auto& [name, value] : rq.headers) {
    req.insert(name, value);
    has_host = has_host || ::strcasecmp(name.c_str(), "host") == 0;
  }
  if (!has_host) req.set(http::field::host, rq.host);
  if (!rq.body.empty()) {
    req.body() = rq.body;
    req.prepare_payload();
  }
  if (auto [ec, n] = co_await http::async_write(stream, req, kTuple); ec) {
    out.error = "write: " + ec.message();
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (rq.method == "HEAD") parser.skip(true);
  auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
  // A TLS peer that closes without close_notify: the end of a body that runs to the close.
  if (ec == ssl::error::stream_truncated && parser.is_header_done()) {
    if (!parser.is_done()) {
      boost::system::error_code eof_ec;
      parser.put_eof(eof_ec);
      ec = eof_ec;
    } else {
      ec = {};
    }
  }
  if (parser.is_header_done()) {
    const auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.headers = "HTTP/" + std::to_string(res.version() / 10) + "." +
                  std::to_string(res.version() % 10) + " " + std::to_string(out.status) + " " +
                  std::string(res.reason());
    for (const auto& field : res) {
      out.headers += "\r\n" + std::string(field.name_string()) + ": " + std::string(field.value());
    }
    out.body = parser.get().body();
  }
  if (ec) out.error = "read: " + ec.message();
}

std::shared_ptr<ssl::context> client_context(const TlsClientOptions& o) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  if (o.verify) {
    ctx->set_verify_mode(ssl::verify_peer);
    ctx->add_certificate_authority(asio::buffer(o.ca_pem));
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  if (o.max_version != 0) SSL_CTX_set_max_proto_version(ctx->native_handle(), o.max_version);
  if (!o.cert_pem.empty() && !o.key_pem.empty()) {
    ctx->use_certificate(asio::buffer(o.cert_pem), ssl::context::pem);
    ctx->use_private_key(asio::buffer(o.key_pem), ssl::context::pem);
  }
  return ctx;
}

}  // namespace

std::string HttpReply::header(std::string_view name) const {
  std::size_t pos = headers.find("\r\n");
  while (pos != std::string::npos) {
    pos += 2;
    std::size_t end = headers.find("\r\n", pos);
    std::string_view line(headers.data() + pos,
                          (end == std::string::npos ? headers.size() : end) - pos);
    std::size_t colon = line.find(':');
    if (colon == name.size() && ::strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return std::string(value);
    }
    pos = end;
  }
  return {};
}

std::string HttpReply::text() const { return headers + "\r\n\r\n" + body; }

asio::awaitable<HttpReply> async_fetch(HttpRequest rq) {
  HttpReply out;
  const auto start = std::chrono::steady_clock::now();
  auto executor = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(rq.host, ec), rq.port);
  if (ec) {
    out.error = "address: " + ec.message();
    co_return out;
  }
  if (rq.tls) {
    auto ctx = client_context(*rq.tls);
    ssl::stream<beast::tcp_stream> stream(executor, *ctx);
    stream.next_layer().expires_after(rq.timeout);
    if (auto [cec] = co_await stream.next_layer().async_connect(endpoint, kTuple); cec) {
      out.error = "connect: " + cec.message();
    } else if (auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
               hec) {
      out.error = "handshake: " + hec.message();
    } else {
      co_await exchange(stream, rq, out);
    }
    stream.next_layer().close();
  } else {
    beast::tcp_stream stream(executor);
    stream.expires_after(rq.timeout);
    if (auto [cec] = co_await stream.async_connect(endpoint, kTuple); cec) {
      out.error = "connect: " + cec.message();
    } else {
      co_await exchange(stream, rq, out);
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  co_return out;
}

HttpReply fetch(const HttpRequest& request) {
  asio::io_context io;
  HttpReply out;
  std::exception_ptr failure;
  asio::co_spawn(io, async_fetch(request), [&](std::exception_ptr e, HttpReply reply) {
    failure = e;
    out = std::move(reply);
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return out;
}

std::optional<HttpReply> http_request(unsigned port, const std::string& method,
                                      const std::string& target) {
  HttpRequest rq;
  rq.port = static_cast<std::uint16_t>(port);
  rq.method = method;
  rq.target = target;
  rq.timeout = std::chrono::seconds(15);
  HttpReply reply = fetch(rq);
  if (reply.status == 0) return std::nullopt;
  return reply;
}

int connect_loopback(unsigned port, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string raw_exchange(unsigned port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  int fd = connect_loopback(port, timeout);
  if (fd < 0) return {};
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string gunzip(std::string_view data, std::size_t limit) {
  z_stream z{};
  // 15 window bits + 16: a gzip stream (header and trailer), nothing else.
  if (inflateInit2(&z, 15 + 16) != Z_OK) return {};
  std::string out;
  out.resize(std::min(limit, std::max<std::size_t>(data.size() * 4, 4096)));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  for (;;) {
    if (z.total_out == out.size()) {
      if (out.size() >= limit) break;
      out.resize(std::min(limit, out.size() * 2));
    }
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(out.size() - z.total_out);
    rc = inflate(&z, Z_NO_FLUSH);
    // Z_BUF_ERROR with a full output buffer only asks for more room.
    if (rc == Z_OK || (rc == Z_BUF_ERROR && z.avail_out == 0)) continue;
    break;
  }
  std::size_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return {};
  out.resize(produced);
  return out;
}

}  // namespace kscprobe::test
