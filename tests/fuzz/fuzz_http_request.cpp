// libFuzzer target: the request path of the daemon's HTTP endpoint, through the functions
// daemon/web/http_server.cpp serves with (daemon/web/http_server_detail.hpp). Raw bytes, split into
// reads of a size the input chooses, go through the server's request parser with the server's own
// limits (HttpServer::Limits); a read error gets the answer the server sends for it (431, 413,
// 400 or none); a parsed request becomes an HttpRequest, passes the basic-auth check of a
// listener with one user, is answered (by /probe's real handler for /probe, by a body of the
// request's choosing otherwise), gzipped when the server would, and serialized as the server
// writes it. Keep-alive: up to four requests from one connection's buffer, as a session reads
// them. /probe has no configured target and an empty allow-list, so it refuses every target and
// never probes; the target's CIDR matching runs against a separate allow-list.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "collectors/prober.hpp"
#include "collectors/tls_context_cache.hpp"
#include "daemon/exposition/gzip_stream.hpp"
#include "daemon/web/bcrypt.hpp"
#include "daemon/web/http_server_detail.hpp"
#include "daemon/web/probe_endpoint.hpp"
#include "daemon/web/query_string.hpp"
#include "daemon/web/web_security.hpp"
#include "tests/fuzz/fuzz_stream.hpp"

namespace http = boost::beast::http;
namespace asio = boost::asio;

namespace {

const kscprobe::AllowList& allow_list() {
  static const kscprobe::AllowList list = [] {
    kscprobe::AllowList out;
    std::string error;
    if (!kscprobe::AllowList::parse({"10.0.0.0/8", "192.0.2.0/24", "::1/128", "fd00::/8"}, &out,
                                    &error)) {
      std::abort();
    }
    return out;
  }();
  return list;
}

// A listener with basic auth: user "prometheus", password "secret" (bcrypt at the lowest cost,
// so that the fuzzer finding the right credentials does not slow it down).
const kscprobe::WebSecurity& security() {
  static const kscprobe::WebSecurity sec = [] {
    kscprobe::WebSecurity s;
    std::string hash = kscprobe::bcrypt::crypt("secret", kscprobe::bcrypt::make_setting(4, {}));
    if (hash.empty()) std::abort();
    s.users.push_back({"prometheus", hash});
    return s;
  }();
  return sec;
}

struct Endpoint {
  asio::io_context io;
  kscprobe::TlsContextCache tls_cache;
  kscprobe::ProbeEnv env{io.get_executor(), &tls_cache};
  kscprobe::ProbeEndpoint probe{io.get_executor(), env};
  Endpoint() {
    // No target and an empty allow-list: every target is refused before any probe starts.
    probe.configure(std::make_shared<const kscprobe::Plan>(), kscprobe::AllowList{}, 1);
  }
};

Endpoint& endpoint() {
  static Endpoint e;
  return e;
}

kscprobe::HttpResponse answer(kscprobe::HttpRequest r) {
  if (r.path == "/probe") {
    Endpoint& e = endpoint();
    kscprobe::HttpResponse out;
    asio::co_spawn(e.io, e.probe.handle(std::move(r)),
                   [&out](std::exception_ptr ex, kscprobe::HttpResponse res) {
                     if (ex) std::abort();  // the handler must answer, not throw
                     out = std::move(res);
                   });
    e.io.restart();
    e.io.run();
    return out;
  }
  // Any other path: a body the request chooses, marked compressible like /metrics.
  kscprobe::HttpResponse out;
  out.body = r.query;
  while (!out.body.empty() && out.body.size() < 4096) out.body += out.body;
  out.compressible = true;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const kscprobe::HttpServer::Limits limits;
  kscprobe::fuzz::ChunkedStream stream(data, size);
  boost::beast::flat_buffer buffer;
  for (int i = 0; i < 4; ++i) {
    kscprobe::http_detail::RequestParser parser;
    kscprobe::http_detail::limit_request_parser(parser, limits);
    boost::system::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) {
      if (auto res = kscprobe::http_detail::read_error_response(ec)) {
        if (res->result_int() != 400 && res->result_int() != 413 && res->result_int() != 431)
          std::abort();
      }
      break;
    }
    const auto& req = parser.get();
    kscprobe::HttpRequest r = kscprobe::http_detail::to_http_request(req);
    std::string accept_encoding = r.header("accept-encoding");
    std::vector<std::pair<std::string, std::string>> query;
    std::string query_error;
    if (kscprobe::parse_query(r.query, &query, &query_error)) {
      for (const auto& [name, value] : query)
        if (name == "target") (void)allow_list().allows(value);
    }
    std::string host, error;
    unsigned port = 0;
    (void)kscprobe::parse_listen_address(r.path, &host, &port, &error);
    kscprobe::HttpResponse out;
    if (auto refused = kscprobe::http_detail::refuse_unauthorized(r, &security())) {
      out = std::move(*refused);
    } else {
      out = answer(std::move(r));
    }
    if (kscprobe::http_detail::should_gzip(out, accept_encoding)) {
      std::string gz;
      if (!kscprobe::gzip_compress(out.body, &gz)) std::abort();
      out.body = std::move(gz);
      out.headers.push_back({"Content-Encoding", "gzip"});
    }
    auto res = kscprobe::http_detail::to_beast_response(std::move(out), req);
    std::ostringstream wire;
    wire << res;
    if (!res.keep_alive()) break;
  }
  return 0;
}
