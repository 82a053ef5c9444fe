// libFuzzer target: the request path of the daemon's HTTP endpoint. Raw bytes go through a Beast
// request parser with the limits of daemon/http_server.cpp (taken from HttpServer::Limits, so
// they stay in step), then through what the server and /probe do with a parsed request: split
// the target into path and query, lowercase header names, decode the query, match the target
// against an allow-list; and through the listen-address parser of --web.listen-address.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/http_server.hpp"
#include "daemon/probe_endpoint.hpp"
#include "tests/fuzz/fuzz_stream.hpp"

namespace http = boost::beast::http;

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const kscprobe::HttpServer::Limits limits;
  kscprobe::fuzz::ChunkedStream stream(data, size);
  boost::beast::flat_buffer buffer;
  // Keep-alive: the server parses request after request from one connection's buffer.
  for (int i = 0; i < 4; ++i) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
    parser.body_limit(limits.body_limit);
    boost::system::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) break;
    const auto& req = parser.get();
    kscprobe::HttpRequest r;
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
    (void)r.header("authorization");
    for (const auto& [name, value] : kscprobe::parse_query(r.query)) {
      if (name == "target") (void)allow_list().allows(value);
    }
    std::string host, error;
    unsigned port = 0;
    (void)kscprobe::parse_listen_address(r.path, &host, &port, &error);
    if (!req.keep_alive()) break;
  }
  return 0;
}
