#pragma once
// The effective configuration: the one place where the TOML file (or text), the web config
// file, --shard, the target files and the discovered targets are put together and expanded into
// a Plan. The daemon's
// start and reload, --once and --config.check all compose through here, so they cannot drift
// apart.
//
// This file needs no YAML parser: the web config file comes through a function of the web layer
// and the target files through TargetSource (config/target_files.hpp implements it with
// yaml-cpp), so a build without yaml-cpp could link compose.cpp and pass no target source. The
// discovered targets come as plain TargetConfigs (daemon/discovery/ finds them, above this layer).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/plan.hpp"

namespace kscprobe {

/// Where the configuration comes from, beside its target files.
struct ConfigSources {
  /// The TOML file. Empty: `text`, named `text_name` in messages.
  std::string file;
  std::string text;
  std::string text_name;
  /// Reads the web config file (--web.config.file) into `*web`, replacing the file's [web];
  /// false with its errors. Unset when there is none. The parser lives in the web layer
  /// (daemon/web/web_security.hpp), which the caller wires in.
  std::function<bool(WebConfig* web, std::vector<ConfigError>* errors)> web_file;
  /// --shard (index, count): overrides [daemon] shard.
  std::optional<Shard> shard;

  /// The file, or the text's name: what messages call the configuration.
  const std::string& name() const { return file.empty() ? text_name : file; }
};

/// The targets of the target files (`target_files` of the TOML file), re-read by each compose.
class TargetSource {
 public:
  virtual ~TargetSource() = default;
  /// Re-reads what changed among the files matching `patterns` and returns every target, in a
  /// stable order. A file that fails to parse adds its errors (once per change) and keeps its
  /// last good targets (none before its first good read).
  virtual std::vector<TargetConfig> read(const std::vector<std::string>& patterns,
                                         std::vector<ConfigError>* errors) = 0;
};

/// What compose made.
struct ComposedConfig {
  /// The configuration file with the web config file and the shard override, without the
  /// target files' targets: what a change of the target files is composed again from.
  Config base;
  /// Set when `errors` is empty.
  std::shared_ptr<const Plan> plan;
  /// The configuration file's or the web config file's errors (those of the first of them that
  /// failed, in that order): the configuration is rejected and there is no plan.
  std::vector<ConfigError> errors;
  /// Errors of the target files: a file that fails to parse, a target whose name is already
  /// used (the file's [[target]] wins, then the first target file). The plan has the rest; the
  /// daemon logs these and runs, --once and --config.check fail on them.
  std::vector<ConfigError> target_errors;
  /// Discovered targets (from [[ksc]] sections) left out because their name is already used
  /// (by the file, a target file or an earlier discovered target, which wins). Only warnings:
  /// the estate, not the configuration, made the clash.
  std::vector<ConfigError> warnings;

  bool ok() const { return errors.empty(); }
  /// ok() and no target file error: what --once and --config.check require.
  bool strictly_ok() const { return errors.empty() && target_errors.empty(); }
};

/// The first half of compose: the TOML file (or text) → Config, then the web config file over
/// [web], then the shard override. Stops at the first source that has errors.
bool compose_base(const ConfigSources& sources, Config* base, std::vector<ConfigError>* errors);

/// The targets one [[ksc]] section found, with what the section gives all of them: a view of the
/// list the discovery keeps, read by a compose and never copied whole (at 100 000 devices a
/// copy is tens of megabytes).
struct DiscoveredList {
  std::span<const DiscoveredTarget> targets;
  std::uint32_t features = 0;
  SourcePos pos;  // the section's
};
/// Every section's list, in a stable order.
using DiscoveredTargets = std::vector<DiscoveredList>;

/// The second half: `base` plus the targets of `targets` (when not null) merged after the
/// file's own (merge_targets), then the `discovered` targets (when not null) after all of them
/// (select_discovered), expanded into a Plan. Target file errors are appended to `errors`, name
/// clashes of discovered targets to `warnings` (when not null); `base` is not changed, and the
/// discovered lists must stay as they are until it returns.
std::shared_ptr<const Plan> compose_plan(const Config& base, TargetSource* targets,
                                         std::vector<ConfigError>* errors,
                                         const DiscoveredTargets* discovered = nullptr,
                                         std::vector<ConfigError>* warnings = nullptr);

/// compose_base, then (when it succeeded) compose_plan.
ComposedConfig compose(const ConfigSources& sources, TargetSource* targets,
                       const DiscoveredTargets* discovered = nullptr);

/// Prints `errors` as file:line:column, one per line, then "N error(s)".
void print_errors(const std::vector<ConfigError>& errors, std::ostream& out);

/// `--config.check`: composes strictly (a target file error fails too) and prints the errors to
/// `err` (returns 1), or "NAME: valid, N targets, M checks[ in shard i/n][, and the devices of K
/// KSC servers]" to `out` (returns 0). A valid configuration is then handed to `inspect`
/// (with the file's own config, its [[ksc]] sections among it), which may print warnings: the
/// daemon's checks of what the configuration asks of the host.
using ConfigInspector = std::function<void(const Plan& plan, const Config& base)>;
int check_config(const ConfigSources& sources, TargetSource* targets, std::ostream& out,
                 std::ostream& err, const ConfigInspector& inspect = {});

/// Moves `extra` targets into `config`, skipping (with an error) any whose name is already used.
void merge_targets(Config* config, std::vector<TargetConfig>&& extra,
                   std::vector<ConfigError>* errors);

/// The `discovered` targets to plan after `config`'s own, in order: those whose name is not
/// used yet. Each one skipped gets a warning at the [[ksc]] section that found it (the first 20,
/// then one that counts the rest). The picks point into `discovered`'s lists.
std::vector<DiscoveredPick> select_discovered(const Config& config,
                                              const DiscoveredTargets& discovered,
                                              std::vector<ConfigError>* warnings);

}  // namespace kscprobe
