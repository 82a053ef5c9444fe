#include "daemon/target_files.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <set>

#include "config/target_file.hpp"

namespace kscprobe {

bool TargetFiles::scan(const std::vector<std::string>& patterns, std::vector<ConfigError>* errors) {
  std::set<std::string> present;
  for (const auto& pattern : patterns) {
    glob_t g{};
    if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc && present.size() < 100000; ++i)
        present.insert(g.gl_pathv[i]);
    }
    ::globfree(&g);
  }
  bool changed = false;
  for (auto it = files_.begin(); it != files_.end();) {
    if (!present.count(it->first)) {
      changed = changed || !it->second.targets.empty();
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& path : present) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    FileState& f = files_[path];
    long long mtime =
        static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
    if (f.mtime_ns == mtime && f.size == st.st_size && f.inode == st.st_ino) continue;
    f.mtime_ns = mtime;
    f.size = st.st_size;
    f.inode = st.st_ino;
    std::vector<TargetConfig> fresh;
    if (parse_target_file(path, &fresh, errors)) {
      f.targets = std::move(fresh);
      changed = true;
    }
  }
  return changed;
}

std::vector<TargetConfig> TargetFiles::targets() const {
  std::vector<TargetConfig> out;
  for (const auto& [path, f] : files_) out.insert(out.end(), f.targets.begin(), f.targets.end());
  return out;
}

void merge_targets(Config* config, const std::vector<TargetConfig>& extra,
                   std::vector<ConfigError>* errors) {
  std::set<std::string> names;
  for (const auto& t : config->targets) names.insert(t.name);
  for (const auto& t : extra) {
    if (!names.insert(t.name).second) {
      errors->push_back({t.pos, "target \"" + t.name +
                                    "\" is defined more than once; this one is "
                                    "ignored"});
      continue;
    }
    config->targets.push_back(t);
  }
}

}  // namespace kscprobe
