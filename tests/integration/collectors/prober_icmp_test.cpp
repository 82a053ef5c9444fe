// The ICMP echo check on its two kinds of socket. Raw sockets need root (CAP_NET_RAW), as do the
// network namespaces where rules make hosts silent or unreachable and ping sockets are allowed.
#include <gtest/gtest.h>

#include "collectors/icmp_prober.hpp"
#include "config/loader.hpp"
#include "daemon/web/probe_endpoint.hpp"
#include "tests/support/files.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

class IcmpProberTest : public ::testing::TestWithParam<IcmpSocketKind> {
 protected:
  // The mux opens its socket on the first probe: create it (and probe) inside the namespace.
  void use(IcmpSocketKind kind) {
    IcmpMux::Options options;
    options.kind = kind;
    options.on_unavailable = [this](const std::string& why) {
      ++unavailable_;
      unavailable_text_ = why;
    };
    mux_ = std::make_unique<IcmpMux>(io_.get_executor(), options);
    env_.icmp = mux_.get();
  }
  CheckSpec echo(std::string address, int timeout_ms = 2000) {
    CheckSpec spec = make_spec(Transport::icmp, std::move(address), 0, Duration(timeout_ms));
    spec.check = "icmp_echo";
    return spec;
  }
  std::string_view kind_name() const { return GetParam() == IcmpSocketKind::raw ? "raw" : "ping"; }
  // Inside the namespace ping sockets are allowed for every group (root's included).
  void allow_ping_sockets(ScopedNetns& netns) {
    ASSERT_TRUE(netns.run("sysctl -qw net.ipv4.ping_group_range='0 2147483647'")) << netns.error();
  }

  asio::io_context io_;
  TlsContextCache cache_;
  std::unique_ptr<IcmpMux> mux_;
  ProbeEnv env_{io_.get_executor(), &cache_};
  int unavailable_ = 0;
  std::string unavailable_text_;
};

INSTANTIATE_TEST_SUITE_P(Sockets, IcmpProberTest,
                         ::testing::Values(IcmpSocketKind::raw, IcmpSocketKind::ping),
                         [](const ::testing::TestParamInfo<IcmpSocketKind>& info) {
                           return info.param == IcmpSocketKind::raw ? "Raw" : "Ping";
                         });

TEST_P(IcmpProberTest, LoopbackAnswers) {
  ScopedNetns netns;
  ASSERT_TRUE(netns.ok()) << netns.error();
  allow_ping_sockets(netns);
  use(GetParam());
  Probed p = probe(io_, echo("127.0.0.1"), env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_EQ(p.result.reason, Reason::none);
  EXPECT_EQ(p.result.detail, "echo reply");
  EXPECT_EQ(p.result.phase(Phase::resolve), 0);
  EXPECT_GT(p.result.phase(Phase::request), 0);  // the round trip
  EXPECT_LT(p.result.phase(Phase::request), 1.0);
  EXPECT_LT(p.wall_seconds, 1.0);
  EXPECT_EQ(mux_->socket_kind(false), kind_name());
  EXPECT_EQ(unavailable_, 0);

  p = probe(io_, echo("::1"), env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_GT(p.result.phase(Phase::request), 0);
  EXPECT_EQ(mux_->socket_kind(true), kind_name());
}

TEST_P(IcmpProberTest, SilentHostIsTimeout) {
  ScopedNetns netns;
  ASSERT_TRUE(netns.ok()) << netns.error();
  allow_ping_sockets(netns);
  ASSERT_TRUE(netns.nft(R"(table ip t {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request drop
  }
})")) << netns.error();
  use(GetParam());
  Probed p = probe(io_, echo("127.0.0.1", 300), env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::timeout) << p.result.detail;
  EXPECT_EQ(p.result.detail, "no echo reply within 300ms");
  EXPECT_LT(p.result.phase(Phase::request), 0);
  EXPECT_GE(p.result.duration, 0.3);
  EXPECT_LT(p.result.duration, 0.3 + 0.25);
}

TEST_P(IcmpProberTest, IcmpUnreachableErrorsAreUnreachable) {
  ScopedNetns netns;
  ASSERT_TRUE(netns.ok()) << netns.error();
  allow_ping_sockets(netns);
  ASSERT_TRUE(netns.nft(R"(table ip t {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 127.0.0.2 icmp type echo-request reject with icmp type host-unreachable
    ip daddr 127.0.0.3 icmp type echo-request reject with icmp type admin-prohibited
    ip daddr 127.0.0.4 icmp type echo-request reject with icmp type net-unreachable
  }
})")) << netns.error();
  use(GetParam());
  auto results = probe_all(
      io_, {echo("127.0.0.2"), echo("127.0.0.3"), echo("127.0.0.4"), echo("127.0.0.5")}, env_);
  ASSERT_EQ(results.size(), 4u);
  const char* expected[] = {"host unreachable", "communication administratively prohibited",
                            "network unreachable"};
  for (int i = 0; i < 3; ++i) {
    const auto& r = results[i].result;
    EXPECT_FALSE(r.success) << i;
    EXPECT_EQ(r.reason, Reason::unreachable) << r.detail;
    EXPECT_EQ(r.detail.rfind(expected[i], 0), 0u) << r.detail;
    EXPECT_NE(r.detail.find("(ICMP from 127.0.0."), std::string::npos) << r.detail;
    EXPECT_LT(results[i].wall_seconds, 1.0);  // not at the 2 s deadline
  }
  EXPECT_TRUE(results[3].result.success) << results[3].result.detail;  // not rejected
}

TEST_P(IcmpProberTest, UnreachableRouteFailsBeforeSending) {
  ScopedNetns netns;
  ASSERT_TRUE(netns.ok()) << netns.error();
  allow_ping_sockets(netns);
  ASSERT_TRUE(netns.run("ip route add unreachable 10.98.0.0/16")) << netns.error();
  use(GetParam());
  auto results = probe_all(io_, {echo("10.98.0.1"), echo("10.201.0.1")}, env_);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].result.reason, Reason::unreachable);
  EXPECT_EQ(results[0].result.detail, "host unreachable");
  EXPECT_EQ(results[1].result.reason, Reason::unreachable);
  EXPECT_EQ(results[1].result.detail, "network unreachable");
  for (const auto& r : results) EXPECT_LT(r.wall_seconds, 1.0);
}

TEST_P(IcmpProberTest, ManyHostsShareOneSocket) {
  ScopedNetns netns;
  ASSERT_TRUE(netns.ok()) << netns.error();
  allow_ping_sockets(netns);
  ASSERT_TRUE(netns.nft(R"(table ip t {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 127.9.0.0/16 icmp type echo-request drop
  }
})")) << netns.error();
  use(GetParam());
  std::vector<CheckSpec> specs;
  for (int i = 1; i <= 200; ++i) {
    // Answering and silent hosts interleaved; two probes of the same host at once, too.
    specs.push_back(echo("127.8." + std::to_string(i / 100) + "." + std::to_string(i % 100 + 1)));
    specs.push_back(echo("127.9.0." + std::to_string(i % 100 + 1), 400));
  }
  const int sockets_before = open_sockets();
  int sockets_during = 0;
  auto results = probe_all(io_, specs, env_, {}, [&] { sockets_during = open_sockets(); });
  ASSERT_EQ(results.size(), specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& r = results[i].result;
    if (i % 2 == 0) {
      EXPECT_TRUE(r.success) << specs[i].address << ": " << r.detail;
    } else {
      EXPECT_EQ(r.reason, Reason::timeout) << specs[i].address << ": " << r.detail;
      EXPECT_GE(r.duration, 0.4);
    }
  }
  EXPECT_LE(sockets_during, sockets_before + 1);
  EXPECT_EQ(mux_->pending(), 0u);
}

TEST_P(IcmpProberTest, CancellationEndsTheWaitAtOnce) {
  ScopedNetns netns;
  ASSERT_TRUE(netns.ok()) << netns.error();
  allow_ping_sockets(netns);
  ASSERT_TRUE(netns.nft(R"(table ip t {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request drop
  }
})")) << netns.error();
  use(GetParam());
  asio::cancellation_signal cancel;
  // Cancel from a later turn of the loop, once the request is out.
  asio::post(io_,
             [&] { asio::post(io_, [&] { cancel.emit(asio::cancellation_type::terminal); }); });
  Probed p = probe(io_, echo("127.0.0.1", 30000), env_, &cancel);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::timeout);
  EXPECT_EQ(p.result.detail, "cancelled during request");
  EXPECT_LT(p.wall_seconds, 1.0);
  EXPECT_EQ(mux_->pending(), 0u);
}

// Without a usable socket the check fails with the fix in its detail, and the daemon hears of
// it once (it logs it).
TEST(IcmpProberNoSocket, PingSocketsNotAllowedAndNoRawFallback) {
  ScopedNetns netns;  // net.ipv4.ping_group_range is "1 0" (nobody) in a new namespace
  ASSERT_TRUE(netns.ok()) << netns.error();
  asio::io_context io;
  TlsContextCache cache;
  int reported = 0;
  std::string text;
  IcmpMux::Options options;
  options.kind = IcmpSocketKind::ping;
  options.on_unavailable = [&](const std::string& why) {
    ++reported;
    text = why;
  };
  IcmpMux mux(io.get_executor(), options);
  ProbeEnv env{io.get_executor(), &cache, nullptr, &mux};
  for (int i = 0; i < 3; ++i) {
    Probed p = probe(io, make_spec(Transport::icmp, "127.0.0.1", 0), env);
    // This host may not open an ICMP socket: a local fault, no verdict on 127.0.0.1.
    EXPECT_FALSE(p.result.success);
    EXPECT_EQ(p.result.reason, Reason::none);
    EXPECT_EQ(p.result.local, LocalFault::icmp_permission);
    EXPECT_EQ(p.result.detail.rfind(kNoIcmpSocket, 0), 0u) << p.result.detail;
    EXPECT_LT(p.wall_seconds, 1.0);
  }
  EXPECT_EQ(reported, 1);
  EXPECT_NE(text.find("ping_group_range"), std::string::npos) << text;
  EXPECT_EQ(mux.socket_kind(false), "");
}

TEST(IcmpProberNoSocket, AutomaticFallsBackOnARawSocket) {
  ScopedNetns netns;  // ping sockets refused here; root has CAP_NET_RAW
  ASSERT_TRUE(netns.ok()) << netns.error();
  asio::io_context io;
  TlsContextCache cache;
  IcmpMux mux(io.get_executor());
  ProbeEnv env{io.get_executor(), &cache, nullptr, &mux};
  Probed p = probe(io, make_spec(Transport::icmp, "127.0.0.1", 0), env);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_EQ(mux.socket_kind(false), "raw");
}

TEST(IcmpProberNoSocket, WithoutAMuxTheCheckFailsClearly) {
  asio::io_context io;
  TlsContextCache cache;
  ProbeEnv env{io.get_executor(), &cache};
  Probed p = probe(io, make_spec(Transport::icmp, "127.0.0.1", 0), env);
  EXPECT_EQ(p.result.reason, Reason::none);
  EXPECT_EQ(p.result.local, LocalFault::icmp_permission);
  EXPECT_EQ(p.result.detail, kNoIcmpSocket);
}

// /probe answers an ICMP check in blackbox_exporter's names, phases included.
TEST(IcmpProbeEndpoint, AnswersInBlackboxNames) {
  ScopedNetns netns;
  ASSERT_TRUE(netns.ok()) << netns.error();
  asio::io_context io;
  TlsContextCache cache;
  IcmpMux::Options options;
  options.kind = IcmpSocketKind::raw;
  IcmpMux mux(io.get_executor(), options);
  ProbeEnv env{io.get_executor(), &cache, nullptr, &mux};
  ProbeEndpoint endpoint(io.get_executor(), env);
  auto loaded = load_config_string(R"([[target]]
name = "pc1"
role = "agent"
address = "127.0.0.1"
features = ["icmp"]
disable = ["signal_udp", "multicast_udp"]
)",
                                   "probe.toml");
  ASSERT_TRUE(loaded.ok()) << loaded.error_text();
  endpoint.configure(std::make_shared<Plan>(expand_plan(*loaded.config)), AllowList{}, 4);
  HttpRequest request;
  request.method = "GET";
  request.path = "/probe";
  request.query = "target=pc1";
  HttpResponse response;
  asio::co_spawn(io, endpoint.handle(request), [&](std::exception_ptr e, HttpResponse r) {
    EXPECT_FALSE(e);
    response = std::move(r);
    io.stop();
  });
  io.run_for(std::chrono::seconds(10));
  EXPECT_EQ(response.status, 200u);
  EXPECT_NE(response.body.find("probe_success{check=\"icmp_echo\"} 1"), std::string::npos)
      << response.body;
  EXPECT_NE(response.body.find("probe_icmp_duration_seconds{check=\"icmp_echo\",phase=\"rtt\"}"),
            std::string::npos)
      << response.body;
  EXPECT_NE(
      response.body.find("probe_icmp_duration_seconds{check=\"icmp_echo\",phase=\"resolve\"}"),
      std::string::npos)
      << response.body;
}

TEST(IcmpErrorText, NamesTypesAndCodes) {
  EXPECT_EQ(icmp_error_text(false, 3, 1), "host unreachable");
  EXPECT_EQ(icmp_error_text(false, 3, 13), "communication administratively prohibited");
  EXPECT_EQ(icmp_error_text(false, 11, 0), "time to live exceeded in transit");
  EXPECT_EQ(icmp_error_text(true, 1, 3), "address unreachable");
  EXPECT_EQ(icmp_error_text(true, 1, 1), "communication administratively prohibited");
  EXPECT_EQ(icmp_error_text(false, 3, 99), "ICMP error type 3 code 99");
}

}  // namespace
}  // namespace kscprobe::test
