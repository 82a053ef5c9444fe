// The daemon composes its configuration as --config.check and --once do (config/compose.hpp):
// the --shard override at start and at every reload, and the targets of the target files merged
// after the file's own, a name of the file winning over a target file's.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <sstream>

#include "config/compose.hpp"
#include "config/target_files.hpp"
#include "daemon/app.hpp"
#include "tests/support/files.hpp"

using namespace kscprobe;

namespace {

// A new inode for each write: the target files see a change.
void write(const std::string& path, const std::string& text) { test::replace_file(path, text); }

std::vector<std::string> names(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& t : plan.targets) out.push_back(t.name);
  return out;
}

std::string agents_toml(const std::string& shard) {
  std::string toml = "[daemon]\ninterval = \"1h\"\nshard = \"" + shard + "\"\n";
  for (int i = 0; i < 60; ++i)
    toml += "[[target]]\nname = \"pc-" + std::to_string(i) +
            "\"\nrole = \"agent\"\naddress = \"127.0.9." + std::to_string(i + 1) + "\"\n";
  return toml;
}

}  // namespace

TEST(AppCompose, ShardOverrideAppliesAtStartAndAtEveryReload) {
  std::string dir = test::temp_dir("app-compose");
  write(dir + "/k.toml", agents_toml("0/2"));
  boost::asio::io_context io;
  AppOptions options;
  options.config_file = dir + "/k.toml";
  options.listen_address = "127.0.0.1:0";
  options.shard = Shard{1, 3};
  App app(io, options);
  ASSERT_TRUE(app.start());
  auto in_shard = [](const Plan& plan) {
    for (const auto& t : plan.targets)
      if (shard_of(t.name, 3) != 1) return false;
    return !plan.targets.empty();
  };
  EXPECT_EQ(app.plan()->daemon.shard_index, 1u);
  EXPECT_EQ(app.plan()->daemon.shard_count, 3u);
  EXPECT_TRUE(in_shard(*app.plan()));
  // The file changes its own shard: the command line still wins.
  write(dir + "/k.toml", agents_toml("1/4"));
  ASSERT_TRUE(app.reload());
  EXPECT_EQ(app.plan()->daemon.shard_index, 1u);
  EXPECT_EQ(app.plan()->daemon.shard_count, 3u);
  EXPECT_TRUE(in_shard(*app.plan()));
  // And --once and --config.check see the same plan.
  LoadedPlan once = load_plan(options);
  ASSERT_TRUE(once.ok());
  EXPECT_EQ(names(*once.plan), names(*app.plan()));
  app.stop();
  io.run();
}

TEST(AppCompose, TargetFilesMergeAsInConfigCheckAndTheFileWinsANameClash) {
  std::string dir = test::temp_dir("app-compose");
  std::filesystem::create_directory(dir + "/t");
  write(dir + "/k.toml",
        "target_files = [\"t/*.yml\"]\n"
        "[daemon]\ninterval = \"1h\"\n"
        "[[target]]\nname = \"ksc\"\nrole = \"server\"\naddress = \"127.0.9.1\"\n");
  write(dir + "/t/b.yml", "- targets: [127.0.9.3, 127.0.9.4]\n  labels: {role: agent}\n");
  write(dir + "/t/a.yml", "- targets: [127.0.9.2]\n  labels: {role: agent, site: lyon}\n");
  boost::asio::io_context io;
  AppOptions options;
  options.config_file = dir + "/k.toml";
  options.listen_address = "127.0.0.1:0";
  App app(io, options);
  ASSERT_TRUE(app.start());
  const std::vector<std::string> expected = {"ksc", "127.0.9.2", "127.0.9.3", "127.0.9.4"};
  EXPECT_EQ(names(*app.plan()), expected);
  std::ostringstream out, err;
  TargetFiles files;
  ASSERT_EQ(check_config(config_sources(options), &files, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), dir + "/k.toml: valid, 4 targets, " +
                           std::to_string(app.plan()->checks.size()) + " checks\n");

  // A target file names the file's target: the daemon keeps the file's, and runs on; the check
  // fails on it.
  write(dir + "/t/c.yml", "- targets: [ksc, 127.0.9.5]\n  labels: {role: agent}\n");
  ASSERT_TRUE(app.reload());
  std::vector<std::string> with_c = expected;
  with_c.push_back("127.0.9.5");
  EXPECT_EQ(names(*app.plan()), with_c);
  EXPECT_EQ(app.plan()->targets[0].role, Role::server);
  EXPECT_EQ(app.plan()->targets[0].address, "127.0.9.1");
  TargetFiles again;
  out.str("");
  EXPECT_EQ(check_config(config_sources(options), &again, out, err), 1);
  EXPECT_NE(err.str().find("c.yml:1:13: target \"ksc\" is defined more than once; this one is "
                           "ignored\n1 error\n"),
            std::string::npos)
      << err.str();
  app.stop();
  io.run();
}
