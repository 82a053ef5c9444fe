#include <gtest/gtest.h>

#include "tests/support/files.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

constexpr std::string_view kMetricsBody =
    "# HELP ksc_Transport__Number_of_all_connections Number of all connections\n"
    "# TYPE ksc_Transport__Number_of_all_connections gauge\n"
    "ksc_Transport__Number_of_all_connections 1532\n"
    "# TYPE ksc_Transport__Total_active_hosts_count gauge\n"
    "ksc_Transport__Total_active_hosts_count 1498\n"
    "# TYPE ksc_Transport__Number_of_failed_TCP_connections counter\n"
    "ksc_Transport__Number_of_failed_TCP_connections 7\n";

class HttpProberTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim::CertOptions options;
    options.common_name = "ksc-metrics";
    credentials_ = new sim::Credentials(sim::make_self_signed(options));
  }
  static void TearDownTestSuite() { delete credentials_; }

  std::uint16_t serve(ServedReply reply, bool tls = false) {
    return start_http_server(io_, loopback_v4(), std::move(reply), seen_,
                             tls ? credentials_ : nullptr);
  }
  void drain() {
    io_.restart();
    io_.poll();
  }

  static sim::Credentials* credentials_;
  asio::io_context io_;
  TlsContextCache cache_;
  ProbeEnv env_{io_.get_executor(), &cache_};
  std::shared_ptr<Seen> seen_ = std::make_shared<Seen>();
};

sim::Credentials* HttpProberTest::credentials_ = nullptr;

TEST_F(HttpProberTest, Status200AndRequestHeaders) {
  std::uint16_t port = serve(ServedReply{});
  auto spec = make_spec(Transport::http, "127.0.0.1", port);
  spec.mutable_options().http_path = "/health?x=1";
  Probed p = probe(io_, spec, env_);
  ASSERT_TRUE(p.result.success) << p.result.detail;
  EXPECT_EQ(p.result.http_status, 200);
  EXPECT_EQ(p.result.detail, "HTTP 200");
  EXPECT_EQ(p.result.phase(Phase::resolve), 0);
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_LT(p.result.phase(Phase::tls), 0);
  EXPECT_GT(p.result.phase(Phase::request), 0);
  drain();
  EXPECT_EQ(seen_->method, "GET");
  EXPECT_EQ(seen_->target, "/health?x=1");
  EXPECT_EQ(seen_->host, "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(seen_->user_agent, "kscprobe/" KSCPROBE_VERSION);
  EXPECT_EQ(seen_->connection, "close");
}

TEST_F(HttpProberTest, NotFoundIsAcceptedByDefault) {
  std::uint16_t port = serve(ServedReply{.status = 404});
  Probed p = probe(io_, make_spec(Transport::http, "127.0.0.1", port), env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_EQ(p.result.http_status, 404);
}

TEST_F(HttpProberTest, ServerErrorIsHttpStatus) {
  std::uint16_t port = serve(ServedReply{.status = 500});
  Probed p = probe(io_, make_spec(Transport::http, "127.0.0.1", port), env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::http_status);
  EXPECT_EQ(p.result.http_status, 500);
  EXPECT_NE(p.result.detail.find("500"), std::string::npos) << p.result.detail;
  EXPECT_GT(p.result.phase(Phase::request), 0);
}

TEST_F(HttpProberTest, CustomStatusList) {
  std::uint16_t ok_port = serve(ServedReply{.status = 200});
  StatusMatcher only_401;
  only_401.add(401);
  auto spec = make_spec(Transport::http, "127.0.0.1", ok_port);
  spec.mutable_options().statuses = only_401;
  Probed p = probe(io_, spec, env_);
  EXPECT_EQ(p.result.reason, Reason::http_status) << p.result.detail;
  EXPECT_EQ(p.result.http_status, 200);

  std::uint16_t auth_port =
      start_http_server(io_, loopback_v4(), ServedReply{.status = 401}, std::make_shared<Seen>());
  spec.port = auth_port;
  p = probe(io_, spec, env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_EQ(p.result.http_status, 401);
}

TEST_F(HttpProberTest, MalformedResponseIsProtocol) {
  std::uint16_t port = serve(ServedReply{.raw = "SSH-2.0-OpenSSH_9.2\r\n\r\n"});
  Probed p = probe(io_, make_spec(Transport::http, "127.0.0.1", port), env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::protocol) << p.result.detail;
  EXPECT_EQ(p.result.http_status, 0);
}

TEST_F(HttpProberTest, ResponseCutShortIsProtocol) {
  std::uint16_t port =
      serve(ServedReply{.raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part"});
  Probed p = probe(io_, make_spec(Transport::http, "127.0.0.1", port), env_);
  EXPECT_EQ(p.result.reason, Reason::protocol) << p.result.detail;
}

TEST_F(HttpProberTest, SilentServerIsTimeoutDuringRequest) {
  std::uint16_t port = serve(ServedReply{.silent = true});
  Probed p = probe(io_, make_spec(Transport::http, "127.0.0.1", port, Duration(300)), env_);
  EXPECT_EQ(p.result.reason, Reason::timeout) << p.result.detail;
  EXPECT_EQ(p.result.detail, "no reply within 300ms during request");
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_LT(p.result.phase(Phase::request), 0);
  EXPECT_LT(p.result.duration, 0.3 + 0.4);
}

TEST_F(HttpProberTest, HttpsWithValidMetrics) {
  std::uint16_t port = serve(ServedReply{.body = std::string(kMetricsBody)}, /*tls=*/true);
  auto spec = make_spec(Transport::https, "127.0.0.1", port);
  spec.mutable_options().http_path = "/metrics";
  spec.mutable_options().expect_metrics = true;
  Probed p = probe(io_, spec, env_);
  ASSERT_TRUE(p.result.success) << p.result.detail;
  EXPECT_EQ(p.result.http_status, 200);
  EXPECT_EQ(p.result.detail, "HTTP 200, 3 samples");
  ASSERT_TRUE(p.result.tls.has_value());
  EXPECT_EQ(p.result.tls->fingerprint_sha256, credentials_->fingerprint_sha256);
  EXPECT_EQ(p.result.tls->subject, "CN=ksc-metrics");
  EXPECT_EQ(p.result.phase(Phase::resolve), 0);
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_GT(p.result.phase(Phase::tls), 0);
  EXPECT_GT(p.result.phase(Phase::request), 0);
  drain();
  EXPECT_EQ(seen_->target, "/metrics");
  EXPECT_NE(seen_->accept.find("text/plain;version=0.0.4"), std::string::npos);
}

TEST_F(HttpProberTest, HttpsWithInvalidMetricsIsProtocol) {
  std::string body(kMetricsBody);
  body += "ksc_broken{server=ksc01} 1\n";
  std::uint16_t port = serve(ServedReply{.body = body}, /*tls=*/true);
  auto spec = make_spec(Transport::https, "127.0.0.1", port);
  spec.mutable_options().expect_metrics = true;
  Probed p = probe(io_, spec, env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::protocol);
  EXPECT_NE(p.result.detail.find("line 8"), std::string::npos) << p.result.detail;
  EXPECT_EQ(p.result.http_status, 200);
  EXPECT_TRUE(p.result.tls.has_value());
}

TEST_F(HttpProberTest, MetricsWithoutSamplesIsProtocol) {
  std::uint16_t port = serve(ServedReply{.body = "<html>login</html>\n"});
  auto spec = make_spec(Transport::http, "127.0.0.1", port);
  spec.mutable_options().expect_metrics = true;
  Probed p = probe(io_, spec, env_);
  EXPECT_EQ(p.result.reason, Reason::protocol) << p.result.detail;

  std::uint16_t empty_port = start_http_server(
      io_, loopback_v4(), ServedReply{.body = "# nothing\n"}, std::make_shared<Seen>());
  spec.port = empty_port;
  p = probe(io_, spec, env_);
  EXPECT_EQ(p.result.reason, Reason::protocol);
  EXPECT_EQ(p.result.detail, "metrics exposition has no samples");
}

TEST_F(HttpProberTest, MetricsAreNotCheckedUnlessAsked) {
  std::uint16_t port = serve(ServedReply{.body = "<html>login</html>\n"}, /*tls=*/true);
  Probed p = probe(io_, make_spec(Transport::https, "127.0.0.1", port), env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
}

TEST_F(HttpProberTest, HttpsUsesTheTlsChecks) {
  std::uint16_t port = serve(ServedReply{}, /*tls=*/true);
  auto spec = make_spec(Transport::https, "127.0.0.1", port);
  spec.mutable_options().tls.fingerprint_sha256 = std::string(64, 'a');
  spec.mutable_options().tls.server_name = "metrics.ksc.test";
  Probed p = probe(io_, spec, env_);
  EXPECT_EQ(p.result.reason, Reason::tls);
  EXPECT_EQ(p.result.http_status, 0);  // no request after a failed check
  EXPECT_LT(p.result.phase(Phase::request), 0);
  drain();
  EXPECT_EQ(seen_->sni, "metrics.ksc.test");
  EXPECT_TRUE(seen_->method.empty());

  spec.mutable_options().tls.fingerprint_sha256 = credentials_->fingerprint_sha256;
  p = probe(io_, spec, env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  drain();
  EXPECT_EQ(seen_->host, "metrics.ksc.test:" + std::to_string(port));
}

TEST_F(HttpProberTest, HttpOverIpv6UsesBracketsInHost) {
  std::uint16_t port = start_http_server(io_, loopback_v6(), ServedReply{}, seen_);
  Probed p = probe(io_, make_spec(Transport::http, "::1", port), env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  drain();
  EXPECT_EQ(seen_->host, "[::1]:" + std::to_string(port));
}

}  // namespace
}  // namespace kscprobe::test
