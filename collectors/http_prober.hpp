#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>

#include "collectors/probe_result.hpp"
#include "collectors/prober.hpp"
#include "config/plan.hpp"

namespace boost::beast::http {
template <bool isRequest>
class basic_parser;
}  // namespace boost::beast::http

namespace kscprobe {

/// HTTP check: GET spec.http_path with Host, User-Agent "kscprobe/<version>" and
/// Connection: close. Sets result.http_status; fails with Reason::http_status when the status is
/// not in spec.statuses, and with Reason::protocol when spec.expect_metrics and the body is not
/// Prometheus text exposition with at least one sample (or the response is malformed).
boost::asio::awaitable<ProbeResult> probe_http(const CheckSpec& spec, ProbeEnv& env);

/// HTTPS check: the TLS handshake of probe_tls (same SNI, certificate report, CA file and pin
/// checks), then the request of probe_http.
boost::asio::awaitable<ProbeResult> probe_https(const CheckSpec& spec, ProbeEnv& env);

/// The steps of probe_http/probe_https from the bytes of a response to the check's verdict, as
/// functions of their own so that the response fuzzer (tests/fuzz/fuzz_http_response.cpp) runs
/// the probers' own code.
///
/// Sets the probers' limits on a response parser: a longer header or body fails the check.
void limit_response_parser(boost::beast::http::basic_parser<false>& parser);

/// The outcome of reading a response that ended with `ec`. A TLS peer that drops the connection
/// without close_notify after the header ends a body delimited by the end of the connection, as
/// a plain TCP close does.
boost::system::error_code end_of_response(boost::system::error_code ec,
                                          boost::beast::http::basic_parser<false>& parser);

/// What a check concludes from a response read in full.
struct HttpVerdict {
  bool success = false;
  Reason reason = Reason::none;  // when not successful
  std::string detail;
};

/// The status against options.statuses, then with options.expect_metrics (the metrics checks,
/// such as Administration Server's 13296) the body as Prometheus text exposition with at least
/// one sample.
HttpVerdict judge_http_response(const ProbeOptions& options, int status, std::string_view body);

}  // namespace kscprobe
