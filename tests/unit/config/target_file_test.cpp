#include "config/target_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "config/target_files.hpp"
#include "tests/support/files.hpp"

using namespace kscprobe;

namespace {

std::string temp_dir() { return test::temp_dir("tf"); }

// Like config management does: a new inode.
void write(const std::string& path, const std::string& text) { test::replace_file(path, text); }

std::vector<std::string> error_texts(const std::vector<ConfigError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.format());
  return out;
}

}  // namespace

TEST(TargetFile, JsonFileSdGroups) {
  std::string dir = temp_dir();
  write(dir + "/a.json", R"([
  {"targets": ["10.1.0.5", "pc-0042.corp", "[fd00::7]"],
   "labels": {"role": "agent", "site": "lyon", "__meta_x": "dropped"}},
  {"targets": ["ksc01.corp"], "labels": {"role": "server", "features": "ksn_proxy, mobile"}},
  {"targets": ["db.corp"], "labels": {"role": "database", "engine": "mssql"}}
])");
  std::vector<TargetConfig> t;
  std::vector<ConfigError> e;
  ASSERT_TRUE(parse_target_file(dir + "/a.json", &t, &e)) << error_texts(e)[0];
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0].name, "10.1.0.5");
  EXPECT_EQ(t[0].role, Role::agent);
  ASSERT_EQ(t[0].labels.size(), 1u);
  EXPECT_EQ(t[0].labels[0], (std::pair<std::string, std::string>{"site", "lyon"}));
  EXPECT_EQ(t[2].address, "fd00::7");
  EXPECT_EQ(t[3].features, kFeatureKsnProxy | kFeatureMobile);
  EXPECT_EQ(t[4].engine, DbEngine::mssql);
  EXPECT_EQ(t[1].pos.line, 2);
}

TEST(TargetFile, GroupsKeepTheirAddressesCompactly) {
  std::string dir = temp_dir();
  write(dir + "/g.yml",
        "- targets: [pc-1, pc-2]\n"
        "  labels: {role: agent, site: lyon}\n"
        "- targets: []\n"
        "  labels: {role: agent}\n"
        "- targets:\n"
        "    - ksc01\n"
        "  labels: {role: server}\n");
  std::vector<TargetGroup> groups;
  std::vector<ConfigError> e;
  ASSERT_TRUE(parse_target_groups(dir + "/g.yml", &groups, &e)) << error_texts(e)[0];
  ASSERT_EQ(groups.size(), 2u);  // the empty group has nothing to keep
  ASSERT_EQ(groups[0].members.size(), 2u);
  EXPECT_EQ(groups[0].members[1].address, "pc-2");
  EXPECT_EQ(groups[0].members[1].line, 1);
  EXPECT_EQ(groups[0].members[1].column, 19);
  EXPECT_TRUE(groups[0].proto.name.empty());
  EXPECT_EQ(groups[1].proto.role, Role::server);
  EXPECT_EQ(groups[1].members[0].line, 6);

  std::vector<TargetConfig> t;
  expand_target_groups(dir + "/g.yml", groups, &t);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[1].name, "pc-2");
  EXPECT_EQ(t[1].address, "pc-2");
  EXPECT_EQ(t[1].labels, (std::vector<std::pair<std::string, std::string>>{{"site", "lyon"}}));
  EXPECT_EQ(t[1].pos.file, dir + "/g.yml");
  EXPECT_EQ(t[1].pos.column, 19);
  EXPECT_EQ(t[2].role, Role::server);
}

TEST(TargetFile, YamlAndErrorsWithPositions) {
  std::string dir = temp_dir();
  write(dir + "/b.yml",
        "- targets: [pc-1]\n"
        "  labels: {role: agnet}\n"
        "- targets: [pc-2]\n"
        "  labels: {site: x}\n"
        "- targets: [pc-3]\n"
        "  labels: {role: agent, job: nope}\n"
        "  extra: 1\n");
  std::vector<TargetConfig> t;
  std::vector<ConfigError> e;
  EXPECT_FALSE(parse_target_file(dir + "/b.yml", &t, &e));
  EXPECT_TRUE(t.empty());  // a bad file contributes nothing
  auto texts = error_texts(e);
  ASSERT_EQ(texts.size(), 4u);
  EXPECT_EQ(texts[0], dir +
                          "/b.yml:2:18: group #1: unknown role \"agnet\" (server, "
                          "distribution_point, agent, web_console, ios_mdm, database)");
  EXPECT_EQ(texts[1],
            dir + "/b.yml:3:3: group #2: labels must say the role (\"role\": \"agent\", ...)");
  EXPECT_EQ(texts[2], dir + "/b.yml:7:3: group #3: unknown key \"extra\" (targets, labels)");
  EXPECT_EQ(texts[3], dir +
                          "/b.yml:6:25: group #3: label name \"job\" is reserved (target, "
                          "role, check, port, transport, reason, phase, instance, job and __*)");
  write(dir + "/c.json", "[{\"targets\": [\"a\"");
  e.clear();
  EXPECT_FALSE(parse_target_file(dir + "/c.json", &t, &e));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].pos.file, dir + "/c.json");
}

TEST(TargetFile, YamlAliasesDoNotMultiplyTargets) {
  // A 12 kB file that names 200 targets and repeats their group 500 times through an alias
  // (found by tests/fuzz/fuzz_target_file.cpp: a 48 kB one made the parser allocate 3.6 GB).
  std::string dir = temp_dir();
  std::string text = "- &g {targets: [";
  for (int i = 0; i < 200; ++i) text += (i ? ", 10.9.0." : "10.9.0.") + std::to_string(i);
  text += "], labels: {role: agent}}\n";
  for (int i = 0; i < 500; ++i) text += "- *g\n";
  write(dir + "/bomb.yml", text);
  std::vector<TargetConfig> t;
  std::vector<ConfigError> e;
  EXPECT_FALSE(parse_target_file(dir + "/bomb.yml", &t, &e));
  EXPECT_TRUE(t.empty());
  ASSERT_EQ(e.size(), 101u);  // 100 errors, then one saying the rest is not checked
  EXPECT_EQ(e[0].format(), dir +
                               "/bomb.yml:1:3: group #2 repeats an earlier group (a YAML alias); "
                               "list each target once");
  EXPECT_EQ(e[100].message, "too many errors, the rest of the file is not checked");

  // A repeated target list, or one target repeated, is named once per repetition.
  write(dir + "/lists.yml",
        "- {targets: &t [pc-1, &p pc-2], labels: {role: agent}}\n"
        "- {targets: *t, labels: {role: server}}\n"
        "- {targets: [pc-3, *p], labels: {role: agent}}\n");
  e.clear();
  EXPECT_FALSE(parse_target_file(dir + "/lists.yml", &t, &e));
  auto texts = error_texts(e);
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0], dir +
                          "/lists.yml:1:13: group #2: targets repeat an earlier list (a YAML "
                          "alias); list each target once");
  EXPECT_EQ(texts[1], dir +
                          "/lists.yml:1:23: group #3: \"pc-2\" repeats an earlier target (a YAML "
                          "alias); list each target once");

  // Sharing a label mapping through an alias is fine: it names no target twice.
  write(dir + "/labels.yml",
        "- {targets: [pc-1], labels: &l {role: agent, site: lyon}}\n"
        "- {targets: [pc-2], labels: *l}\n");
  e.clear();
  ASSERT_TRUE(parse_target_file(dir + "/labels.yml", &t, &e)) << error_texts(e)[0];
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[1].labels, t[0].labels);
}

TEST(TargetFile, LabelCountIsBounded) {
  std::string dir = temp_dir();
  std::string labels = "role: agent";
  for (int i = 0; i < 63; ++i) labels += ", l" + std::to_string(i) + ": x";
  write(dir + "/ok.yml", "- {targets: [pc-1], labels: {" + labels + "}}\n");
  write(dir + "/many.yml", "- {targets: [pc-1], labels: {" + labels + ", l63: x}}\n");
  std::vector<TargetConfig> t;
  std::vector<ConfigError> e;
  ASSERT_TRUE(parse_target_file(dir + "/ok.yml", &t, &e));
  EXPECT_EQ(t.at(0).labels.size(), 63u);
  t.clear();
  EXPECT_FALSE(parse_target_file(dir + "/many.yml", &t, &e));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].format(), dir + "/many.yml:1:29: group #1: more than 64 labels");
}

TEST(TargetFiles, RescanKeepsLastGoodContentAndFollowsDeletes) {
  std::string dir = temp_dir();
  std::vector<std::string> patterns{dir + "/*.json"};
  TargetFiles files;
  std::vector<ConfigError> e;
  EXPECT_FALSE(files.scan(patterns, &e));  // nothing yet
  write(dir + "/a.json", R"([{"targets": ["pc-1", "pc-2"], "labels": {"role": "agent"}}])");
  EXPECT_TRUE(files.scan(patterns, &e));
  EXPECT_EQ(files.targets().size(), 2u);
  EXPECT_FALSE(files.scan(patterns, &e));  // unchanged: not re-read
  // A broken edit: reported once, the last good targets stay.
  write(dir + "/a.json", R"([{"targets": ["pc-1", "pc-2", "pc-3"], "labels": {"role": "agnet"}}])");
  EXPECT_FALSE(files.scan(patterns, &e));
  EXPECT_EQ(e.size(), 1u);
  EXPECT_FALSE(files.scan(patterns, &e));
  EXPECT_EQ(e.size(), 1u);
  EXPECT_EQ(files.targets().size(), 2u);
  // Fixed: the new content replaces the old.
  write(dir + "/a.json", R"([{"targets": ["pc-1", "pc-3", "pc-4"], "labels": {"role": "agent"}}])");
  EXPECT_TRUE(files.scan(patterns, &e));
  ASSERT_EQ(files.targets().size(), 3u);
  EXPECT_EQ(files.targets()[1].name, "pc-3");
  // Deleted: its targets go.
  std::filesystem::remove(dir + "/a.json");
  EXPECT_TRUE(files.scan(patterns, &e));
  EXPECT_TRUE(files.targets().empty());
}

TEST(TargetFiles, MergeSkipsDuplicateNames) {
  Config c;
  TargetConfig a;
  a.name = "ksc01";
  c.targets.push_back(a);
  TargetConfig dup = a;
  dup.pos = {"f.json", 3, 5};
  TargetConfig other;
  other.name = "pc-9";
  std::vector<ConfigError> e;
  merge_targets(&c, {dup, other}, &e);
  ASSERT_EQ(c.targets.size(), 2u);
  EXPECT_EQ(c.targets[1].name, "pc-9");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].format(),
            "f.json:3:5: target \"ksc01\" is defined more than once; this one is ignored");
}

// An address with a port means the same in a target file as in the TOML file: an error, not a
// host named "ksc01:13000" whose every check fails to resolve.
TEST(TargetFile, AnAddressWithAPortIsRefusedAsInToml) {
  std::string dir = temp_dir();
  write(dir + "/p.json", R"([
  {"targets": ["ksc01.corp:13000", "10.0.0.1:15000", "[fd00::7]:15000", "fd00::8"],
   "labels": {"role": "agent"}}
])");
  std::vector<TargetConfig> t;
  std::vector<ConfigError> e;
  EXPECT_FALSE(parse_target_file(dir + "/p.json", &t, &e));
  auto texts = error_texts(e);
  ASSERT_EQ(texts.size(), 3u);
  for (const auto& text : texts)
    EXPECT_NE(text.find("must not include a port (move ports in [target.ports])"),
              std::string::npos)
        << text;
  EXPECT_NE(texts[0].find("address \"ksc01.corp:13000\""), std::string::npos) << texts[0];
}
