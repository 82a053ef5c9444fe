#include "config/compose.hpp"

#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_set>

#include "config/loader.hpp"

namespace kscprobe {

bool compose_base(const ConfigSources& sources, Config* base, std::vector<ConfigError>* errors) {
  LoadResult r = sources.file.empty() ? load_config_string(sources.text, sources.text_name)
                                      : load_config_file(sources.file);
  if (!r.ok()) {
    *errors = std::move(r.errors);
    if (errors->empty()) errors->push_back({{sources.file, 0, 0}, "invalid configuration"});
    return false;
  }
  if (sources.web_file) {
    WebConfig web;
    if (!sources.web_file(&web, errors)) return false;
    r.config->web = std::move(web);
  }
  if (sources.shard) {
    r.config->daemon.shard_index = sources.shard->index;
    r.config->daemon.shard_count = sources.shard->count;
  }
  *base = std::move(*r.config);
  return true;
}

std::shared_ptr<const Plan> compose_plan(const Config& base, TargetSource* targets,
                                         std::vector<ConfigError>* errors,
                                         const DiscoveredTargets* discovered,
                                         std::vector<ConfigError>* warnings) {
  std::optional<Config> merged;
  if (targets) {
    merged.emplace(base);
    merge_targets(&*merged, targets->read(base.target_files.patterns, errors), errors);
  }
  const Config& config = merged ? *merged : base;
  std::vector<DiscoveredPick> more;
  if (discovered) {
    std::vector<ConfigError> ignored;
    more = select_discovered(config, *discovered, warnings ? warnings : &ignored);
  }
  return std::make_shared<const Plan>(expand_plan(config, more));
}

ComposedConfig compose(const ConfigSources& sources, TargetSource* targets,
                       const DiscoveredTargets* discovered) {
  ComposedConfig c;
  if (compose_base(sources, &c.base, &c.errors))
    c.plan = compose_plan(c.base, targets, &c.target_errors, discovered, &c.warnings);
  return c;
}

void print_errors(const std::vector<ConfigError>& errors, std::ostream& out) {
  for (const auto& e : errors) out << e.format() << '\n';
  out << errors.size() << (errors.size() == 1 ? " error" : " errors") << '\n';
}

int check_config(const ConfigSources& sources, TargetSource* targets, std::ostream& out,
                 std::ostream& err, const ConfigInspector& inspect) {
  ComposedConfig c = compose(sources, targets);
  if (!c.ok()) {
    print_errors(c.errors, err);
    return 1;
  }
  if (!c.target_errors.empty()) {
    print_errors(c.target_errors, err);
    return 1;
  }
  const Plan& plan = *c.plan;
  out << sources.name() << ": valid, " << plan.targets.size() << " targets, " << plan.checks.size()
      << " checks";
  if (plan.daemon.shard_count > 1)
    out << " in shard " << plan.daemon.shard_index << "/" << plan.daemon.shard_count;
  // Their devices are learnt when the daemon runs; the check only validates the sections.
  if (const std::size_t n = c.base.ksc.size())
    out << ", and the devices of " << n << (n == 1 ? " KSC server" : " KSC servers");
  out << "\n";
  for (const KscSource& k : c.base.ksc) {
    // Which kind of account the login is for is the first thing to check when KSC refuses it.
    out << "ksc \"" << k.name << "\": logs in to " << redact_url(k.url) << " as "
        << (k.internal ? "a KSC internal user" : "a domain user") << " \""
        << (k.domain.empty() ? k.user : k.domain + "\\" + k.user)
        << "\" (internal = " << (k.internal ? "true" : "false") << "); devices: ";
    if (k.groups.empty()) {
      out << "every managed device";
    } else {
      out << "the groups";
      for (const auto& g : k.groups) out << " \"" << g << "\"";
      out << " and their subgroups";
    }
    out << (k.include_unassigned ? ", \"Unassigned devices\" included" : "")
        << (k.host_filter.empty() ? "" : ", filtered by host_filter") << "\n";
    for (const std::string& w : ksc_security_warnings(k))
      err << ConfigError{k.pos, "ksc \"" + k.name + "\": warning: " + w}.format() << '\n';
  }
  if (inspect) inspect(plan, c.base);
  return 0;
}

void merge_targets(Config* config, std::vector<TargetConfig>&& extra,
                   std::vector<ConfigError>* errors) {
  std::set<std::string> names;
  for (const auto& t : config->targets) names.insert(t.name);
  config->targets.reserve(config->targets.size() + extra.size());
  for (auto& t : extra) {
    if (!names.insert(t.name).second) {
      errors->push_back({t.pos, "target \"" + t.name +
                                    "\" is defined more than once; this one is "
                                    "ignored"});
      continue;
    }
    config->targets.push_back(std::move(t));
  }
}

std::vector<DiscoveredPick> select_discovered(const Config& config,
                                              const DiscoveredTargets& discovered,
                                              std::vector<ConfigError>* warnings) {
  // A target file and a KSC that list the same estate clash on every device: the first of the
  // warnings say which, one more counts the rest.
  constexpr std::size_t kMaxWarnings = 20;
  std::size_t clashes = 0, count = 0;
  SourcePos last_pos;
  for (const auto& list : discovered) count += list.targets.size();
  std::unordered_set<std::string_view> names;
  names.reserve(config.targets.size() + count);
  for (const auto& t : config.targets) names.insert(t.name);
  std::vector<DiscoveredPick> out;
  out.reserve(count);
  for (const auto& list : discovered) {
    for (const DiscoveredTarget& t : list.targets) {
      if (names.insert(t.name).second) {
        out.push_back({&t, list.features});
        continue;
      }
      if (++clashes > kMaxWarnings) {
        last_pos = list.pos;
        continue;
      }
      std::string by;
      for (const auto& [label, value] : t.labels)
        if (label == "ksc_server") by = " by KSC \"" + value + "\"";
      warnings->push_back({list.pos, "target \"" + t.name + "\" found" + by +
                                         " is already defined; the defined one is kept"});
    }
  }
  if (clashes > kMaxWarnings)
    warnings->push_back({last_pos, std::to_string(clashes - kMaxWarnings) +
                                       " more discovered targets are already defined; the "
                                       "defined ones are kept"});
  return out;
}

}  // namespace kscprobe
