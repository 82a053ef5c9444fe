// start_probe, the one way the scheduler, --once and /probe launch a check: the callback fast
// paths for TCP and UDP, the coroutine for the others, and an exception inside a prober ending
// as a failure that keeps its text. ProbeResources, the one place that builds what probes share.
#include <gtest/gtest.h>
#include <poll.h>

#include <stdexcept>

#include "collectors/datagram_mux.hpp"
#include "collectors/icmp_prober.hpp"
#include "collectors/probe_resources.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

using Outcome = std::shared_ptr<std::optional<ProbeResult>>;

// Starts the probe as the daemon does; the outcome is filled when `done` runs.
Outcome launch(const CheckSpec& spec, ProbeEnv& env, asio::cancellation_slot slot = {}) {
  auto out = std::make_shared<std::optional<ProbeResult>>();
  start_probe(spec, env, slot, [out](ProbeResult r) { *out = std::move(r); });
  return out;
}

// Runs the loop until the outcome is in (at most 15 s, which fails the test).
ProbeResult wait_for(asio::io_context& io, const Outcome& out) {
  io.restart();
  const auto until = std::chrono::steady_clock::now() + 15s;
  while (!out->has_value() && std::chrono::steady_clock::now() < until) io.run_one_for(50ms);
  if (!out->has_value()) {
    ADD_FAILURE() << "the probe did not finish";
    return {};
  }
  return **out;
}

// True when `fd` has something to read (a connection to accept, a datagram) within `ms`.
bool readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

// A prober with a bug: it throws instead of reporting a Reason.
asio::awaitable<ProbeResult> throwing_prober(const CheckSpec&, ProbeEnv&) {
  throw std::runtime_error("index 7 out of range in the reply parser");
  co_return ProbeResult{};
}

asio::awaitable<ProbeResult> throwing_anything_prober(const CheckSpec&, ProbeEnv&) {
  throw 42;
  co_return ProbeResult{};
}

class StartProbeTest : public ::testing::Test {
 protected:
  asio::io_context io_;
  TlsContextCache cache_;
  ProbeEnv env_{io_.get_executor(), &cache_};
};

// A TCP check to an IP literal connects within the call (no coroutine, no loop): the listener
// has the connection in its queue before the loop runs once.
TEST_F(StartProbeTest, TcpTakesTheCallbackPath) {
  tcp::acceptor listener = listen_on(io_, loopback_v4());
  auto spec = make_spec(Transport::tcp, "127.0.0.1", listener.local_endpoint().port());
  Outcome out = launch(spec, env_);
  EXPECT_FALSE(out->has_value()) << "done ran within start_probe";
  EXPECT_TRUE(readable(listener.native_handle(), 1000)) << "nothing connected before the loop ran";
  ProbeResult r = wait_for(io_, out);
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(r.detail, "connected");
}

// TLS and HTTP checks run their prober as a coroutine on the loop: nothing connects until the
// loop runs, and then the prober of the transport does its part (the handshake, the request),
// which this silent listener never answers.
TEST_F(StartProbeTest, TlsAndHttpRunAsCoroutines) {
  for (Transport transport : {Transport::tls, Transport::http}) {
    SCOPED_TRACE(std::string(to_string(transport)));
    tcp::acceptor listener = listen_on(io_, loopback_v4());
    auto spec = make_spec(transport, "127.0.0.1", listener.local_endpoint().port(), Duration(300));
    Outcome out = launch(spec, env_);
    EXPECT_FALSE(out->has_value()) << "done ran within start_probe";
    EXPECT_FALSE(readable(listener.native_handle(), 100)) << "connected before the loop ran";
    ProbeResult r = wait_for(io_, out);
    EXPECT_TRUE(readable(listener.native_handle(), 0)) << "the probe never connected";
    EXPECT_FALSE(r.success);
    EXPECT_EQ(r.reason, Reason::timeout) << r.detail;
    EXPECT_GE(r.phase(Phase::connect), 0);
    if (transport == Transport::tls) {
      EXPECT_EQ(r.detail, "no reply within 300ms during tls");
    } else {
      EXPECT_EQ(r.detail, "no reply within 300ms during request");
    }
  }
}

// A TCP check by name cannot take the callback path: the coroutine resolves it.
TEST_F(StartProbeTest, TcpByNameRunsAsACoroutine) {
  auto spec = make_spec(Transport::tcp, "no-such-host.invalid", 443);
  Outcome out = launch(spec, env_);
  EXPECT_FALSE(out->has_value());
  ProbeResult r = wait_for(io_, out);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::resolve) << r.detail;
}

// With the shared UDP sockets the datagram leaves within the call; without them, the coroutine
// (a socket of its own) sends it once the loop runs.
TEST_F(StartProbeTest, UdpTakesTheCallbackPathOnTheSharedSockets) {
  DatagramMux mux(io_.get_executor());
  for (bool shared : {true, false}) {
    SCOPED_TRACE(shared ? "shared sockets" : "socket of its own");
    env_.udp = shared ? &mux : nullptr;
    udp::socket peer(io_, udp::endpoint(loopback_v4(), 0));
    auto spec = make_spec(Transport::udp, "127.0.0.1", peer.local_endpoint().port(), Duration(300));
    Outcome out = launch(spec, env_);
    EXPECT_FALSE(out->has_value()) << "done ran within start_probe";
    EXPECT_EQ(readable(peer.native_handle(), shared ? 1000 : 100), shared);
    ProbeResult r = wait_for(io_, out);
    EXPECT_TRUE(readable(peer.native_handle(), 0)) << "no datagram was sent";
    EXPECT_TRUE(r.success) << r.detail;
    EXPECT_FALSE(r.udp_reply);
    EXPECT_EQ(r.detail, "no reply: open|filtered");
  }
  EXPECT_EQ(mux.open_sockets(), 1);
}

// The slot given to start_probe cancels the coroutine: the probe ends at once.
TEST_F(StartProbeTest, TheSlotCancelsACoroutine) {
  tcp::acceptor listener = listen_on(io_, loopback_v4());
  auto spec =
      make_spec(Transport::tls, "127.0.0.1", listener.local_endpoint().port(), Duration(10000));
  asio::cancellation_signal cancel;
  Outcome out = launch(spec, env_, cancel.slot());
  asio::steady_timer later(io_, 200ms);
  later.async_wait(
      [&](boost::system::error_code) { cancel.emit(asio::cancellation_type::terminal); });
  const auto start = std::chrono::steady_clock::now();
  ProbeResult r = wait_for(io_, out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::timeout) << r.detail;
  EXPECT_EQ(r.detail.rfind("cancelled", 0), 0u) << r.detail;
}

// An exception inside a prober is a bug; the probe still ends, as a failure that says what was
// thrown, and the env's hook hears of it once (the daemon logs it).
TEST_F(StartProbeTest, AnExceptionEndsAsAFailureWithItsText) {
  std::vector<std::pair<std::string, std::string>> reported;
  env_.on_internal_error = [&](const CheckSpec& spec, const std::string& what) {
    reported.emplace_back(spec.check, what);
  };
  auto spec = make_spec(Transport::tls, "127.0.0.1", 443);
  spec.check = "web_console";
  auto out = std::make_shared<std::optional<ProbeResult>>();
  spawn_probe(
      spec, env_, {}, [out](ProbeResult r) { *out = std::move(r); }, &throwing_prober);
  EXPECT_FALSE(out->has_value());
  ProbeResult r = wait_for(io_, out);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::protocol);
  EXPECT_EQ(r.detail, "internal error: index 7 out of range in the reply parser");
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].first, "web_console");
  EXPECT_EQ(reported[0].second, "index 7 out of range in the reply parser");

  // Something that is not a std::exception, and no hook: still a failure that says so.
  env_.on_internal_error = nullptr;
  out = std::make_shared<std::optional<ProbeResult>>();
  spawn_probe(
      spec, env_, {}, [out](ProbeResult r) { *out = std::move(r); }, &throwing_anything_prober);
  r = wait_for(io_, out);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::protocol);
  EXPECT_EQ(r.detail, "internal error: unknown exception");
  EXPECT_EQ(reported.size(), 1u);
}

TEST(ProbeResources, EnvPointsAtItsOwnResources) {
  asio::io_context io;
  ProbeResources probes(io.get_executor());
  ProbeEnv& env = probes.env();
  EXPECT_TRUE(env.executor == asio::any_io_executor(io.get_executor()));
  EXPECT_EQ(env.tls, &probes.tls_cache());
  EXPECT_EQ(env.udp, &probes.udp_mux());
  EXPECT_EQ(env.icmp, &probes.icmp_mux());
  EXPECT_FALSE(env.on_internal_error);
}

// The hook of the options is the env's: a prober's exception reaches it.
TEST(ProbeResources, InternalErrorsReachTheOptionsHook) {
  asio::io_context io;
  std::string reported;
  ProbeResources::Options options;
  options.on_internal_error = [&](const CheckSpec&, const std::string& what) { reported = what; };
  ProbeResources probes(io.get_executor(), options);
  auto spec = make_spec(Transport::tcp, "127.0.0.1", 1);
  auto out = std::make_shared<std::optional<ProbeResult>>();
  spawn_probe(
      spec, probes.env(), {}, [out](ProbeResult r) { *out = std::move(r); }, &throwing_prober);
  ProbeResult r = wait_for(io, out);
  EXPECT_EQ(r.detail, "internal error: index 7 out of range in the reply parser");
  EXPECT_EQ(reported, "index 7 out of range in the reply parser");
}

// UDP checks started on the env share the mux's socket.
TEST(ProbeResources, UdpChecksShareItsSocket) {
  asio::io_context io;
  ProbeResources probes(io.get_executor());
  udp::socket peer(io, udp::endpoint(loopback_v4(), 0));
  auto spec = make_spec(Transport::udp, "127.0.0.1", peer.local_endpoint().port(), Duration(200));
  Outcome a = launch(spec, probes.env());
  Outcome b = launch(spec, probes.env());
  EXPECT_EQ(probes.udp_mux().open_sockets(), 1);
  EXPECT_TRUE(wait_for(io, a).success);
  EXPECT_TRUE(wait_for(io, b).success);
}

// The ICMP options reach the mux: a ping socket only, where ping sockets are not allowed, is no
// socket (automatic would have fallen back on a raw one), and the hook hears of it once.
TEST(ProbeResources, IcmpOptionsReachTheMux) {
  ScopedNetns netns;  // net.ipv4.ping_group_range is "1 0" (nobody) in a new namespace
  ASSERT_TRUE(netns.ok()) << netns.error();
  asio::io_context io;
  int reported = 0;
  ProbeResources::Options options;
  options.icmp_kind = IcmpSocketKind::ping;
  options.on_icmp_unavailable = [&](const std::string&) { ++reported; };
  ProbeResources probes(io.get_executor(), options);
  for (int i = 0; i < 2; ++i) {
    ProbeResult r = wait_for(io, launch(make_spec(Transport::icmp, "127.0.0.1", 0), probes.env()));
    EXPECT_FALSE(r.success);
    EXPECT_EQ(r.local, LocalFault::icmp_permission);
    EXPECT_EQ(r.detail.rfind(kNoIcmpSocket, 0), 0u) << r.detail;
  }
  EXPECT_EQ(reported, 1);
  EXPECT_EQ(probes.icmp_mux().socket_kind(false), "");
}

}  // namespace
}  // namespace kscprobe::test
