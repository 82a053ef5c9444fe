#include <gtest/gtest.h>

#include "tests/support/files.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

// The daemon stops in-flight probes with a terminal cancellation on SIGTERM. Each test cancels a
// probe (30 s timeout) at the moment its peer has proved the probe is waiting on it, and checks
// that the probe ends at once, without throwing, as a timeout.
class ProberCancellationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    credentials_ = new sim::Credentials(sim::make_self_signed(sim::CertOptions{}));
  }
  static void TearDownTestSuite() { delete credentials_; }

  // Cancels the probe from a fresh handler, as a signal handler would.
  std::function<void()> cancel_soon() {
    return [this] {
      ++triggered_;
      asio::post(io_, [this] { signal_.emit(asio::cancellation_type::terminal); });
    };
  }

  void expect_cancelled(const Probed& p) {
    EXPECT_EQ(triggered_, 1);
    EXPECT_FALSE(p.result.success);
    EXPECT_EQ(p.result.reason, Reason::timeout);
    EXPECT_NE(p.result.detail.find("cancelled"), std::string::npos) << p.result.detail;
    EXPECT_LT(p.wall_seconds, 2.0);
    EXPECT_LT(p.result.duration, 2.0);
  }

  static sim::Credentials* credentials_;
  asio::io_context io_;
  TlsContextCache cache_;
  ProbeEnv env_{io_.get_executor(), &cache_};
  asio::cancellation_signal signal_;
  int triggered_ = 0;
};

sim::Credentials* ProberCancellationTest::credentials_ = nullptr;

TEST_F(ProberCancellationTest, StopsATlsHandshakeWithASilentPeer) {
  std::uint16_t port = start_peer(
      io_, loopback_v4(), {.conduct = Conduct::silent_after_hello, .on_first_read = cancel_soon()});
  Probed p =
      probe(io_, make_spec(Transport::tls, "127.0.0.1", port, Duration(30000)), env_, &signal_);
  expect_cancelled(p);
  EXPECT_EQ(p.result.detail, "cancelled during tls");
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_LT(p.result.phase(Phase::tls), 0);
}

TEST_F(ProberCancellationTest, StopsAnHttpsRequestWithASilentServer) {
  auto seen = std::make_shared<Seen>();
  std::uint16_t port =
      start_http_server(io_, loopback_v4(), ServedReply{.silent = true}, seen, credentials_);
  // The server answers nothing after reading the request; cancel once it has read it.
  seen->on_request = cancel_soon();
  auto spec = make_spec(Transport::https, "127.0.0.1", port, Duration(30000));
  Probed p = probe(io_, spec, env_, &signal_);
  expect_cancelled(p);
  EXPECT_EQ(p.result.detail, "cancelled during request");
  EXPECT_GT(p.result.phase(Phase::tls), 0);
}

TEST_F(ProberCancellationTest, StopsAUdpWaitForAReply) {
  auto received = std::make_shared<std::string>();
  std::uint16_t port = start_udp_server(io_, loopback_v4(), false, received, cancel_soon());
  Probed p =
      probe(io_, make_spec(Transport::udp, "127.0.0.1", port, Duration(30000)), env_, &signal_);
  expect_cancelled(p);
  EXPECT_FALSE(p.result.udp_reply);
}

TEST_F(ProberCancellationTest, StopsATcpConnectToADroppingListener) {
  FullBacklogListener listener;
  ASSERT_TRUE(listener.ok()) << listener.error();
  ASSERT_TRUE(listener.queue_full());
  // Nothing observable happens on a dropped SYN; cancel from the first turn of the loop after
  // the probe has started its connect.
  asio::post(io_, [this] { asio::post(io_, cancel_soon()); });
  Probed p = probe(io_, make_spec(Transport::tcp, "127.0.0.1", listener.port(), Duration(30000)),
                   env_, &signal_);
  expect_cancelled(p);
  EXPECT_LT(p.result.phase(Phase::connect), 0);
}

}  // namespace
}  // namespace kscprobe::test
