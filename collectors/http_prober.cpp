#include "collectors/http_prober.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <string>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/exposition_parser.hpp"
#include "collectors/tls_handshake.hpp"

namespace kscprobe {
namespace detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::string host_header(const CheckSpec& spec, bool tls) {
  // Over TLS the Host matches the SNI name when one is configured: virtual hosts that select on
  // SNI may refuse a request whose Host names another site.
  std::string host = tls && !spec.options().tls.server_name.empty()
                         ? spec.options().tls.server_name
                         : host_for_authority(spec.address);
  if (spec.port != (tls ? 443 : 80)) host += ":" + std::to_string(spec.port);
  return host;
}

template <class Stream>
asio::awaitable<void> exchange(ProbeRun& run, Stream& stream, bool tls) {
  const CheckSpec& spec = run.spec;
  run.begin(Phase::request);
  http::request<http::empty_body> request{
      http::verb::get, spec.options().http_path.empty() ? "/" : spec.options().http_path, 11};
  request.set(http::field::host, host_header(spec, tls));
  request.set(http::field::user_agent, "kscprobe/" KSCPROBE_VERSION);
  request.set(http::field::connection, "close");
  // What Prometheus asks for, so that a negotiating exporter answers in the text format.
  request.set(http::field::accept,
              spec.options().expect_metrics ? "text/plain;version=0.0.4;q=1,*/*;q=0.1" : "*/*");
  auto [write_ec, written] =
      co_await http::async_write(stream, request, asio::as_tuple(asio::use_awaitable));
  if (write_ec) {
    run.fail(write_ec);
    co_return;
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  limit_response_parser(parser);
  auto [read_ec, read] =
      co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (auto ec = end_of_response(read_ec, parser)) {
    run.fail(ec);
    co_return;
  }
  run.end_phase();

  const auto& response = parser.get();
  int status = static_cast<int>(response.result_int());
  run.result.http_status = status;
  HttpVerdict verdict = judge_http_response(spec.options(), status, response.body());
  if (verdict.success) {
    run.succeed(std::move(verdict.detail));
  } else {
    run.fail(verdict.reason, std::move(verdict.detail));
  }
}

asio::awaitable<void> http_body(ProbeRun& run) {
  tcp::socket socket(co_await asio::this_coro::executor);
  AbortOnDeadline guard(run, socket);
  if (!co_await resolve_and_connect(run, socket)) co_return;
  co_await exchange(run, socket, false);
}

asio::awaitable<void> https_body(ProbeRun& run) {
  co_await over_tls(run, [&run](TlsStream& stream) -> asio::awaitable<bool> {
    co_await exchange(run, stream, true);
    co_return run.result.success;
  });
}

}  // namespace
}  // namespace detail

void limit_response_parser(boost::beast::http::basic_parser<false>& parser) {
  parser.header_limit(64 * 1024);
  parser.body_limit(16 * 1024 * 1024);
}

boost::system::error_code end_of_response(boost::system::error_code ec,
                                          boost::beast::http::basic_parser<false>& parser) {
  if (ec == boost::asio::ssl::error::stream_truncated && parser.is_header_done()) {
    // Many servers drop the TCP connection without close_notify after a body delimited by the
    // end of the connection; for such a body that is its end, as it is for plain HTTP.
    ec = {};
    parser.put_eof(ec);
  }
  return ec;
}

HttpVerdict judge_http_response(const ProbeOptions& options, int status, std::string_view body) {
  HttpVerdict v;
  if (!options.statuses.matches(status)) {
    v.reason = Reason::http_status;
    v.detail =
        "HTTP status " + std::to_string(status) + " is not in " + options.statuses.to_string();
    return v;
  }
  if (options.expect_metrics) {
    ExpositionSummary summary;
    if (!parse_exposition(body, &summary)) {
      v.reason = Reason::protocol;
      v.detail = "invalid metrics exposition: line " + std::to_string(summary.error_line) + ": " +
                 summary.error;
      return v;
    }
    if (summary.samples == 0) {
      v.reason = Reason::protocol;
      v.detail = "metrics exposition has no samples";
      return v;
    }
    v.success = true;
    v.detail =
        "HTTP " + std::to_string(status) + ", " + std::to_string(summary.samples) + " samples";
    return v;
  }
  v.success = true;
  v.detail = "HTTP " + std::to_string(status);
  return v;
}

boost::asio::awaitable<ProbeResult> probe_http(const CheckSpec& spec, ProbeEnv& env) {
  return detail::run_probe_body(spec, env, &detail::http_body);
}

boost::asio::awaitable<ProbeResult> probe_https(const CheckSpec& spec, ProbeEnv& env) {
  return detail::run_probe_body(spec, env, &detail::https_body);
}

}  // namespace kscprobe
