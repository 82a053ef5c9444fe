#pragma once
#include <map>
#include <string>
#include <vector>

#include "config/compose.hpp"
#include "config/config.hpp"
#include "config/target_file.hpp"

namespace kscprobe {

/// The targets of the `target_files` globs, re-read when a file changes (mtime, size or inode:
/// editors and config management replace files by rename). A file that fails to parse keeps
/// its last good targets until it is fixed; a file that disappears takes its targets with it.
class TargetFiles : public TargetSource {
 public:
  /// Re-scans `patterns`. Returns true if the targets changed. Errors of files that changed
  /// are appended to `errors` (each once per change).
  bool scan(const std::vector<std::string>& patterns, std::vector<ConfigError>* errors);
  /// Every file target, in file-name order, then file order.
  std::vector<TargetConfig> targets() const;
  std::size_t files() const { return files_.size(); }
  /// scan, then targets(): how compose reads the target files.
  std::vector<TargetConfig> read(const std::vector<std::string>& patterns,
                                 std::vector<ConfigError>* errors) override;

 private:
  struct FileState {
    long long mtime_ns = -1;
    long long size = -1;
    unsigned long long inode = 0;
    std::vector<TargetGroup> groups;  // last good content
  };
  std::map<std::string, FileState> files_;
};

}  // namespace kscprobe
