// platform/files.hpp on POSIX (glob(3), stat(2)); the Windows branch is checked under wine
// by scripts/test.d/40-windows.sh (kscprobe-selftest files).
#include "platform/files.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/files.hpp"

using namespace kscprobe;

namespace {

class PlatformFiles : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) { temp_.write(name, text); }
  test::TempDir temp_{"pf"};
  const std::string dir_ = temp_.path();
};

}  // namespace

TEST_F(PlatformFiles, GlobMatchesSortedAndLimited) {
  for (const char* name : {"b.json", "a.json", "c.yml", ".hidden.json"}) write(name, "[]");
  EXPECT_EQ(platform::glob_files(dir_ + "/*.json"),
            (std::vector<std::string>{dir_ + "/a.json", dir_ + "/b.json"}));
  EXPECT_EQ(platform::glob_files(dir_ + "/?.yml"), std::vector<std::string>{dir_ + "/c.yml"});
  EXPECT_EQ(platform::glob_files(dir_ + "/*.json", 1).size(), 1u);
  EXPECT_TRUE(platform::glob_files(dir_ + "/missing/*.json").empty());
}

TEST_F(PlatformFiles, StampChangesWithTheFile) {
  write("a.json", "[]");
  auto before = platform::file_stamp(dir_ + "/a.json");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->size, 2);
  EXPECT_NE(before->inode, 0u);
  // Replaced by rename, same size: the inode tells.
  write("a.json.new", "{}");
  std::filesystem::rename(dir_ + "/a.json.new", dir_ + "/a.json");
  auto after = platform::file_stamp(dir_ + "/a.json");
  ASSERT_TRUE(after);
  EXPECT_FALSE(*after == *before);
  EXPECT_FALSE(platform::file_stamp(dir_));
  EXPECT_FALSE(platform::file_stamp(dir_ + "/missing.json"));
}
