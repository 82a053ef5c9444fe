// libFuzzer target: the Prometheus text exposition validator that the metrics_https check runs
// on what a (possibly hostile) KSC host on 13296 sends back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collectors/exposition_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kscprobe::ExpositionSummary summary;
  bool ok = kscprobe::parse_exposition(text, &summary);
  // The documented contract: a valid text has no error line, an invalid one names its line.
  if (ok != (summary.error_line == 0)) std::abort();
  if (!ok && summary.error.empty()) std::abort();
  return 0;
}
