// TLS (optionally mutual) and basic auth on the daemon's HTTP listener, with certificates and
// bcrypt hashes made by the test.
#include "daemon/web/web_security.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <thread>

#include "config/base64.hpp"
#include "daemon/web/http_server.hpp"
#include "simulator/self_signed.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"

namespace support = kscprobe::test;

using namespace kscprobe;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::string write_temp(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  support::write_file(path, text);
  return path;
}

class WebSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = support::temp_dir();
    ca_ = sim::make_ca({.common_name = "test-ca"});
    auto server =
        sim::make_signed_by(ca_, {.common_name = "kscprobe", .ip_addresses = {"127.0.0.1"}});
    client_ = sim::make_signed_by(ca_, {.common_name = "prometheus"});
    web_.tls_cert_file = write_temp(dir_, "server.crt", server.cert_pem);
    web_.tls_key_file = write_temp(dir_, "server.key", server.key_pem);
    ca_file_ = write_temp(dir_, "ca.crt", ca_.cert_pem);
    hash_ = bcrypt_hash("s3cret", 4);
    ASSERT_EQ(hash_.size(), 60u);
  }
  void TearDown() override {
    if (thread_.joinable()) {
      asio::post(io_, [this] { server_->stop(); });
      io_.stop();
      thread_.join();
    }
  }

  void start(const WebConfig& web) {
    std::shared_ptr<const WebSecurity> sec;
    std::string err;
    ASSERT_TRUE(build_web_security(web, &sec, &err)) << err;
    server_ = std::make_unique<HttpServer>(io_.get_executor(),
                                           [](HttpRequest) -> asio::awaitable<HttpResponse> {
                                             HttpResponse r;
                                             r.body = "hello";
                                             co_return r;
                                           });
    server_->set_security(sec);
    ASSERT_TRUE(server_->listen("127.0.0.1:0", &err)) << err;
    port_ = server_->local_port();
    thread_ = std::thread([this] { io_.run(); });
  }

  /// One HTTPS GET; returns the response as text, or "" if the handshake failed.
  std::string https_get(const std::string& auth = "", const sim::Credentials* client_cert = nullptr,
                        int max_version = 0) {
    support::HttpRequest request;
    request.port = static_cast<std::uint16_t>(port_);
    request.headers.push_back({"Host", "x"});
    if (!auth.empty()) request.headers.push_back({"Authorization", auth});
    request.tls = support::TlsClientOptions{.verify = true, .ca_pem = ca_.cert_pem};
    request.tls->max_version = max_version;
    if (client_cert) {
      request.tls->cert_pem = client_cert->cert_pem;
      request.tls->key_pem = client_cert->key_pem;
    }
    support::HttpReply reply = support::fetch(request);
    return reply.status == 0 ? "" : reply.text();
  }

  std::string dir_, ca_file_, hash_;
  sim::Credentials ca_, client_;
  WebConfig web_;
  asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  unsigned port_ = 0;
};

}  // namespace

TEST(Bcrypt, VerifiesOnlyTheRightPassword) {
  std::string h = bcrypt_hash("pa:ss word", 4);
  ASSERT_EQ(h.rfind("$2b$04$", 0), 0u) << h;
  EXPECT_TRUE(bcrypt_verify("pa:ss word", h));
  EXPECT_FALSE(bcrypt_verify("pa:ss wore", h));
  EXPECT_FALSE(bcrypt_verify("", h));
  EXPECT_FALSE(bcrypt_verify("x", "not a hash"));
  // htpasswd -B writes $2y$, the same algorithm under another name.
  std::string y = "$2y$" + h.substr(4);
  EXPECT_TRUE(bcrypt_verify("pa:ss word", y));
  EXPECT_FALSE(bcrypt_verify("pa:ss wore", y));
}

TEST_F(WebSecurityTest, TlsListenerServesHttpsAndSurvivesPlainHttp) {
  start(web_);
  std::string r = https_get();
  EXPECT_NE(r.find("200 OK"), std::string::npos) << r;
  EXPECT_NE(r.find("hello"), std::string::npos);
  // Plain HTTP to the TLS port: refused at the handshake, quickly, and the server carries on.
  auto start = std::chrono::steady_clock::now();
  auto plain = support::http_request(port_, "GET", "/");
  EXPECT_FALSE(plain && plain->status == 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_NE(https_get().find("200 OK"), std::string::npos);
}

TEST_F(WebSecurityTest, BasicAuthRejectsWrongCredentials) {
  web_.basic_auth_users = {{"prometheus", hash_}};
  start(web_);
  std::string none = https_get();
  EXPECT_NE(none.find("401"), std::string::npos) << none;
  EXPECT_NE(none.find("WWW-Authenticate: Basic"), std::string::npos) << none;
  EXPECT_NE(https_get("Basic " + base64_encode("prometheus:wrong")).find("401"), std::string::npos);
  EXPECT_NE(https_get("Basic " + base64_encode("other:s3cret")).find("401"), std::string::npos);
  EXPECT_NE(https_get("Basic !!!notbase64").find("401"), std::string::npos);
  std::string ok = https_get("Basic " + base64_encode("prometheus:s3cret"));
  EXPECT_NE(ok.find("200 OK"), std::string::npos) << ok;
  EXPECT_NE(https_get("Basic " + base64_encode("prometheus:s3cret")).find("200 OK"),
            std::string::npos);
}

TEST_F(WebSecurityTest, MutualTlsNeedsAClientCertificateFromTheCa) {
  web_.tls_client_ca_file = ca_file_;
  start(web_);
  EXPECT_EQ(https_get().find("200 OK"), std::string::npos);  // no client certificate
  auto stranger_ca = sim::make_ca({.common_name = "other-ca"});
  auto stranger = sim::make_signed_by(stranger_ca, {.common_name = "intruder"});
  EXPECT_EQ(https_get("", &stranger).find("200 OK"), std::string::npos);
  EXPECT_NE(https_get("", &client_).find("200 OK"), std::string::npos);
}

TEST_F(WebSecurityTest, MinimumVersionIsEnforced) {
  web_.tls_min_version = "TLS13";
  start(web_);
  EXPECT_EQ(https_get("", nullptr, TLS1_2_VERSION).find("200 OK"), std::string::npos);
  EXPECT_NE(https_get().find("200 OK"), std::string::npos);
}

TEST(WebConfigFile, ExporterToolkitYaml) {
  std::string dir = support::temp_dir();
  auto cred = sim::make_self_signed({});
  support::write_file(dir + "/c.crt", cred.cert_pem);
  support::write_file(dir + "/c.key", cred.key_pem);
  std::string h = bcrypt_hash("pw", 4);
  support::write_file(dir + "/web.yml",
                      "tls_server_config:\n  cert_file: c.crt\n  key_file: c.key\n"
                      "  min_version: TLS13\nbasic_auth_users:\n  alice: " +
                          h + "\n");
  WebConfig web;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(load_web_config_file(dir + "/web.yml", &web, &errors));
  EXPECT_EQ(web.tls_cert_file, dir + "/c.crt");  // relative to the YAML file
  EXPECT_EQ(web.tls_min_version, "TLS13");
  ASSERT_EQ(web.basic_auth_users.size(), 1u);
  EXPECT_EQ(web.basic_auth_users[0].first, "alice");

  support::write_file(dir + "/bad.yml",
                      "tls_server_config:\n  cert_file: missing.crt\n  key_file: c.key\n"
                      "  min_versoin: TLS12\nbasic_auth_users:\n  bob: plain\n");
  errors.clear();
  EXPECT_FALSE(load_web_config_file(dir + "/bad.yml", &web, &errors));
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].format().rfind(dir + "/bad.yml:2:14: cert_file", 0), 0u)
      << errors[0].format();
  EXPECT_NE(errors[1].format().find(":4:3: tls_server_config: unknown key \"min_versoin\""),
            std::string::npos)
      << errors[1].format();
  EXPECT_NE(errors[2].format().find(":6:8: password of \"bob\""), std::string::npos)
      << errors[2].format();
}
