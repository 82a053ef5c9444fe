#pragma once
#include <string>
#include <vector>

#include "config/config.hpp"

namespace kscprobe {

/// Parses a Prometheus file_sd file (JSON or YAML; JSON is read as YAML):
///
///     [{"targets": ["10.1.0.5", "pc-0042.corp"], "labels": {"role": "agent", "site": "lyon"}}]
///
/// Each address becomes a target named after it. Labels `role` (required), `features`
/// (comma-separated) and `engine` configure it; labels starting with "__" are ignored, as
/// Prometheus drops them; every other label is added to the target's series. Every error is
/// collected as file:line:column. Returns true when the file has no error.
bool parse_target_file(const std::string& path, std::vector<TargetConfig>* targets,
                       std::vector<ConfigError>* errors);

}  // namespace kscprobe
