// libFuzzer target: the TOML configuration loader and plan expansion. Any text must give either
// a valid Config or positioned errors, never a crash, hang or leak; a valid Config must expand.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/loader.hpp"
#include "config/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kscprobe::LoadResult result = kscprobe::load_config_string(text, "fuzz.toml");
  if (result.ok()) {
    kscprobe::Plan plan = kscprobe::expand_plan(*result.config);
    (void)plan;
  } else {
    // Formatting the errors is what --config.check prints: it must hold for any input too.
    (void)result.error_text();
  }
  return 0;
}
