#include "config/target_files.hpp"

#include <set>

#include "platform/files.hpp"

namespace kscprobe {

bool TargetFiles::scan(const std::vector<std::string>& patterns, std::vector<ConfigError>* errors) {
  std::set<std::string> present;
  for (const auto& pattern : patterns) {
    for (auto& path : platform::glob_files(pattern, 100000 - present.size()))
      present.insert(std::move(path));
  }
  bool changed = false;
  for (auto it = files_.begin(); it != files_.end();) {
    if (!present.count(it->first)) {
      changed = changed || !it->second.groups.empty();
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& path : present) {
    auto stamp = platform::file_stamp(path);
    if (!stamp) continue;
    FileState& f = files_[path];
    if (f.mtime_ns == stamp->mtime_ns && f.size == stamp->size && f.inode == stamp->inode) continue;
    f.mtime_ns = stamp->mtime_ns;
    f.size = stamp->size;
    f.inode = stamp->inode;
    std::vector<TargetGroup> fresh;
    if (parse_target_groups(path, &fresh, errors)) {
      f.groups = std::move(fresh);
      changed = true;
    }
  }
  return changed;
}

std::vector<TargetConfig> TargetFiles::targets() const {
  std::vector<TargetConfig> out;
  for (const auto& [path, f] : files_) expand_target_groups(path, f.groups, &out);
  return out;
}

std::vector<TargetConfig> TargetFiles::read(const std::vector<std::string>& patterns,
                                            std::vector<ConfigError>* errors) {
  scan(patterns, errors);
  return targets();
}

}  // namespace kscprobe
