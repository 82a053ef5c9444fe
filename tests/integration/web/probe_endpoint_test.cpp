// /probe: blackbox-style answers for configured targets and allow-listed addresses only.
#include "daemon/web/probe_endpoint.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>

#include "collectors/prober.hpp"
#include "collectors/tls_context_cache.hpp"
#include "config/loader.hpp"

using namespace kscprobe;
namespace asio = boost::asio;

namespace {

class ProbeEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    silent_udp_.open(asio::ip::udp::v4());
    silent_udp_.bind({asio::ip::make_address("127.0.0.1"), 0});
    std::string toml = R"(
[daemon]
interval = "30s"
timeout = "5s"
[probe]
allow = ["127.0.0.2/32", "::1/128"]
[[target]]
name = "ksc01"
role = "server"
address = "127.0.0.1"
disable = ["packages_http", "packages_https", "agents_tls", "console_tls", "openapi_tls",
           "activation_tls", "tunnel_https", "metrics_https"]
[target.ports]
agents_tcp = )" + std::to_string(acceptor_.local_endpoint().port()) +
                       R"(
shutdown_udp = )" + std::to_string(silent_udp_.local_endpoint().port()) +
                       "\n";
    auto r = load_config_string(toml, "probe.toml");
    ASSERT_TRUE(r.ok()) << r.error_text();
    plan_ = std::make_shared<Plan>(expand_plan(*r.config));
    endpoint_.configure(plan_, AllowList(plan_->probe.allow), 4);
  }

  HttpResponse get(std::string query, std::string scrape_timeout = "") {
    HttpRequest req;
    req.method = "GET";
    req.path = "/probe";
    req.query = std::move(query);
    if (!scrape_timeout.empty())
      req.headers.push_back({"x-prometheus-scrape-timeout-seconds", scrape_timeout});
    HttpResponse out;
    asio::co_spawn(io_, endpoint_.handle(req), [&](std::exception_ptr e, HttpResponse r) {
      ASSERT_FALSE(e);
      out = std::move(r);
    });
    io_.run_for(std::chrono::seconds(10));
    io_.restart();
    return out;
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_{io_};
  asio::ip::udp::socket silent_udp_{io_};
  TlsContextCache tls_;
  ProbeEnv env_{io_.get_executor(), &tls_};
  ProbeEndpoint endpoint_{io_.get_executor(), env_};
  std::shared_ptr<Plan> plan_;
};

}  // namespace

TEST(AllowListTest, MatchesNetworks) {
  AllowList a;
  std::string err;
  ASSERT_TRUE(
      AllowList::parse({"10.0.0.0/8", "192.168.1.0/24", "fd00::/8", "127.0.0.1"}, &a, &err));
  EXPECT_TRUE(a.allows("10.200.3.4"));
  EXPECT_TRUE(a.allows("192.168.1.77"));
  EXPECT_FALSE(a.allows("192.168.2.1"));
  EXPECT_TRUE(a.allows("fd12::1"));
  EXPECT_TRUE(a.allows("[fd12::1]"));
  EXPECT_FALSE(a.allows("fe80::1"));
  EXPECT_TRUE(a.allows("127.0.0.1"));
  EXPECT_FALSE(a.allows("127.0.0.2"));
  EXPECT_TRUE(a.allows("::ffff:10.1.1.1"));  // v4-mapped is judged as IPv4
  EXPECT_FALSE(a.allows("ksc01.example"));   // names are never allow-listed
  EXPECT_FALSE(AllowList::parse({"10.0.0.0/33"}, &a, &err));
  EXPECT_FALSE(AllowList::parse({"nonsense"}, &a, &err));
}

TEST_F(ProbeEndpointTest, AMalformedQueryIsRefused) {
  auto r = get("target=ksc01&check=%zz");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("malformed %-escape"), std::string::npos) << r.body;
}

TEST_F(ProbeEndpointTest, ConfiguredTargetByNameAnswersInBlackboxNames) {
  auto r = get("target=ksc01");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.body.find("probe_success{check=\"agents_tcp\"} 1"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("probe_success{check=\"shutdown_udp\"} 1"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("probe_duration_seconds{check=\"agents_tcp\"}"), std::string::npos);
  EXPECT_NE(r.body.find("probe_dns_lookup_time_seconds{check=\"agents_tcp\"}"), std::string::npos);
}

TEST_F(ProbeEndpointTest, ConfiguredTargetByAddressAndCheckFilter) {
  auto r = get("target=127.0.0.1&check=agents_tcp");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.body.find("probe_success{check=\"agents_tcp\"} 1"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("shutdown_udp"), std::string::npos) << r.body;
  auto bad = get("target=ksc01&check=nope");
  EXPECT_EQ(bad.status, 400u);
}

TEST_F(ProbeEndpointTest, AnythingElseIsForbidden) {
  EXPECT_EQ(get("target=127.0.0.3").status, 403u);
  EXPECT_EQ(get("target=example.invalid").status, 403u);
  EXPECT_EQ(get("target=10.1.2.3&role=agent").status, 403u);
  EXPECT_EQ(get("").status, 400u);
  EXPECT_EQ(get("target=ksc01&bogus=1").status, 400u);
}

TEST_F(ProbeEndpointTest, AllowListedAddressGetsTheRolesCatalogChecks) {
  // Nothing listens on 127.0.0.2: both agent UDP checks are refused, with the reason.
  auto r = get("target=127.0.0.2&role=agent");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.body.find("probe_success{check=\"signal_udp\"} 0"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("probe_success{check=\"multicast_udp\"} 0"), std::string::npos);
  EXPECT_NE(r.body.find("probe_failure_info{check=\"signal_udp\",reason=\"refused\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(get("target=127.0.0.2&role=king").status, 400u);
}

TEST_F(ProbeEndpointTest, ScrapeTimeoutHeaderShortensTheProbe) {
  // The silent UDP check waits for its whole timeout (5 s configured); Prometheus says it
  // gives up after 1 s, so the probe must end after ~0.5 s.
  auto start = std::chrono::steady_clock::now();
  auto r = get("target=ksc01&check=shutdown_udp", "1");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.body.find("probe_success{check=\"shutdown_udp\"} 1"), std::string::npos) << r.body;
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_GE(took, std::chrono::milliseconds(400));
}

// Prometheus always sends a number; anything else is a client error, not a silent default.
TEST_F(ProbeEndpointTest, AGarbageScrapeTimeoutHeaderIsRefused) {
  for (const char* bad : {"abc", "5s", "-1", "0", "nan", "1e3", " 2"}) {
    auto r = get("target=ksc01&check=agents_tcp", bad);
    EXPECT_EQ(r.status, 400u) << bad;
    EXPECT_NE(r.body.find("X-Prometheus-Scrape-Timeout-Seconds"), std::string::npos) << r.body;
  }
  EXPECT_EQ(get("target=ksc01&check=agents_tcp", "9.5").status, 200u);
}

// Features read the same in /probe as in target files: spaces around entries are trimmed.
TEST_F(ProbeEndpointTest, SpacedFeaturesAreTrimmed) {
  auto r = get("target=127.0.0.2&role=server&features=ksn_proxy%2C%20mobile&check=ksn_proxy_udp");
  EXPECT_EQ(r.status, 200u) << r.body;
  auto bad = get("target=127.0.0.2&role=server&features=ksn_proxy%2C%20nope");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_NE(bad.body.find("unknown feature \"nope\""), std::string::npos) << bad.body;
}
