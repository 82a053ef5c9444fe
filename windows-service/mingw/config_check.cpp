#include "windows-service/mingw/config_check.hpp"

#include "config/loader.hpp"
#include "config/plan.hpp"

namespace kscprobe {

int config_check(const std::string& file, std::ostream& out) {
  LoadResult r = load_config_file(file);
  if (!r.ok()) {
    for (const auto& e : r.errors) out << e.format() << '\n';
    out << r.errors.size() << (r.errors.size() == 1 ? " error" : " errors") << '\n';
    return 1;
  }
  Plan plan = expand_plan(*r.config);
  out << file << ": valid, " << plan.targets.size() << " targets, " << plan.checks.size()
      << " checks\n";
  return 0;
}

}  // namespace kscprobe
