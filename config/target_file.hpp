#pragma once
#include <string>
#include <vector>

#include "config/config.hpp"

namespace kscprobe {

/// One group of a target file as read: what its labels configure, and its addresses with where
/// each stands. A large file is mostly addresses; kept this way it costs a few dozen bytes per
/// target between reloads.
struct TargetGroup {
  TargetConfig proto;  // role, features, engine, labels; no name, address or position
  struct Member {
    std::string address;
    int line = 0;
    int column = 0;
  };
  std::vector<Member> members;
};

/// Parses a Prometheus file_sd file (JSON or YAML; JSON is read as YAML):
///
///     [{"targets": ["10.1.0.5", "pc-0042.corp"], "labels": {"role": "agent", "site": "lyon"}}]
///
/// Each address becomes a target named after it. Labels `role` (required), `features`
/// (comma-separated) and `engine` configure it; labels starting with "__" are ignored, as
/// Prometheus drops them; every other label is added to the target's series. Every error is
/// collected as file:line:column. Returns true when the file has no error.
bool parse_target_groups(const std::string& path, std::vector<TargetGroup>* groups,
                         std::vector<ConfigError>* errors);

/// Appends one target per member of `groups` (read from `path`), named after its address.
void expand_target_groups(const std::string& path, const std::vector<TargetGroup>& groups,
                          std::vector<TargetConfig>* targets);

/// parse_target_groups, then expand_target_groups.
bool parse_target_file(const std::string& path, std::vector<TargetConfig>* targets,
                       std::vector<ConfigError>* errors);

}  // namespace kscprobe
