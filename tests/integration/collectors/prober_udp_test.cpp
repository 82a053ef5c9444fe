#include <gtest/gtest.h>

#include "collectors/datagram_mux.hpp"
#include "tests/support/files.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

// Every test runs three times: on the shared sockets of a DatagramMux, as a coroutine
// (probe_udp) and as the scheduler starts agents' checks (start_udp_probe, a callback), and with
// a connected socket per probe (ProbeEnv::udp null). All must give the same result.
enum class UdpPath { shared_coroutine, shared_callback, socket_per_probe };

std::string path_name(const ::testing::TestParamInfo<UdpPath>& info) {
  switch (info.param) {
    case UdpPath::shared_coroutine:
      return "SharedSocket";
    case UdpPath::shared_callback:
      return "SharedSocketCallback";
    case UdpPath::socket_per_probe:
      return "SocketPerProbe";
  }
  return "?";
}

class UdpProberTest : public ::testing::TestWithParam<UdpPath> {
 protected:
  void SetUp() override {
    if (shared()) env_.udp = &mux_;
  }
  bool shared() const { return GetParam() != UdpPath::socket_per_probe; }

  // The tests call these rather than the helpers of the same name, to run on this path.
  std::vector<Probed> probe_all(asio::io_context& io, const std::vector<CheckSpec>& specs,
                                ProbeEnv& env,
                                const std::vector<asio::cancellation_signal*>& cancels = {}) {
    return test::probe_all(io, specs, env, cancels, {}, GetParam() == UdpPath::shared_callback);
  }
  Probed probe(asio::io_context& io, const CheckSpec& spec, ProbeEnv& env) {
    return probe_all(io, {spec}, env).at(0);
  }

  asio::io_context io_;
  TlsContextCache cache_;
  DatagramMux mux_{io_.get_executor()};
  NameResolver resolver_{io_.get_executor()};
  ProbeEnv env_{io_.get_executor(), &cache_, nullptr, nullptr, &resolver_};
  std::shared_ptr<std::string> received_ = std::make_shared<std::string>();
};

INSTANTIATE_TEST_SUITE_P(Paths, UdpProberTest,
                         ::testing::Values(UdpPath::shared_coroutine, UdpPath::shared_callback,
                                           UdpPath::socket_per_probe),
                         path_name);

TEST_P(UdpProberTest, SilenceIsOpenOrFiltered) {
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

TEST_P(UdpProberTest, ClosedPortIsRefused) {
  std::uint16_t port = closed_udp_port(loopback_v4());
  Probed p = probe(io_, make_spec(Transport::udp, "127.0.0.1", port), env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::refused) << p.result.detail;
  EXPECT_EQ(p.result.detail, "port unreachable (ICMP): closed");
  EXPECT_FALSE(p.result.udp_reply);
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_LT(p.wall_seconds, 2.0);  // refused at once, not at the 3 s deadline
}

TEST_P(UdpProberTest, ReplyMeansOpen) {
  std::uint16_t port = start_udp_server(io_, loopback_v4(), /*echo=*/true, received_);
  auto spec = make_spec(Transport::udp, "127.0.0.1", port);
  spec.mutable_options().udp_payload = "KSC\x01ping";
  Probed p = probe(io_, spec, env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_TRUE(p.result.udp_reply);
  EXPECT_EQ(p.result.detail, "open");
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_GE(p.result.phase(Phase::request), 0);
  EXPECT_EQ(*received_, "KSC\x01ping");
  EXPECT_LT(p.wall_seconds, 2.0);
}

TEST_P(UdpProberTest, Ipv6Loopback) {
  std::uint16_t port = start_udp_server(io_, loopback_v6(), /*echo=*/true, received_);
  Probed p = probe(io_, make_spec(Transport::udp, "::1", port), env_);
  EXPECT_TRUE(p.result.udp_reply) << p.result.detail;
  std::uint16_t closed = closed_udp_port(loopback_v6());
  p = probe(io_, make_spec(Transport::udp, "[::1]", closed), env_);
  EXPECT_EQ(p.result.reason, Reason::refused) << p.result.detail;
  EXPECT_EQ(p.result.detail, "port unreachable (ICMP): closed");
  if (shared()) {
    EXPECT_EQ(mux_.open_sockets(), 1);  // only the IPv6 one was needed
  }
}

TEST_P(UdpProberTest, InvalidTldIsResolveFailure) {
  Probed p = probe(io_, make_spec(Transport::udp, "agent.invalid.", 15000), env_);
  EXPECT_EQ(p.result.reason, Reason::resolve) << p.result.detail;
  EXPECT_FALSE(p.result.success);
}

TEST_P(UdpProberTest, NameIsResolvedThenProbed) {
  std::uint16_t port = start_udp_server(io_, loopback_v4(), /*echo=*/true, received_);
  Probed p = probe(io_, make_spec(Transport::udp, "localhost", port), env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_GE(p.result.phase(Phase::resolve), 0);
}

// An ICMP error about one destination must not fail the next probe to another: on a shared
// socket the kernel also reports it as the socket's pending error, through the next sendto().
TEST_P(UdpProberTest, AnErrorAboutOnePeerDoesNotFailTheNextProbe) {
  std::uint16_t closed = closed_udp_port(loopback_v4());
  std::uint16_t open = start_udp_server(io_, loopback_v4(), /*echo=*/true, received_);
  auto results = probe_all(
      io_,
      {make_spec(Transport::udp, "127.0.0.1", closed), make_spec(Transport::udp, "127.0.0.1", open),
       make_spec(Transport::udp, "127.0.0.1", closed),
       make_spec(Transport::udp, "127.0.0.1", open)},
      env_);
  ASSERT_EQ(results.size(), 4u);
  for (int i : {0, 2}) EXPECT_EQ(results[i].result.reason, Reason::refused) << i;
  for (int i : {1, 3}) {
    EXPECT_TRUE(results[i].result.udp_reply) << i << ": " << results[i].result.detail;
  }
}

// Faults that need rules: in a network namespace of the test's own.
class UdpProberFaultTest : public UdpProberTest {
 protected:
  // The netns must exist before the socket is opened; the probes open theirs lazily.
  void SetUp() override {
    UdpProberTest::SetUp();
    ASSERT_TRUE(netns_.ok()) << netns_.error();
  }
  ScopedNetns netns_;
};

INSTANTIATE_TEST_SUITE_P(Paths, UdpProberFaultTest,
                         ::testing::Values(UdpPath::shared_coroutine, UdpPath::shared_callback,
                                           UdpPath::socket_per_probe),
                         path_name);

TEST_P(UdpProberFaultTest, IcmpRejectsMapLikeOnAConnectedSocket) {
  ASSERT_TRUE(netns_.nft(R"(table ip t {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 7201 reject with icmp type port-unreachable
    udp dport 7202 reject with icmp type host-unreachable
    udp dport 7203 reject with icmp type admin-prohibited
    udp dport 7204 reject with icmp type net-unreachable
    udp dport 7200 drop
  }
})")) << netns_.error();
  auto results = probe_all(io_,
                           {make_spec(Transport::udp, "127.0.0.1", 7201, Duration(1000)),
                            make_spec(Transport::udp, "127.0.0.1", 7202, Duration(1000)),
                            make_spec(Transport::udp, "127.0.0.1", 7203, Duration(1000)),
                            make_spec(Transport::udp, "127.0.0.1", 7204, Duration(1000)),
                            make_spec(Transport::udp, "127.0.0.1", 7200, Duration(300))},
                           env_);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].result.reason, Reason::refused);
  EXPECT_EQ(results[0].result.detail, "port unreachable (ICMP): closed");
  EXPECT_EQ(results[1].result.reason, Reason::unreachable);
  EXPECT_EQ(results[1].result.detail, "host unreachable");
  EXPECT_EQ(results[2].result.reason, Reason::unreachable);
  EXPECT_EQ(results[2].result.detail, "host unreachable");
  EXPECT_EQ(results[3].result.reason, Reason::unreachable);
  EXPECT_EQ(results[3].result.detail, "network unreachable");
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(results[i].result.success) << i;
    EXPECT_GE(results[i].result.phase(Phase::connect), 0) << i;  // the datagram left
    EXPECT_LT(results[i].wall_seconds, 0.9) << i;                // not at the deadline
  }
  EXPECT_TRUE(results[4].result.success);
  EXPECT_EQ(results[4].result.detail, "no reply: open|filtered");
}

TEST_P(UdpProberFaultTest, RoutingFailuresAreUnreachableBeforeSending) {
  ASSERT_TRUE(netns_.run("ip route add unreachable 10.98.0.0/16")) << netns_.error();
  auto results = probe_all(io_,
                           {make_spec(Transport::udp, "10.98.0.1", 15000),
                            make_spec(Transport::udp, "10.201.0.1", 15000)},  // no route at all
                           env_);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].result.reason, Reason::unreachable);
  EXPECT_EQ(results[0].result.detail, "host unreachable");
  EXPECT_EQ(results[1].result.reason, Reason::unreachable);
  EXPECT_EQ(results[1].result.detail, "network unreachable");
  for (const auto& r : results) {
    EXPECT_LT(r.result.phase(Phase::connect), 0);  // failed in connect, as connect() does
    EXPECT_LT(r.wall_seconds, 1.0);
  }
}

TEST_P(UdpProberFaultTest, LocalFirewallIsUnreachable) {
  ASSERT_TRUE(netns_.nft(R"(table ip t {
  chain output {
    type filter hook output priority 0; policy accept;
    udp dport 7300 drop
  }
})")) << netns_.error();
  Probed p = probe(io_, make_spec(Transport::udp, "127.0.0.1", 7300), env_);
  EXPECT_EQ(p.result.reason, Reason::unreachable);
  EXPECT_EQ(p.result.detail, "blocked by a local firewall: Operation not permitted");
  EXPECT_GE(p.result.phase(Phase::connect), 0);
}

// ---------------------------------------------------------------------------------------------
// The multiplexer itself

// On the shared sockets only, as a coroutine and as a callback (start_udp_probe).
class DatagramMuxTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { env_.udp = &mux_; }
  std::vector<Probed> probe_all(asio::io_context& io, const std::vector<CheckSpec>& specs,
                                ProbeEnv& env,
                                const std::vector<asio::cancellation_signal*>& cancels = {},
                                std::function<void()> during = {}) {
    return test::probe_all(io, specs, env, cancels, std::move(during), GetParam());
  }
  asio::io_context io_;
  TlsContextCache cache_;
  DatagramMux mux_{io_.get_executor()};

  ProbeEnv env_{io_.get_executor(), &cache_};
  std::shared_ptr<std::string> received_ = std::make_shared<std::string>();
};

INSTANTIATE_TEST_SUITE_P(Paths, DatagramMuxTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Callback" : "Coroutine";
                         });

TEST_P(DatagramMuxTest, HundredsOfProbesShareOneSocketAndEachGetsItsOwnAnswer) {
  ScopedNetns netns;  // a wildcard listener serves every 127.x address, without the host's
  ASSERT_TRUE(netns.ok()) << netns.error();
  // Silent hosts: one wildcard socket answers nothing for all of them. Its buffer holds the
  // whole burst: it reads on the probes' own loop.
  auto silent_count = std::make_shared<int>(0);
  udp::socket silent_socket(io_, udp::endpoint(asio::ip::address_v4::any(), 0));
  silent_socket.set_option(asio::socket_base::receive_buffer_size(4 << 20));
  std::uint16_t silent = silent_socket.local_endpoint().port();
  asio::co_spawn(io_,
                 serve_udp(std::move(silent_socket), /*echo=*/false, received_,
                           [silent_count] { ++*silent_count; }),
                 asio::detached);
  // Answering hosts: an echo server bound to each address (a reply must come from there).
  std::vector<std::pair<std::string, std::uint16_t>> answering;
  for (int i = 1; i <= 10; ++i) {
    std::string address = "127.0.1." + std::to_string(i);
    answering.emplace_back(address, start_udp_server(io_, asio::ip::make_address(address),
                                                     /*echo=*/true, received_));
  }
  std::uint16_t closed = closed_udp_port(loopback_v4());
  std::vector<CheckSpec> specs;
  for (int i = 0; i < 300; ++i) {
    std::string host = "127.2." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1);
    specs.push_back(make_spec(Transport::udp, host, silent, Duration(500)));
    specs.back().check = "silent";
    if (i % 10 == 0) {
      const auto& [address, port] = answering[static_cast<std::size_t>(i / 10) % 10];
      specs.push_back(make_spec(Transport::udp, address, port, Duration(500)));
      specs.back().check = "answering";
      specs.push_back(make_spec(Transport::udp, "127.3.0." + std::to_string(i / 10 + 1), closed,
                                Duration(500)));
      specs.back().check = "closed";
    }
  }
  const int sockets_before = open_sockets();
  int sockets_during = 0;
  std::size_t pending_during = 0;
  auto results = probe_all(io_, specs, env_, {}, [&] {
    sockets_during = open_sockets();
    pending_during = mux_.pending();
  });
  ASSERT_EQ(results.size(), specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& r = results[i].result;
    SCOPED_TRACE(specs[i].check + " " + specs[i].address + ": " + r.detail);
    if (specs[i].check == "silent") {
      EXPECT_TRUE(r.success);
      EXPECT_FALSE(r.udp_reply);
      EXPECT_GE(r.duration, 0.5);
    } else if (specs[i].check == "answering") {
      EXPECT_TRUE(r.udp_reply);
      EXPECT_LT(r.duration, 0.5);
    } else {
      EXPECT_EQ(r.reason, Reason::refused);
      EXPECT_LT(r.duration, 0.5);
    }
  }
  EXPECT_EQ(*silent_count, 300);
  EXPECT_EQ(pending_during, specs.size());
  EXPECT_LE(sockets_during, sockets_before + 1);  // the mux's one socket, opened lazily
  EXPECT_EQ(mux_.open_sockets(), 1);
  EXPECT_EQ(mux_.pending(), 0u);
}

// Two probes to the same address and port at the same time both take the one answer.
TEST_P(DatagramMuxTest, ProbesToTheSameDestinationShareTheAnswer) {
  udp::socket server(io_, udp::endpoint(loopback_v4(), 0));
  const std::uint16_t port = server.local_endpoint().port();
  auto served = std::make_shared<int>(0);
  // Reads both datagrams, answers only the first.
  asio::co_spawn(
      io_,
      [&server, served]() -> asio::awaitable<void> {
        std::array<char, 64> buffer;
        udp::endpoint from;
        for (int i = 0; i < 2; ++i) {
          auto [ec, n] = co_await server.async_receive_from(asio::buffer(buffer), from,
                                                            asio::as_tuple(asio::use_awaitable));
          if (ec) co_return;
          ++*served;
        }
        co_await server.async_send_to(asio::buffer("pong", 4), from,
                                      asio::as_tuple(asio::use_awaitable));
      },
      asio::detached);
  auto results = probe_all(io_,
                           {make_spec(Transport::udp, "127.0.0.1", port, Duration(2000)),
                            make_spec(Transport::udp, "127.0.0.1", port, Duration(2000))},
                           env_);
  EXPECT_EQ(*served, 2);
  for (const auto& r : results) {
    EXPECT_TRUE(r.result.udp_reply) << r.result.detail;
    EXPECT_LT(r.wall_seconds, 1.5);
  }
}

TEST_P(DatagramMuxTest, EachTimeoutEndsAtItsOwnDeadline) {
  std::uint16_t port = start_udp_server(io_, loopback_v4(), /*echo=*/false, received_);
  std::vector<CheckSpec> specs;
  for (int ms : {600, 200, 400, 200, 600, 400, 200}) {
    specs.push_back(make_spec(Transport::udp, "127.0.0.1", port, Duration(ms)));
  }
  auto results = probe_all(io_, specs, env_);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const double timeout = std::chrono::duration<double>(specs[i].timeout).count();
    EXPECT_TRUE(results[i].result.success) << i;
    EXPECT_GE(results[i].result.duration, timeout) << i;
    EXPECT_LT(results[i].result.duration, timeout + 0.15) << i;
    EXPECT_LT(results[i].wall_seconds, timeout + 0.15) << i;
  }
}

TEST_P(DatagramMuxTest, CancellingOneProbeEndsItAtOnceAndLeavesTheOthers) {
  auto datagrams = std::make_shared<int>(0);
  asio::cancellation_signal cancel;
  std::uint16_t port = start_udp_server(io_, loopback_v4(), /*echo=*/false, received_, [&] {
    // Both datagrams are out: the probes wait for a reply.
    if (++*datagrams == 2) {
      asio::post(io_, [&] { cancel.emit(asio::cancellation_type::terminal); });
    }
  });
  auto results = probe_all(io_,
                           {make_spec(Transport::udp, "127.0.0.1", port, Duration(500)),
                            make_spec(Transport::udp, "127.0.0.1", port, Duration(30000))},
                           env_, {nullptr, &cancel});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].result.success);
  EXPECT_EQ(results[0].result.detail, "no reply: open|filtered");
  EXPECT_GE(results[0].result.duration, 0.5);
  const auto& cancelled = results[1].result;
  EXPECT_FALSE(cancelled.success);
  EXPECT_EQ(cancelled.reason, Reason::timeout);
  EXPECT_EQ(cancelled.detail, "cancelled during request");
  EXPECT_LT(results[1].wall_seconds, 0.4);  // at once, not with the other probe
  EXPECT_EQ(mux_.pending(), 0u);
}

TEST_P(DatagramMuxTest, DestroyingTheMuxCompletesItsProbesAsCancelled) {
  auto mux = std::make_unique<DatagramMux>(io_.get_executor());
  env_.udp = mux.get();
  std::uint16_t port = start_udp_server(io_, loopback_v4(), /*echo=*/false, received_,
                                        [&] { asio::post(io_, [&] { mux.reset(); }); });
  auto results =
      probe_all(io_, {make_spec(Transport::udp, "127.0.0.1", port, Duration(30000))}, env_);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].result.reason, Reason::timeout);
  EXPECT_EQ(results[0].result.detail, "cancelled during request");
  EXPECT_LT(results[0].wall_seconds, 1.0);
}

}  // namespace
}  // namespace kscprobe::test
