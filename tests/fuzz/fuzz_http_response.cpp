// libFuzzer target: what the http and https probers read from a peer. Raw bytes go through a
// Beast response parser with the probers' limits (collectors/http_prober.cpp), then through the
// prober's verdict: the status against the default accepted list, and the body through the
// exposition validator as metrics_https does.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>

#include "collectors/exposition_parser.hpp"
#include "config/config.hpp"
#include "tests/fuzz/fuzz_stream.hpp"

namespace http = boost::beast::http;

namespace {
// The same limits as kHeaderLimit / kBodyLimit in collectors/http_prober.cpp.
constexpr std::uint32_t kHeaderLimit = 64 * 1024;
constexpr std::uint64_t kBodyLimit = 16 * 1024 * 1024;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kscprobe::fuzz::ChunkedStream stream(data, size);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  boost::system::error_code ec;
  http::read(stream, buffer, parser, ec);
  if (ec) return 0;
  const auto& response = parser.get();
  int status = static_cast<int>(response.result_int());
  static const kscprobe::StatusMatcher accepted = kscprobe::StatusMatcher::answering();
  if (accepted.matches(status)) {
    kscprobe::ExpositionSummary summary;
    (void)kscprobe::parse_exposition(response.body(), &summary);
  }
  return 0;
}
