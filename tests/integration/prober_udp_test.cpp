#include <gtest/gtest.h>

#include "tests/integration/test_servers.hpp"

namespace kscprobe::test {
namespace {

class UdpProberTest : public ::testing::Test {
 protected:
  asio::io_context io_;
  TlsContextCache cache_;
  ProbeEnv env_{io_.get_executor(), &cache_};
  std::shared_ptr<std::string> received_ = std::make_shared<std::string>();
};

TEST_F(UdpProberTest, SilenceIsOpenOrFiltered) {
  std::uint16_t port = start_udp_server(io_, loopback_v4(), /*echo=*/false, received_);
  Probed p = probe(io_, make_spec(Transport::udp, "127.0.0.1", port, Duration(300)), env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_FALSE(p.result.udp_reply);
  EXPECT_EQ(p.result.reason, Reason::none);
  EXPECT_EQ(p.result.detail, "no reply: open|filtered");
  EXPECT_EQ(p.result.phase(Phase::resolve), 0);
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_LT(p.result.phase(Phase::request), 0);
  EXPECT_GE(p.result.duration, 0.3);
  EXPECT_LT(p.result.duration, 0.3 + 0.4);
  EXPECT_EQ(*received_, kDefaultUdpPayload);  // the datagram did arrive
}

TEST_F(UdpProberTest, ClosedPortIsRefused) {
  std::uint16_t port = closed_udp_port(io_, loopback_v4());
  Probed p = probe(io_, make_spec(Transport::udp, "127.0.0.1", port), env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::refused) << p.result.detail;
  EXPECT_FALSE(p.result.udp_reply);
  EXPECT_LT(p.wall_seconds, 2.0);  // refused at once, not at the 3 s deadline
}

TEST_F(UdpProberTest, ReplyMeansOpen) {
  std::uint16_t port = start_udp_server(io_, loopback_v4(), /*echo=*/true, received_);
  auto spec = make_spec(Transport::udp, "127.0.0.1", port);
  spec.udp_payload = "KSC\x01ping";
  Probed p = probe(io_, spec, env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_TRUE(p.result.udp_reply);
  EXPECT_EQ(p.result.detail, "open");
  EXPECT_GE(p.result.phase(Phase::request), 0);
  EXPECT_EQ(*received_, "KSC\x01ping");
  EXPECT_LT(p.wall_seconds, 2.0);
}

TEST_F(UdpProberTest, Ipv6Loopback) {
  std::uint16_t port = start_udp_server(io_, loopback_v6(), /*echo=*/true, received_);
  Probed p = probe(io_, make_spec(Transport::udp, "::1", port), env_);
  EXPECT_TRUE(p.result.udp_reply) << p.result.detail;
  std::uint16_t closed = closed_udp_port(io_, loopback_v6());
  p = probe(io_, make_spec(Transport::udp, "[::1]", closed), env_);
  EXPECT_EQ(p.result.reason, Reason::refused) << p.result.detail;
}

TEST_F(UdpProberTest, InvalidTldIsResolveFailure) {
  Probed p = probe(io_, make_spec(Transport::udp, "agent.invalid.", 15000), env_);
  EXPECT_EQ(p.result.reason, Reason::resolve) << p.result.detail;
  EXPECT_FALSE(p.result.success);
}

}  // namespace
}  // namespace kscprobe::test
