#pragma once
// YAML files (target files, --web.config.file) read with their errors positioned.
#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace kscprobe {

/// Where `mark` points in `path`, 1-based (0:0 for a null mark).
SourcePos yaml_position(const std::string& path, const YAML::Mark& mark);

/// Loads `path` into `root`. On failure appends one positioned error ("cannot read `what`" when
/// the file cannot be read, the parser's message otherwise) and returns false.
bool load_yaml_file(const std::string& path, std::string_view what, YAML::Node* root,
                    std::vector<ConfigError>* errors);

}  // namespace kscprobe
