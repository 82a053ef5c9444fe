#pragma once
// The steps of daemon/web/http_server.cpp between the bytes of a request and the response it sends,
// as functions of their own: the server's sessions call them, and so does the request fuzzer
// (tests/fuzz/fuzz_http_request.cpp), so that what is fuzzed is what serves. They use Beast types,
// which is why they are not in http_server.hpp.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string_view>

#include "daemon/web/http_server.hpp"

namespace kscprobe::http_detail {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// Applies the server's header and body limits to the parser of one request.
void limit_request_parser(RequestParser& parser, const HttpServer::Limits& limits);

/// What the server sends when reading a request failed with `ec`: 431 or 413 for a request over
/// the limits, 400 for a malformed one; nothing when the client went away, timed out, or broke
/// TLS (the connection just closes).
std::optional<BeastResponse> read_error_response(const boost::system::error_code& ec);

/// The request as handlers see it: path and query split, header names lowercased.
HttpRequest to_http_request(const BeastRequest& req);

/// The 401 answer when the listener's basic auth refuses the request; nothing when `sec` is null
/// or the credentials are good (the request goes to the handler).
std::optional<HttpResponse> refuse_unauthorized(const HttpRequest& req, const WebSecurity* sec);

/// True when `out` is sent gzipped to a client that sent this Accept-Encoding value.
bool should_gzip(const HttpResponse& out, std::string_view accept_encoding);

/// The response the server writes for `out` to `req` (headers, keep-alive, no body for HEAD).
BeastResponse to_beast_response(HttpResponse out, const BeastRequest& req);

}  // namespace kscprobe::http_detail
