// The hosts file as the resolver reads it: hosts(5)'s lines, and a file read once and again only
// when it has changed, at most once per check interval.
#include "collectors/hosts_file.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace kscprobe {
namespace {

std::vector<std::string> texts(const std::vector<boost::asio::ip::address>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(a.to_string());
  return out;
}

TEST(HostsFile, ParsesAddressesNamesAliasesAndComments) {
  const HostsTable table = parse_hosts(
      "# the estate\n"
      "127.0.0.1\tlocalhost\n"
      "10.1.2.3   ksc01.corp.test ksc01   # the server\n"
      "\n"
      "   \t  \n"
      "::1 localhost ip6-localhost\n"
      "10.1.2.4 KSC01.Corp.Test.\r\n"
      "10.1.2.3 ksc01.corp.test\n"
      "not-an-address broken.test\n"
      "[::1] bracketed.test\n"
      "10.9.9.9\n"
      "#10.0.0.1 commented.test\n"
      "10.1.2.5 last.test");
  ASSERT_EQ(table.count("localhost"), 1u);
  EXPECT_EQ(texts(table.at("localhost")), (std::vector<std::string>{"127.0.0.1", "::1"}))
      << "every line naming it adds its address, in the file's order";
  EXPECT_EQ(texts(table.at("ksc01.corp.test")), (std::vector<std::string>{"10.1.2.3", "10.1.2.4"}))
      << "names without case or final dot; an address named twice is kept once";
  EXPECT_EQ(texts(table.at("ksc01")), (std::vector<std::string>{"10.1.2.3"})) << "an alias";
  EXPECT_EQ(texts(table.at("ip6-localhost")), (std::vector<std::string>{"::1"}));
  EXPECT_EQ(texts(table.at("last.test")), (std::vector<std::string>{"10.1.2.5"}))
      << "a last line without a newline";
  EXPECT_EQ(table.count("broken.test"), 0u) << "a line whose address does not parse is skipped";
  EXPECT_EQ(table.count("bracketed.test"), 0u) << "brackets are a URL's, not the file's";
  EXPECT_EQ(table.count("commented.test"), 0u);
  EXPECT_EQ(table.size(), 5u);
}

class HostsFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("kscprobe-hosts-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void write(const std::string& text) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << text;
  }
  std::filesystem::path path_;
};

TEST_F(HostsFileOnDisk, IsReadOnceAndAgainOnlyWhenItChangesAtMostOncePerInterval) {
  write("10.0.0.1 a.test\n");
  HostsFile hosts(path_, std::chrono::seconds(1));
  const auto t0 = HostsFile::Clock::now();
  for (int i = 0; i < 1000; ++i) {
    const auto* found = hosts.find("A.test", t0 + std::chrono::milliseconds(i));
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->front().to_string(), "10.0.0.1");
  }
  EXPECT_EQ(hosts.find("b.test", t0), nullptr);
  EXPECT_EQ(hosts.reads(), 1u) << "a thousand names, one read of the file";

  // Unchanged, looked at again after the interval: not read again.
  EXPECT_NE(hosts.find("a.test", t0 + std::chrono::seconds(5)), nullptr);
  EXPECT_EQ(hosts.reads(), 1u);

  // Changed (another size): the old answer until the next look, then the new file.
  write("10.0.0.2 a.test\n10.0.0.3 b.test\n");
  EXPECT_EQ(hosts.find("a.test", t0 + std::chrono::milliseconds(5500))->front().to_string(),
            "10.0.0.1");
  EXPECT_EQ(hosts.find("a.test", t0 + std::chrono::seconds(7))->front().to_string(), "10.0.0.2");
  EXPECT_NE(hosts.find("b.test", t0 + std::chrono::seconds(7)), nullptr);
  EXPECT_EQ(hosts.reads(), 2u);

  // Gone: no name is in it, and nothing fails.
  std::filesystem::remove(path_);
  EXPECT_EQ(hosts.find("a.test", t0 + std::chrono::seconds(9)), nullptr);
}

TEST_F(HostsFileOnDisk, AMissingFileHoldsNoName) {
  HostsFile hosts(path_ / "absent");
  EXPECT_EQ(hosts.find("localhost", HostsFile::Clock::now()), nullptr);
  EXPECT_EQ(hosts.reads(), 0u);
}

}  // namespace
}  // namespace kscprobe
