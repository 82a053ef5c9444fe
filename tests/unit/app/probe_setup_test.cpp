// The daemon's probe resources log what the probers cannot report as a result.
#include "daemon/probe_setup.hpp"

#include <gtest/gtest.h>

namespace kscprobe {
namespace {

TEST(ProbeSetup, AProbersExceptionIsLoggedWithItsText) {
  ProbeResources::Options options = logged_probe_options(/*warn_without_icmp=*/false);
  ASSERT_TRUE(options.on_internal_error);
  CheckSpec spec;
  spec.check = "web_console";
  spec.address = "10.0.0.5";
  spec.port = 8080;
  spec.transport = Transport::https;
  ::testing::internal::CaptureStderr();
  options.on_internal_error(spec, "index 7 out of range");
  std::string line = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(line.find("level=error"), std::string::npos) << line;
  EXPECT_NE(line.find("msg=\"probe ended in an internal error\""), std::string::npos) << line;
  EXPECT_NE(line.find("check=web_console"), std::string::npos) << line;
  EXPECT_NE(line.find("address=10.0.0.5"), std::string::npos) << line;
  EXPECT_NE(line.find("port=8080"), std::string::npos) << line;
  EXPECT_NE(line.find("transport=https"), std::string::npos) << line;
  EXPECT_NE(line.find("error=\"index 7 out of range\""), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
}

TEST(ProbeSetup, TheDaemonWarnsOfNoIcmpSocketAndOnceLeavesItToItsTable) {
  EXPECT_FALSE(logged_probe_options(/*warn_without_icmp=*/false).on_icmp_unavailable);
  ProbeResources::Options options = logged_probe_options(/*warn_without_icmp=*/true);
  ASSERT_TRUE(options.on_icmp_unavailable);
  EXPECT_EQ(options.icmp_kind, IcmpSocketKind::automatic);
  ::testing::internal::CaptureStderr();
  options.on_icmp_unavailable("socket: Operation not permitted");
  std::string line = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(line.find("level=warn"), std::string::npos) << line;
  EXPECT_NE(line.find("msg=\"ICMP echo checks cannot run\""), std::string::npos) << line;
  EXPECT_NE(line.find("error=\"socket: Operation not permitted\""), std::string::npos) << line;
}

}  // namespace
}  // namespace kscprobe
