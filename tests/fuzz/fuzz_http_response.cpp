// libFuzzer target: what the http and https probers read from a peer, through the probers' own
// functions (collectors/http_prober.hpp). Raw bytes, split into reads of a size the input
// chooses, go through a response parser with the probers' limits (limit_response_parser); the
// read's end is settled as the prober settles it (end_of_response, which also ends a body cut by
// a TLS close without close_notify); a read error is mapped to its reason as the prober maps it;
// a response read in full is judged (judge_http_response) as a plain http check (default status
// list) and as a metrics check (expect_metrics, the exposition parser: Administration Server's
// 13296), and the verdict must be consistent with the status.
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "collectors/error_mapping.hpp"
#include "collectors/http_prober.hpp"
#include "tests/fuzz/fuzz_stream.hpp"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kscprobe::fuzz::ChunkedStream stream(data, size);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  kscprobe::limit_response_parser(parser);
  boost::system::error_code ec;
  http::read(stream, buffer, parser, ec);
  // Over TLS the end of the input would be a truncated stream: the input's first byte picks
  // which of the two the prober sees.
  if (ec == http::error::partial_message && size > 0 && (data[0] & 1))
    ec = boost::asio::ssl::error::stream_truncated;
  if (auto failed = kscprobe::end_of_response(ec, parser)) {
    kscprobe::MappedError mapped = kscprobe::map_error(failed, kscprobe::Phase::request);
    if (mapped.reason == kscprobe::Reason::none) std::abort();  // a failed read is a failure
    return 0;
  }
  if (!parser.is_done()) std::abort();
  const auto& response = parser.get();
  int status = static_cast<int>(response.result_int());
  static const kscprobe::ProbeOptions plain;
  static const kscprobe::ProbeOptions metrics = [] {
    kscprobe::ProbeOptions o;
    o.http_path = "/metrics";
    o.expect_metrics = true;
    return o;
  }();
  kscprobe::HttpVerdict v = kscprobe::judge_http_response(plain, status, response.body());
  if (v.success != plain.statuses.matches(status)) std::abort();
  if (!v.success && v.reason != kscprobe::Reason::http_status) std::abort();
  kscprobe::HttpVerdict m = kscprobe::judge_http_response(metrics, status, response.body());
  if (m.success && !v.success) std::abort();  // the metrics check only adds conditions
  if (!m.success && v.success && m.reason != kscprobe::Reason::protocol) std::abort();
  return 0;
}
