#include <gtest/gtest.h>

#include <cctype>
#include <thread>

#include "tests/support/files.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

std::string to_upper_with_colons(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    if (i > 0 && i % 2 == 0) out += ':';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
  }
  return out;
}

class TlsProberTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim::CertOptions leaf;
    leaf.common_name = "ksc01";
    self_signed_ = new sim::Credentials(sim::make_self_signed(leaf));

    sim::CertOptions rsa;
    rsa.common_name = "ksc-rsa";
    rsa.key = sim::KeyType::rsa2048;
    rsa.valid_for = std::chrono::hours(24 * 30);
    rsa_ = new sim::Credentials(sim::make_self_signed(rsa));

    sim::CertOptions ca;
    ca.common_name = "Test Root CA";
    ca_ = new sim::Credentials(sim::make_ca(ca));
    ca.common_name = "Other Root CA";
    other_ca_ = new sim::Credentials(sim::make_ca(ca));

    sim::CertOptions signed_leaf;
    signed_leaf.common_name = "ksc01.test";
    signed_leaf.dns_names = {"ksc01.test"};
    signed_leaf.ip_addresses = {"127.0.0.1"};
    signed_ = new sim::Credentials(sim::make_signed_by(*ca_, signed_leaf));
  }
  static void TearDownTestSuite() {
    delete self_signed_;
    delete rsa_;
    delete ca_;
    delete other_ca_;
    delete signed_;
  }

  Probed probe_tls(const CheckSpec& spec) { return probe(io_, spec, env_); }

  static sim::Credentials* self_signed_;
  static sim::Credentials* rsa_;
  static sim::Credentials* ca_;
  static sim::Credentials* other_ca_;
  static sim::Credentials* signed_;

  asio::io_context io_;
  TlsContextCache cache_;
  ProbeEnv env_{io_.get_executor(), &cache_};
};

sim::Credentials* TlsProberTest::self_signed_ = nullptr;
sim::Credentials* TlsProberTest::rsa_ = nullptr;
sim::Credentials* TlsProberTest::ca_ = nullptr;
sim::Credentials* TlsProberTest::other_ca_ = nullptr;
sim::Credentials* TlsProberTest::signed_ = nullptr;

TEST_F(TlsProberTest, ReportsTheCertificateWithoutVerifying) {
  auto seen = std::make_shared<Seen>();
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *self_signed_, seen);
  Probed p = probe_tls(make_spec(Transport::tls, "127.0.0.1", port));
  ASSERT_TRUE(p.result.success) << p.result.detail;
  EXPECT_EQ(p.result.reason, Reason::none);
  ASSERT_TRUE(p.result.tls.has_value());
  const TlsInfo& tls = *p.result.tls;
  EXPECT_EQ(tls.version, "TLSv1.3");
  EXPECT_EQ(tls.fingerprint_sha256, self_signed_->fingerprint_sha256);
  EXPECT_EQ(tls.fingerprint_sha256.size(), 64u);
  EXPECT_EQ(tls.not_after, self_signed_->not_after);
  EXPECT_EQ(tls.subject, "CN=ksc01");
  EXPECT_EQ(tls.subject, self_signed_->subject);
  EXPECT_FALSE(tls.verified);  // nothing was configured, so nothing was verified
  EXPECT_TRUE(tls.verify_error.empty());
  EXPECT_EQ(p.result.phase(Phase::resolve), 0);
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_GT(p.result.phase(Phase::tls), 0);
  EXPECT_LT(p.result.phase(Phase::request), 0);
  EXPECT_NE(p.result.detail.find("TLSv1.3"), std::string::npos);
  // No SNI for an IP literal.
  io_.restart();
  io_.poll();
  EXPECT_EQ(seen->connections, 1);
  EXPECT_EQ(seen->sni, "");
}

TEST_F(TlsProberTest, ReportsTls12AndRsa) {
  std::uint16_t port =
      start_tls_server(io_, loopback_v4(), *rsa_, std::make_shared<Seen>(), /*tls12_only=*/true);
  Probed p = probe_tls(make_spec(Transport::tls, "127.0.0.1", port));
  ASSERT_TRUE(p.result.success) << p.result.detail;
  ASSERT_TRUE(p.result.tls.has_value());
  EXPECT_EQ(p.result.tls->version, "TLSv1.2");
  EXPECT_EQ(p.result.tls->fingerprint_sha256, rsa_->fingerprint_sha256);
  EXPECT_EQ(p.result.tls->not_after, rsa_->not_after);
  EXPECT_EQ(p.result.tls->subject, "CN=ksc-rsa");
}

TEST_F(TlsProberTest, SendsServerNameAsSni) {
  auto seen = std::make_shared<Seen>();
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *self_signed_, seen);
  auto spec = make_spec(Transport::tls, "127.0.0.1", port);
  spec.mutable_options().tls.server_name = "ksc01.example";
  Probed p = probe_tls(spec);
  ASSERT_TRUE(p.result.success) << p.result.detail;
  io_.restart();
  io_.poll();
  EXPECT_EQ(seen->sni, "ksc01.example");
}

TEST_F(TlsProberTest, SilentPeerIsTimeoutWithinTheDeadline) {
  std::uint16_t port = start_peer(io_, loopback_v4(), {.conduct = Conduct::silent_after_hello});
  Probed p = probe_tls(make_spec(Transport::tls, "127.0.0.1", port, Duration(300)));
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::timeout) << p.result.detail;
  EXPECT_EQ(p.result.detail, "no reply within 300ms during tls");
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_LT(p.result.phase(Phase::tls), 0);
  EXPECT_FALSE(p.result.tls.has_value());
  EXPECT_GE(p.result.duration, 0.3);
  EXPECT_LT(p.result.duration, 0.3 + 0.4);
}

TEST_F(TlsProberTest, GarbagePeerIsTls) {
  std::uint16_t port =
      start_peer(io_, loopback_v4(), {.conduct = Conduct::garbage_after_hello, .bytes = kNotTls});
  Probed p = probe_tls(make_spec(Transport::tls, "127.0.0.1", port));
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::tls) << p.result.detail;
  EXPECT_NE(p.result.detail.find("TLS handshake failed"), std::string::npos) << p.result.detail;
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_LT(p.result.phase(Phase::tls), 0);
}

TEST_F(TlsProberTest, PeerClosingDuringHandshakeIsTls) {
  std::uint16_t port = start_peer(io_, loopback_v4(), {.conduct = Conduct::close_after_hello});
  Probed p = probe_tls(make_spec(Transport::tls, "127.0.0.1", port));
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::tls) << p.result.detail;
  EXPECT_EQ(p.result.detail, "peer closed during TLS handshake");
}

TEST_F(TlsProberTest, CaFileTrustsItsLeaf) {
  TempFile ca_file("ca_good.pem", ca_->cert_pem);
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *signed_);
  auto spec = make_spec(Transport::tls, "127.0.0.1", port);
  spec.mutable_options().tls.ca_file = ca_file.path();
  spec.mutable_options().tls.server_name = "ksc01.test";
  Probed p = probe_tls(spec);
  ASSERT_TRUE(p.result.success) << p.result.detail;
  ASSERT_TRUE(p.result.tls.has_value());
  EXPECT_TRUE(p.result.tls->verified);
  EXPECT_TRUE(p.result.tls->verify_error.empty());
  EXPECT_EQ(p.result.tls->fingerprint_sha256, signed_->fingerprint_sha256);
}

TEST_F(TlsProberTest, WrongCaFailsButStillReportsTheCertificate) {
  TempFile ca_file("ca_other.pem", other_ca_->cert_pem);
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *signed_);
  auto spec = make_spec(Transport::tls, "127.0.0.1", port);
  spec.mutable_options().tls.ca_file = ca_file.path();
  spec.mutable_options().tls.server_name = "ksc01.test";
  Probed p = probe_tls(spec);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::tls);
  EXPECT_NE(p.result.detail.find("certificate not trusted"), std::string::npos) << p.result.detail;
  ASSERT_TRUE(p.result.tls.has_value());
  EXPECT_FALSE(p.result.tls->verified);
  EXPECT_FALSE(p.result.tls->verify_error.empty());
  EXPECT_EQ(p.result.tls->fingerprint_sha256, signed_->fingerprint_sha256);
  EXPECT_EQ(p.result.tls->not_after, signed_->not_after);
  EXPECT_GT(p.result.phase(Phase::tls), 0);  // the handshake itself completed
}

TEST_F(TlsProberTest, SelfSignedLeafFailsAgainstACaFile) {
  TempFile ca_file("ca_for_self.pem", ca_->cert_pem);
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *self_signed_);
  auto spec = make_spec(Transport::tls, "127.0.0.1", port);
  spec.mutable_options().tls.ca_file = ca_file.path();
  Probed p = probe_tls(spec);
  EXPECT_EQ(p.result.reason, Reason::tls);
  ASSERT_TRUE(p.result.tls.has_value());
  EXPECT_NE(p.result.tls->verify_error.find("self-signed"), std::string::npos)
      << p.result.tls->verify_error;
}

TEST_F(TlsProberTest, CaFileChecksTheHostname) {
  TempFile ca_file("ca_host.pem", ca_->cert_pem);
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *signed_);
  auto spec = make_spec(Transport::tls, "127.0.0.1", port);
  spec.mutable_options().tls.ca_file = ca_file.path();
  spec.mutable_options().tls.server_name = "other.test";
  Probed p = probe_tls(spec);
  EXPECT_EQ(p.result.reason, Reason::tls);
  ASSERT_TRUE(p.result.tls.has_value());
  EXPECT_FALSE(p.result.tls->verified);
  EXPECT_NE(p.result.tls->verify_error.find("hostname mismatch"), std::string::npos)
      << p.result.tls->verify_error;
}

TEST_F(TlsProberTest, UnreadableCaFileIsTlsWithTheFileName) {
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *self_signed_);
  auto spec = make_spec(Transport::tls, "127.0.0.1", port);
  spec.mutable_options().tls.ca_file = ::testing::TempDir() + "kscprobe_no_such_ca.pem";
  Probed p = probe_tls(spec);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::tls);
  EXPECT_NE(p.result.detail.find(spec.options().tls.ca_file), std::string::npos) << p.result.detail;
  EXPECT_LT(p.result.phase(Phase::connect), 0);  // no point connecting without a context
  EXPECT_EQ(cache_.size(), 0u);                  // failures are not cached
}

TEST_F(TlsProberTest, PinMatchVerifies) {
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *self_signed_);
  for (const std::string& pin :
       {self_signed_->fingerprint_sha256, to_upper_with_colons(self_signed_->fingerprint_sha256)}) {
    auto spec = make_spec(Transport::tls, "127.0.0.1", port);
    spec.mutable_options().tls.fingerprint_sha256 = pin;
    Probed p = probe_tls(spec);
    EXPECT_TRUE(p.result.success) << pin << ": " << p.result.detail;
    ASSERT_TRUE(p.result.tls.has_value());
    EXPECT_TRUE(p.result.tls->verified);
  }
}

TEST_F(TlsProberTest, PinMismatchIsTls) {
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *self_signed_);
  auto spec = make_spec(Transport::tls, "127.0.0.1", port);
  spec.mutable_options().tls.fingerprint_sha256 = rsa_->fingerprint_sha256;
  Probed p = probe_tls(spec);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::tls);
  EXPECT_NE(p.result.detail.find("does not match the pin"), std::string::npos) << p.result.detail;
  ASSERT_TRUE(p.result.tls.has_value());
  EXPECT_FALSE(p.result.tls->verified);
  EXPECT_EQ(p.result.tls->fingerprint_sha256, self_signed_->fingerprint_sha256);
}

TEST_F(TlsProberTest, Ipv6Loopback) {
  std::uint16_t port = start_tls_server(io_, loopback_v6(), *self_signed_);
  for (std::string address : {"::1", "[::1]"}) {
    Probed p = probe_tls(make_spec(Transport::tls, address, port));
    EXPECT_TRUE(p.result.success) << address << ": " << p.result.detail;
    ASSERT_TRUE(p.result.tls.has_value());
    EXPECT_EQ(p.result.tls->fingerprint_sha256, self_signed_->fingerprint_sha256);
  }
}

TEST_F(TlsProberTest, ContextsAreCachedPerCaFile) {
  TempFile ca_file("ca_cache.pem", ca_->cert_pem);
  std::string error;
  TlsOptions plain;
  TlsOptions pinned;
  pinned.fingerprint_sha256 = "00";
  pinned.server_name = "x";
  TlsOptions with_ca;
  with_ca.ca_file = ca_file.path();
  auto a = cache_.get(plain, &error);
  auto b = cache_.get(pinned, &error);
  auto c = cache_.get(with_ca, &error);
  auto d = cache_.get(with_ca, &error);
  ASSERT_TRUE(a && c) << error;
  EXPECT_EQ(a, b);  // pin and server name are per connection, not per context
  EXPECT_EQ(c, d);
  EXPECT_NE(a, c);
  EXPECT_EQ(cache_.size(), 2u);
  // Probes use the cache they are given.
  std::uint16_t port = start_tls_server(io_, loopback_v4(), *self_signed_);
  probe_tls(make_spec(Transport::tls, "127.0.0.1", port));
  EXPECT_EQ(cache_.size(), 2u);
  cache_.clear();
  EXPECT_EQ(cache_.size(), 0u);
  probe_tls(make_spec(Transport::tls, "127.0.0.1", port));
  EXPECT_EQ(cache_.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Session resumption between full handshakes

// A TLS server whose context (certificate and session ticket keys) the test can replace, as a
// KSC server does when it restarts with a renewed certificate.
struct SwappableTlsServer {
  std::shared_ptr<std::shared_ptr<ssl::context>> context =
      std::make_shared<std::shared_ptr<ssl::context>>();
  std::shared_ptr<int> handshakes = std::make_shared<int>(0);
  std::uint16_t start(asio::io_context& io, std::shared_ptr<ssl::context> first) {
    *context = std::move(first);
    auto acceptor = listen_on(io, loopback_v4());
    std::uint16_t port = acceptor.local_endpoint().port();
    asio::co_spawn(io, loop(std::move(acceptor), context, handshakes), asio::detached);
    return port;
  }
  static asio::awaitable<void> loop(tcp::acceptor acceptor,
                                    std::shared_ptr<std::shared_ptr<ssl::context>> context,
                                    std::shared_ptr<int> handshakes) {
    for (int i = 0; i < 100; ++i) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ssl::stream<tcp::socket> stream(std::move(socket), **context);
      auto [hs_ec] = co_await stream.async_handshake(ssl::stream_base::server,
                                                     asio::as_tuple(asio::use_awaitable));
      if (hs_ec) continue;
      ++*handshakes;
      std::array<char, 256> buffer;
      for (;;) {
        auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(buffer),
                                                            asio::as_tuple(asio::use_awaitable));
        if (read_ec) break;
      }
    }
  }
};

CheckSpec resuming_spec(std::uint16_t port) {
  auto spec = make_spec(Transport::tls, "127.0.0.1", port);
  spec.mutable_options().tls_full_handshake_interval = std::chrono::hours(1);
  return spec;
}

TEST_F(TlsProberTest, ResumesTheSessionAndReportsTheCertificateOfTheFullHandshake) {
  for (bool tls12 : {false, true}) {
    SCOPED_TRACE(tls12 ? "TLS 1.2" : "TLS 1.3");
    SwappableTlsServer server;
    std::uint16_t port = server.start(io_, server_context(*self_signed_, tls12));
    auto spec = resuming_spec(port);
    Probed first = probe_tls(spec);
    ASSERT_TRUE(first.result.success) << first.result.detail;
    ASSERT_TRUE(first.result.tls);
    EXPECT_FALSE(first.result.tls->resumed);
    EXPECT_NE(first.result.detail.find("handshake completed"), std::string::npos);
    for (int i = 0; i < 3; ++i) {
      Probed next = probe_tls(spec);
      ASSERT_TRUE(next.result.success) << next.result.detail;
      ASSERT_TRUE(next.result.tls);
      EXPECT_TRUE(next.result.tls->resumed) << "probe " << i + 2;
      EXPECT_EQ(next.result.tls->version, tls12 ? "TLSv1.2" : "TLSv1.3");
      EXPECT_EQ(next.result.tls->fingerprint_sha256, self_signed_->fingerprint_sha256);
      EXPECT_EQ(next.result.tls->subject, "CN=ksc01");
      EXPECT_EQ(next.result.tls->not_after, self_signed_->not_after);
      EXPECT_GT(next.result.phase(Phase::tls), 0);
      EXPECT_NE(next.result.detail.find("session resumed"), std::string::npos);
    }
  }
}

TEST_F(TlsProberTest, WithoutAPeriodEveryProbeIsAFullHandshake) {
  SwappableTlsServer server;
  std::uint16_t port = server.start(io_, server_context(*self_signed_));
  auto spec = make_spec(Transport::tls, "127.0.0.1", port);  // period 0, as /probe uses
  for (int i = 0; i < 3; ++i) {
    Probed p = probe_tls(spec);
    ASSERT_TRUE(p.result.success) << p.result.detail;
    EXPECT_FALSE(p.result.tls->resumed);
  }
}

TEST_F(TlsProberTest, ARenewedServerCertificateShowsAtTheNextProbe) {
  SwappableTlsServer server;
  std::uint16_t port = server.start(io_, server_context(*self_signed_));
  auto spec = resuming_spec(port);
  ASSERT_TRUE(probe_tls(spec).result.success);
  ASSERT_TRUE(probe_tls(spec).result.tls->resumed);
  // The server restarts with another certificate (and other ticket keys): the session is
  // declined, the probe falls back to a full handshake and reports the new certificate.
  *server.context = server_context(*rsa_);
  Probed p = probe_tls(spec);
  ASSERT_TRUE(p.result.success) << p.result.detail;
  EXPECT_FALSE(p.result.tls->resumed);
  EXPECT_EQ(p.result.tls->fingerprint_sha256, rsa_->fingerprint_sha256);
  EXPECT_EQ(p.result.tls->subject, "CN=ksc-rsa");
  Probed again = probe_tls(spec);
  EXPECT_TRUE(again.result.tls->resumed);
  EXPECT_EQ(again.result.tls->fingerprint_sha256, rsa_->fingerprint_sha256);
}

TEST_F(TlsProberTest, AFailedPinStaysFailedOnResumedProbes) {
  SwappableTlsServer server;
  std::uint16_t port = server.start(io_, server_context(*self_signed_));
  auto spec = resuming_spec(port);
  spec.mutable_options().tls.fingerprint_sha256 = std::string(64, '0');
  for (int i = 0; i < 3; ++i) {
    Probed p = probe_tls(spec);
    EXPECT_FALSE(p.result.success);
    EXPECT_EQ(p.result.reason, Reason::tls);
    ASSERT_TRUE(p.result.tls);
    EXPECT_EQ(p.result.tls->fingerprint_sha256, self_signed_->fingerprint_sha256);
    EXPECT_EQ(p.result.tls->resumed, i > 0) << i;
  }
}

TEST_F(TlsProberTest, AnElapsedPeriodForcesAFullHandshake) {
  SwappableTlsServer server;
  std::uint16_t port = server.start(io_, server_context(*self_signed_));
  auto spec = resuming_spec(port);
  spec.mutable_options().tls_full_handshake_interval = std::chrono::milliseconds(300);
  EXPECT_FALSE(probe_tls(spec).result.tls->resumed);
  EXPECT_TRUE(probe_tls(spec).result.tls->resumed);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  EXPECT_FALSE(probe_tls(spec).result.tls->resumed);
  EXPECT_TRUE(probe_tls(spec).result.tls->resumed);
}

}  // namespace
}  // namespace kscprobe::test
