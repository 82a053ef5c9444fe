#include "daemon/web/http_server.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <unordered_map>

#include "daemon/exposition/gzip_stream.hpp"
#include "daemon/web/http_server_detail.hpp"
#include "daemon/web/web_security.hpp"
#include "platform/net.hpp"

namespace kscprobe {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

bool accepts_gzip(std::string_view v) {
  // Token list like "gzip, deflate;q=0.5"; "gzip;q=0" means no.
  std::size_t i = 0;
  while (i < v.size()) {
    std::size_t end = v.find(',', i);
    if (end == std::string_view::npos) end = v.size();
    std::string_view item = v.substr(i, end - i);
    i = end + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    std::size_t semi = item.find(';');
    std::string_view token = item.substr(0, semi);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    std::string lower(token);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "gzip" && lower != "*") continue;
    if (semi != std::string_view::npos) {
      std::string_view params = item.substr(semi + 1);
      auto q = params.find("q=");
      if (q != std::string_view::npos) {
        // A weight that does not parse counts as 0 (not acceptable), as atof's 0 did.
        std::string_view w = params.substr(q + 2);
        double weight = 0;
        auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), weight);
        (void)end;
        if (ec != std::errc() || weight <= 0) return false;
      }
    }
    return true;
  }
  return false;
}

// Bodies from this size on are compressed off the event loop.
constexpr std::size_t kCompressOffLoop = 256 * 1024;

bool parse_listen_address(const std::string& text, std::string* host, unsigned* port,
                          std::string* error) {
  std::string h, p;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *error = "listen address \"" + text + "\" must look like [::1]:PORT";
      return false;
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      *error = "listen address \"" + text + "\" must look like HOST:PORT or :PORT";
      return false;
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string::npos) {
      *error = "listen address \"" + text + "\": put IPv6 addresses in brackets, e.g. [::1]:PORT";
      return false;
    }
  }
  if (p.empty() || p.size() > 5 ||
      !std::all_of(p.begin(), p.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      std::stoul(p) > 65535) {
    *error = "listen address \"" + text + "\" has an invalid port \"" + p + "\"";
    return false;
  }
  *host = h;
  *port = static_cast<unsigned>(std::stoul(p));
  return true;
}

namespace http_detail {

void limit_request_parser(RequestParser& parser, const HttpServer::Limits& limits) {
  parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
  parser.body_limit(limits.body_limit);
}

std::optional<BeastResponse> read_error_response(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit || ec == http::error::body_limit) {
    BeastResponse res{ec == http::error::header_limit
                          ? http::status::request_header_fields_too_large
                          : http::status::payload_too_large,
                      11};
    res.set(http::field::connection, "close");
    res.body() = "request too large\n";
    res.prepare_payload();
    return res;
  }
  if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
      ec == beast::error::timeout || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec.category() == asio::error::get_ssl_category() ||
      ec == asio::ssl::error::stream_truncated) {
    return std::nullopt;
  }
  BeastResponse res{http::status::bad_request, 11};
  res.set(http::field::connection, "close");
  res.body() = "bad request\n";
  res.prepare_payload();
  return res;
}

HttpRequest to_http_request(const BeastRequest& req) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  return r;
}

std::optional<HttpResponse> refuse_unauthorized(const HttpRequest& req, const WebSecurity* sec) {
  if (!sec || sec->authorized(req.header("authorization"))) return std::nullopt;
  HttpResponse out;
  out.status = 401;
  out.body = "unauthorized\n";
  out.headers.push_back({"WWW-Authenticate", "Basic realm=\"kscprobe\", charset=\"UTF-8\""});
  return out;
}

bool should_gzip(const HttpResponse& out, std::string_view accept_encoding) {
  return out.compressible && out.body.size() > 1024 && accepts_gzip(accept_encoding);
}

BeastResponse to_beast_response(HttpResponse out, const BeastRequest& req) {
  if (out.compressible) out.headers.push_back({"Vary", "Accept-Encoding"});
  BeastResponse res{static_cast<http::status>(out.status), req.version()};
  res.set(http::field::server, "kscprobe");
  res.set(http::field::content_type, out.content_type);
  for (const auto& [k, v] : out.headers) res.set(k, v);
  res.keep_alive(req.keep_alive());
  if (req.method() != http::verb::head) res.body() = std::move(out.body);
  res.prepare_payload();
  return res;
}

}  // namespace http_detail

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::any_io_executor e, Handler h, Limits l)
      : ex(e), handler(std::move(h)), limits(l), acceptor(e) {}

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (acceptor.is_open()) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        // EMFILE and friends: keep serving the open connections, retry shortly.
        asio::steady_timer t(ex, std::chrono::milliseconds(100));
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      if (streams.size() - closing >= limits.max_connections && !make_room()) {
        boost::system::error_code ignored;
        sock.close(ignored);
        continue;
      }
      asio::co_spawn(ex, session(std::move(sock)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket sock) {
    auto self = shared_from_this();
    std::shared_ptr<const WebSecurity> sec = security;  // settings of when the client came
    beast::tcp_stream tcp_stream(std::move(sock));
    streams.emplace(&tcp_stream, Connection{std::chrono::steady_clock::now()});
    if (sec && sec->tls) {
      beast::ssl_stream<beast::tcp_stream&> tls_stream(tcp_stream, *sec->tls);
      // A plain-HTTP client, a port scanner or a slow client fails or times out here.
      tcp_stream.expires_after(std::chrono::seconds(10));
      auto [ec] = co_await tls_stream.async_handshake(asio::ssl::stream_base::server,
                                                      asio::as_tuple(asio::use_awaitable));
      if (!ec) co_await serve(tls_stream, sec.get());
    } else {
      co_await serve(tcp_stream, sec.get());
    }
    boost::system::error_code ignored;
    tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (auto it = streams.find(&tcp_stream); it != streams.end()) {
      if (it->second.closing) --closing;
      streams.erase(it);
    }
  }

  /// At the connection limit: closes the connection that has waited longest for a request (an
  /// idle keep-alive, a slow or silent client), so that a new client is served rather than
  /// refused while idle ones hold every slot. False if every connection is busy answering.
  bool make_room() {
    Connection* oldest = nullptr;
    beast::tcp_stream* stream = nullptr;
    for (auto& [s, c] : streams) {
      if (c.waiting && !c.closing && (!oldest || c.waiting_since < oldest->waiting_since)) {
        oldest = &c;
        stream = s;
      }
    }
    if (!oldest) return false;
    oldest->closing = true;
    ++closing;
    boost::system::error_code ignored;
    stream->socket().close(ignored);
    return true;
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, const WebSecurity* sec) {
    auto& lowest = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    for (;;) {
      http_detail::RequestParser parser;
      http_detail::limit_request_parser(parser, limits);
      // One deadline for the whole request, header and body: a client sending a byte now and
      // then does not push it back.
      lowest.expires_after(std::chrono::seconds(limits.idle_timeout_seconds));
      Connection& conn = streams.at(&lowest);
      conn.waiting = true;
      conn.waiting_since = std::chrono::steady_clock::now();
      auto [ec, n] =
          co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      (void)n;
      conn.waiting = false;
      if (ec) {
        if (auto res = http_detail::read_error_response(ec)) {
          lowest.expires_after(std::chrono::seconds(5));
          co_await http::async_write(stream, *res, asio::as_tuple(asio::use_awaitable));
        }
        co_return;
      }
      auto& req = parser.get();
      HttpRequest r = http_detail::to_http_request(req);
      std::string accept_encoding = r.header("accept-encoding");
      HttpResponse out;
      if (auto refused = http_detail::refuse_unauthorized(r, sec)) {
        out = std::move(*refused);
      } else {
        out = co_await handler(std::move(r));
      }
      if (http_detail::should_gzip(out, accept_encoding)) {
        std::string gz;
        bool compressed = false;
        if (out.body.size() < kCompressOffLoop) {
          compressed = gzip_compress(out.body, &gz);
        } else {
          // Tens of megabytes (a large estate's /metrics) take a few hundred milliseconds to
          // compress: done on a worker thread so probes keep starting on time meanwhile. The
          // body is not touched here until the worker is done with it.
          compressed = co_await asio::co_spawn(
              compression_executor(),
              [&body = out.body, &gz]() -> asio::awaitable<bool> {
                co_return gzip_compress(body, &gz);
              },
              asio::use_awaitable);
        }
        if (compressed) {
          out.body = std::move(gz);
          out.headers.push_back({"Content-Encoding", "gzip"});
        }
      }
      auto res = http_detail::to_beast_response(std::move(out), req);
      lowest.expires_after(std::chrono::seconds(limits.idle_timeout_seconds));
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      (void)wn;
      if (wec || !res.keep_alive()) co_return;
    }
  }

  asio::any_io_executor ex;
  Handler handler;
  Limits limits;
  tcp::acceptor acceptor;
  struct Connection {
    std::chrono::steady_clock::time_point waiting_since;  // for a request (or a TLS handshake)
    bool waiting = true;   // false while a request is handled and answered
    bool closing = false;  // closed by make_room(), its session not yet ended
  };
  std::unordered_map<beast::tcp_stream*, Connection> streams;
  std::size_t closing = 0;
  std::shared_ptr<const WebSecurity> security;
};

HttpServer::HttpServer(asio::any_io_executor ex, Handler handler, Limits limits)
    : impl_(std::make_shared<Impl>(ex, std::move(handler), limits)) {}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::listen(const std::string& address, std::string* error) {
  std::string host;
  unsigned port = 0;
  if (!parse_listen_address(address, &host, &port, error)) return false;
  boost::system::error_code ec;
  tcp::endpoint ep;
  if (host.empty()) {
    // Every address: IPv6 wildcard in dual-stack mode, or IPv4 where IPv6 is off.
    ep = tcp::endpoint(tcp::v6(), static_cast<unsigned short>(port));
    impl_->acceptor.open(ep.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(asio::ip::v6_only(false), ec);
    if (ec) {
      ec.clear();
      if (impl_->acceptor.is_open()) impl_->acceptor.close(ec);
      ep = tcp::endpoint(tcp::v4(), static_cast<unsigned short>(port));
      impl_->acceptor.open(ep.protocol(), ec);
    }
  } else {
    auto addr = asio::ip::make_address(host, ec);
    if (ec) {
      // A host name: resolve it synchronously, once, at start-up.
      tcp::resolver resolver(impl_->ex);
      auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec || results.empty()) {
        *error = "cannot resolve listen address \"" + address + "\": " + ec.message();
        return false;
      }
      ep = results.begin()->endpoint();
    } else {
      ep = tcp::endpoint(addr, static_cast<unsigned short>(port));
    }
    impl_->acceptor.open(ep.protocol(), ec);
  }
#ifdef _WIN32
  // SO_REUSEADDR would let another process bind the same port on Windows: exclusive use instead
  // (Windows lets a restarted listener bind at once anyway).
  if (!ec) {
    BOOL one = TRUE;
    if (::setsockopt(impl_->acceptor.native_handle(), SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
                     reinterpret_cast<const char*>(&one), sizeof one) != 0)
      ec.assign(WSAGetLastError(), boost::system::system_category());
  }
#else
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
#endif
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + address + ": " + ec.message();
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    return false;
  }
  asio::co_spawn(impl_->ex, impl_->accept_loop(), asio::detached);
  return true;
}

bool HttpServer::adopt(int fd, std::string* error) {
  boost::system::error_code ec;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    *error = "inherited socket " + std::to_string(fd) + " is not a socket";
    return false;
  }
  auto protocol = ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
  impl_->acceptor.assign(protocol, fd, ec);
  if (ec) {
    *error = "cannot use inherited socket " + std::to_string(fd) + ": " + ec.message();
    return false;
  }
  asio::co_spawn(impl_->ex, impl_->accept_loop(), asio::detached);
  return true;
}

std::string HttpServer::local_address() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return {};
  auto a = ep.address();
  if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(ep.port());
  return a.to_string() + ":" + std::to_string(ep.port());
}

unsigned HttpServer::local_port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void HttpServer::set_security(std::shared_ptr<const WebSecurity> security) {
  impl_->security = std::move(security);
}

void HttpServer::set_max_connections(std::size_t n) { impl_->limits.max_connections = n ? n : 1; }

std::size_t HttpServer::max_connections() const { return impl_->limits.max_connections; }

bool HttpServer::tls_enabled() const { return impl_->security && impl_->security->tls; }

void HttpServer::stop() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  for (auto& entry : impl_->streams) entry.first->socket().close(ignored);
}

}  // namespace kscprobe
