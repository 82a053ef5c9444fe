#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace kscprobe {

/// The outcome of loading a configuration: a validated Config, or every error that was found.
struct LoadResult {
  /// Set only when the whole file is valid.
  std::optional<Config> config;
  /// Every problem, sorted by position; never just the first one.
  std::vector<ConfigError> errors;

  bool ok() const { return config.has_value() && errors.empty(); }
  /// All errors as `file:line:column: message`, one per line.
  std::string error_text() const;
};

/// Reads and validates a TOML configuration file. A relative `ca_file` is resolved against the
/// directory of `path`, so a config keeps working whatever the daemon's working directory is.
/// Never throws on bad input: a missing or unreadable file is one error naming the file.
LoadResult load_config_file(const std::string& path);

/// Validates TOML text; `source_name` is the file name used in error positions. A relative
/// `ca_file` is resolved against the current working directory.
LoadResult load_config_string(std::string_view toml_text, std::string source_name);

}  // namespace kscprobe
