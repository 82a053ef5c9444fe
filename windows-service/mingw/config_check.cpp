#include "windows-service/mingw/config_check.hpp"

#include "config/compose.hpp"

namespace kscprobe {

int config_check(const std::string& file, std::ostream& out) {
  ConfigSources sources;
  sources.file = file;
  // No target source: this build links no YAML parser (Debian has no mingw yaml-cpp), so the
  // files of `target_files` are not read and their targets are not counted, nor their errors
  // reported. The reduced command line has no --web.config.file (YAML too) and no --shard;
  // everything else is the daemon's composition and check_config's output.
  return check_config(sources, nullptr, out, out);
}

}  // namespace kscprobe
