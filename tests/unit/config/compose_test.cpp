// The effective configuration (config/compose.hpp) and its entries: load_plan (--once),
// check_config (--config.check) and a caller without a target source. The
// daemon's start and reload are pinned in tests/integration/app_compose_test.cpp.
#include "config/compose.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>

#include "config/target_files.hpp"
#include "daemon/app.hpp"

using namespace kscprobe;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/kscprobe-compose-XXXXXX";
  return mkdtemp(tmpl);
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// 60 agents in the file: enough for every shard of 3 to get some.
std::string agents_toml(int n = 60) {
  std::string toml = "[daemon]\ninterval = \"30s\"\n";
  for (int i = 0; i < n; ++i)
    toml += "[[target]]\nname = \"pc-" + std::to_string(i) +
            "\"\nrole = \"agent\"\naddress = \"10.0.0." + std::to_string(i + 1) + "\"\n";
  return toml;
}

std::vector<std::string> names(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& t : plan.targets) out.push_back(t.name);
  return out;
}

// Targets handed over as already parsed, as a source without YAML would.
struct FixedTargets : TargetSource {
  std::vector<TargetConfig> targets;
  std::vector<ConfigError> errors;
  std::vector<std::string> asked;  // the patterns of the last read
  int reads = 0;
  std::vector<TargetConfig> read(const std::vector<std::string>& patterns,
                                 std::vector<ConfigError>* out) override {
    ++reads;
    asked = patterns;
    out->insert(out->end(), errors.begin(), errors.end());
    return targets;
  }
};

TargetConfig agent(const std::string& name, const std::string& address, int line) {
  TargetConfig t;
  t.name = name;
  t.role = Role::agent;
  t.address = address;
  t.pos = {"targets.yml", line, 3};
  return t;
}

}  // namespace

TEST(Compose, ShardOverrideReplacesTheFilesShard) {
  ConfigSources sources;
  sources.text = "[daemon]\nshard = \"0/2\"\n" + agents_toml().substr(9);
  sources.text_name = "k.toml";
  sources.shard = Shard{2, 3};
  ComposedConfig c = compose(sources, nullptr);
  ASSERT_TRUE(c.ok()) << c.errors[0].format();
  EXPECT_EQ(c.base.daemon.shard_index, 2u);
  EXPECT_EQ(c.base.daemon.shard_count, 3u);
  EXPECT_EQ(c.plan->daemon.shard_index, 2u);
  EXPECT_EQ(c.plan->daemon.shard_count, 3u);
  for (const auto& t : c.plan->targets) EXPECT_EQ(shard_of(t.name, 3), 2u) << t.name;
  EXPECT_GT(c.plan->targets.size(), 5u);
  EXPECT_LT(c.plan->targets.size(), 60u);
}

TEST(Compose, ShardOverrideIsAppliedByLoadPlanAndCheckConfig) {
  std::string dir = temp_dir();
  write(dir + "/k.toml", agents_toml());
  // Reference: the targets of shard 1/3.
  std::size_t in_shard = 0;
  for (int i = 0; i < 60; ++i) in_shard += shard_of("pc-" + std::to_string(i), 3) == 1;

  AppOptions options;
  options.config_file = dir + "/k.toml";
  options.shard = Shard{1, 3};
  LoadedPlan loaded = load_plan(options);
  ASSERT_TRUE(loaded.ok());
  std::shared_ptr<const Plan> plan = loaded.plan;
  EXPECT_EQ(plan->daemon.shard_index, 1u);
  EXPECT_EQ(plan->daemon.shard_count, 3u);
  EXPECT_EQ(plan->targets.size(), in_shard);

  std::ostringstream out, err;
  TargetFiles files;
  EXPECT_EQ(check_config(config_sources(options), &files, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), dir + "/k.toml: valid, " + std::to_string(in_shard) + " targets, " +
                           std::to_string(plan->checks.size()) + " checks in shard 1/3\n");

  // Text instead of a file (the demo, --probe): the same override.
  options.config_file.clear();
  options.config_text = agents_toml();
  options.config_name = "text.toml";
  loaded = load_plan(options);
  ASSERT_TRUE(loaded.ok());
  plan = loaded.plan;
  EXPECT_EQ(plan->daemon.shard_index, 1u);
  EXPECT_EQ(plan->targets.size(), in_shard);
}

TEST(Compose, FileTargetsComeAfterTheFilesAndAFileNameWins) {
  ConfigSources sources;
  sources.text =
      "target_files = [\"t/*.yml\"]\n"
      "[[target]]\nname = \"ksc\"\nrole = \"server\"\naddress = \"10.9.0.1\"\n";
  sources.text_name = "k.toml";
  FixedTargets files;
  files.targets = {agent("10.1.0.1", "10.1.0.1", 2), agent("ksc", "10.1.0.2", 3),
                   agent("10.1.0.3", "10.1.0.3", 4), agent("10.1.0.1", "10.1.0.1", 5)};
  ComposedConfig c = compose(sources, &files);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(files.reads, 1);
  EXPECT_EQ(files.asked, std::vector<std::string>{"t/*.yml"});
  EXPECT_EQ(names(*c.plan), (std::vector<std::string>{"ksc", "10.1.0.1", "10.1.0.3"}));
  // The [[target]] of the file keeps its role and address.
  EXPECT_EQ(c.plan->targets[0].role, Role::server);
  EXPECT_EQ(c.plan->targets[0].address, "10.9.0.1");
  ASSERT_EQ(c.target_errors.size(), 2u);
  EXPECT_EQ(c.target_errors[0].format(),
            "targets.yml:3:3: target \"ksc\" is defined more than once; this one is ignored");
  EXPECT_EQ(c.target_errors[1].format(),
            "targets.yml:5:3: target \"10.1.0.1\" is defined more than once; this one is ignored");
  EXPECT_FALSE(c.strictly_ok());
  // The base stays the file's own, for the next change of the target files.
  ASSERT_EQ(c.base.targets.size(), 1u);
  EXPECT_EQ(c.base.targets[0].name, "ksc");
}

// A target as the discovery of a [[ksc]] section makes it.
static DiscoveredTarget discovered(const std::string& name, const std::string& address,
                                   const std::string& server = "ksc01") {
  DiscoveredTarget t;
  t.name = name;
  t.role = Role::agent;
  t.address = address;
  t.labels = {{"ksc_host_id", "id-" + name}, {"ksc_server", server}};
  return t;
}

// A section's list as the discovery hands it over: its targets, features and position.
static DiscoveredList section_list(std::span<const DiscoveredTarget> targets) {
  return {targets, 0, {"k.toml", 9, 1}};
}

TEST(Compose, DiscoveredTargetsComeLastAndAClashIsOnlyAWarning) {
  ConfigSources sources;
  sources.text =
      "target_files = [\"t/*.yml\"]\n"
      "[[target]]\nname = \"ksc\"\nrole = \"server\"\naddress = \"10.9.0.1\"\n";
  sources.text_name = "k.toml";
  FixedTargets files;
  files.targets = {agent("pc-1", "10.1.0.1", 2)};
  std::vector<DiscoveredTarget> found = {
      discovered("ksc", "10.2.0.1"), discovered("pc-1", "10.2.0.2"), discovered("pc-2", "10.2.0.3"),
      discovered("pc-2", "10.3.0.3", "ksc02")};
  // Two sections' lists, as the discovery hands them over.
  const DiscoveredTargets lists{section_list(std::span(found).first(3)),
                                section_list(std::span(found).subspan(3))};
  ComposedConfig c = compose(sources, &files, &lists);
  ASSERT_TRUE(c.ok());
  // Clashes are warnings, not target errors: --once and --config.check still pass.
  EXPECT_TRUE(c.strictly_ok());
  EXPECT_TRUE(c.target_errors.empty());
  EXPECT_EQ(names(*c.plan), (std::vector<std::string>{"ksc", "pc-1", "pc-2"}));
  // The file's and the target file's targets win; the first discovered one wins among them.
  EXPECT_EQ(c.plan->targets[0].address, "10.9.0.1");
  EXPECT_EQ(c.plan->targets[1].address, "10.1.0.1");
  EXPECT_EQ(c.plan->targets[2].address, "10.2.0.3");
  EXPECT_EQ(c.plan->targets[2].labels, found[2].labels);
  ASSERT_EQ(c.warnings.size(), 3u);
  EXPECT_EQ(c.warnings[0].format(),
            "k.toml:9:1: target \"ksc\" found by KSC \"ksc01\" is already defined; the defined "
            "one is kept");
  EXPECT_EQ(c.warnings[1].format(),
            "k.toml:9:1: target \"pc-1\" found by KSC \"ksc01\" is already defined; the defined "
            "one is kept");
  EXPECT_EQ(c.warnings[2].format(),
            "k.toml:9:1: target \"pc-2\" found by KSC \"ksc02\" is already defined; the defined "
            "one is kept");
  // The base stays the file's own.
  ASSERT_EQ(c.base.targets.size(), 1u);
}

TEST(Compose, ADiscoveredTargetIsPlannedWithItsSectionsFeatures) {
  Config base;
  std::vector<DiscoveredTarget> found = {discovered("pc-1", "10.2.0.1"),
                                         discovered("pc-2", "10.2.0.2")};
  std::vector<DiscoveredTarget> other = {discovered("pc-3", "10.2.0.3", "ksc02")};
  DiscoveredList with_icmp = section_list(found);
  with_icmp.features = kFeatureIcmp;
  const DiscoveredTargets lists{with_icmp, section_list(other)};
  std::vector<ConfigError> errors;
  auto plan = compose_plan(base, nullptr, &errors, &lists);
  ASSERT_EQ(plan->targets.size(), 3u);
  std::map<std::string, int> icmp_checks;
  for (const CheckSpec& c : plan->checks)
    if (c.check == "icmp_echo") ++icmp_checks[plan->target_of(c).name];
  EXPECT_EQ(icmp_checks, (std::map<std::string, int>{{"pc-1", 1}, {"pc-2", 1}}));
  // The same checks as the TargetConfig each stands for.
  Config as_configs;
  for (const auto& t : found) as_configs.targets.push_back(to_target_config(t, kFeatureIcmp, {}));
  for (const auto& t : other) as_configs.targets.push_back(to_target_config(t, 0, {}));
  const Plan expected = expand_plan(as_configs);
  ASSERT_EQ(plan->checks.size(), expected.checks.size());
  for (std::size_t i = 0; i < expected.checks.size(); ++i) {
    EXPECT_EQ(plan->checks[i].key(plan->target_of(plan->checks[i])),
              expected.checks[i].key(expected.target_of(expected.checks[i])));
    EXPECT_TRUE(plan->checks[i].same_settings(expected.checks[i]));
  }
  EXPECT_EQ(plan->targets[2].labels, other[0].labels);
  EXPECT_EQ(plan->targets[0].address, "10.2.0.1");
}

TEST(Compose, DiscoveredTargetsWithoutATargetSourceAndManyClashesAreBounded) {
  Config base;
  std::vector<DiscoveredTarget> found;
  for (int i = 0; i < 30; ++i) {
    base.targets.push_back(agent("pc-" + std::to_string(i), "10.0.0.1", i));
    found.push_back(discovered("pc-" + std::to_string(i), "10.2.0.1"));
  }
  found.push_back(discovered("new", "10.2.0.9"));
  std::vector<ConfigError> errors, warnings;
  const DiscoveredTargets lists{section_list(found)};
  auto plan = compose_plan(base, nullptr, &errors, &lists, &warnings);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(plan->targets.size(), 31u);
  EXPECT_EQ(plan->targets.back().name, "new");
  ASSERT_EQ(warnings.size(), 21u);
  EXPECT_EQ(warnings.back().format(),
            "k.toml:9:1: 10 more discovered targets are already defined; the defined ones are "
            "kept");
  // No discovered target: the plan of the base alone.
  std::vector<DiscoveredTarget> none;
  const DiscoveredTargets no_lists{section_list(none)};
  warnings.clear();
  EXPECT_EQ(compose_plan(base, nullptr, &errors, &no_lists, &warnings)->targets.size(), 30u);
  EXPECT_TRUE(warnings.empty());
}

TEST(Compose, WithoutATargetSourceTheTargetFilesAreSkipped) {
  ConfigSources sources;
  sources.text =
      "target_files = [\"t/*.yml\"]\n"
      "[[target]]\nname = \"ksc\"\nrole = \"server\"\naddress = \"10.9.0.1\"\n";
  sources.text_name = "k.toml";
  ComposedConfig c = compose(sources, nullptr);
  ASSERT_TRUE(c.strictly_ok());
  EXPECT_EQ(names(*c.plan), std::vector<std::string>{"ksc"});
  std::ostringstream out;
  EXPECT_EQ(check_config(sources, nullptr, out, out), 0);
  EXPECT_EQ(out.str(),
            "k.toml: valid, 1 targets, " + std::to_string(c.plan->checks.size()) + " checks\n");
}

TEST(Compose, ErrorsStopAtTheFirstSourceThatFails) {
  FixedTargets files;
  int web_reads = 0;
  ConfigSources sources;
  sources.text_name = "k.toml";
  sources.web_file = [&](WebConfig* web, std::vector<ConfigError>* errors) {
    ++web_reads;
    if (web_reads == 1) {
      errors->push_back({{"web.yml", 2, 1}, "bad web file"});
      return false;
    }
    web->tls_min_version = "TLS13";
    return true;
  };
  // A bad TOML file: neither the web file nor the target files are read.
  sources.text = "[daemon]\ninterval = \"soon\"\n";
  ComposedConfig c = compose(sources, &files);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].pos.line, 2);
  EXPECT_FALSE(c.plan);
  EXPECT_EQ(web_reads, 0);
  EXPECT_EQ(files.reads, 0);
  // A bad web file: the target files are not read.
  sources.text = "[web]\ntls_min_version = \"TLS12\"\n";
  c = compose(sources, &files);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].format(), "web.yml:2:1: bad web file");
  EXPECT_EQ(files.reads, 0);
  // A good one replaces [web].
  c = compose(sources, &files);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.plan->web.tls_min_version, "TLS13");
  EXPECT_EQ(files.reads, 1);
}

TEST(Compose, CheckConfigPrintsEveryErrorAndACount) {
  ConfigSources sources;
  sources.text = "[daemon]\ninterval = \"soon\"\ntimeout = 3\n";
  sources.text_name = "k.toml";
  std::ostringstream out, err;
  EXPECT_EQ(check_config(sources, nullptr, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str().substr(0, 9), "k.toml:2:");
  EXPECT_NE(err.str().find("\nk.toml:3:"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("\n2 errors\n"), std::string::npos) << err.str();

  // A target file error fails the check, with the file's position.
  sources.text = "[[target]]\nname = \"ksc\"\nrole = \"server\"\naddress = \"10.9.0.1\"\n";
  FixedTargets files;
  files.targets = {agent("ksc", "10.1.0.2", 7)};
  err.str("");
  EXPECT_EQ(check_config(sources, &files, out, err), 1);
  EXPECT_EQ(err.str(),
            "targets.yml:7:3: target \"ksc\" is defined more than once; this one is ignored\n"
            "1 error\n");
}

TEST(Compose, CheckAndLoadPlanMergeTargetFilesAlike) {
  std::string dir = temp_dir();
  std::filesystem::create_directory(dir + "/t");
  write(dir + "/k.toml",
        "target_files = [\"t/*.yml\"]\n"
        "[[target]]\nname = \"ksc\"\nrole = \"server\"\naddress = \"10.9.0.1\"\n");
  write(dir + "/t/b.yml", "- targets: [pc-b1, pc-b2]\n  labels: {role: agent}\n");
  write(dir + "/t/a.yml", "- targets: [pc-a1]\n  labels: {role: agent, site: lyon}\n");
  AppOptions options;
  options.config_file = dir + "/k.toml";
  LoadedPlan loaded = load_plan(options);
  ASSERT_TRUE(loaded.ok()) << loaded.errors.at(0).format();
  std::shared_ptr<const Plan> plan = loaded.plan;
  EXPECT_EQ(names(*plan), (std::vector<std::string>{"ksc", "pc-a1", "pc-b1", "pc-b2"}));
  std::ostringstream out, err;
  TargetFiles files;
  EXPECT_EQ(check_config(config_sources(options), &files, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), dir + "/k.toml: valid, 4 targets, " + std::to_string(plan->checks.size()) +
                           " checks\n");

  // A target file that names a target of the file: both entries refuse it, with the same error.
  write(dir + "/t/c.yml", "- targets: [ksc]\n  labels: {role: agent}\n");
  loaded = load_plan(options);
  ASSERT_FALSE(loaded.ok());
  const std::vector<ConfigError>& errors = loaded.errors;
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].format(), dir +
                                    "/t/c.yml:1:13: target \"ksc\" is defined more than once; "
                                    "this one is ignored");
  TargetFiles fresh;
  out.str("");
  EXPECT_EQ(check_config(config_sources(options), &fresh, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_NE(err.str().find(errors[0].format() + "\n1 error\n"), std::string::npos) << err.str();
}
