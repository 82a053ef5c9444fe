#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

#include "tests/support/files.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

// Every test runs as a coroutine (probe_tcp) and as the scheduler starts TCP checks
// (start_tcp_probe: a connect that completes within the call ends without the event loop).
class TcpProberTest : public ::testing::TestWithParam<bool> {
 protected:
  bool callbacks() const { return GetParam(); }
  Probed probe(asio::io_context& io, const CheckSpec& spec, ProbeEnv& env,
               asio::cancellation_signal* cancel = nullptr) {
    if (!callbacks()) return test::probe(io, spec, env, cancel);
    return test::probe_all(io, {spec}, env, {cancel}, {}, true).at(0);
  }
  asio::io_context io_;
  TlsContextCache cache_;
  NameResolver resolver_{io_.get_executor()};
  ProbeEnv env_{io_.get_executor(), &cache_, nullptr, nullptr, &resolver_};
};

INSTANTIATE_TEST_SUITE_P(Paths, TcpProberTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Callback" : "Coroutine";
                         });

TEST_P(TcpProberTest, OpenPortSucceeds) {
  int accepted = 0;
  std::uint16_t port =
      start_peer(io_, loopback_v4(),
                 {.conduct = Conduct::hold, .on_accept = [&](tcp::socket&) { ++accepted; }});
  auto spec = make_spec(Transport::tcp, "127.0.0.1", port);
  Probed p = probe(io_, spec, env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_EQ(p.result.reason, Reason::none);
  EXPECT_EQ(p.result.phase(Phase::resolve), 0);  // IP literal: no lookup
  EXPECT_GE(p.result.phase(Phase::connect), 0);
  EXPECT_LT(p.result.phase(Phase::tls), 0);
  EXPECT_LT(p.result.phase(Phase::request), 0);
  EXPECT_GT(p.result.duration, 0);
  EXPECT_GE(p.result.duration, p.result.phase(Phase::connect));
  EXPECT_LE(p.result.duration, p.wall_seconds);
  EXPECT_FALSE(p.result.tls.has_value());
  // The server saw the connection: the success is not a local illusion.
  io_.restart();
  io_.poll();
  EXPECT_EQ(accepted, 1);
}

TEST_P(TcpProberTest, ClosedPortIsRefused) {
  std::uint16_t port = closed_tcp_port(loopback_v4());
  Probed p = probe(io_, make_spec(Transport::tcp, "127.0.0.1", port), env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::refused) << p.result.detail;
  EXPECT_EQ(p.result.detail, "connection refused");
  EXPECT_EQ(p.result.phase(Phase::resolve), 0);
  EXPECT_LT(p.result.phase(Phase::connect), 0);  // the connect did not complete
}

// Holds every descriptor the process may still open (a soft limit just above those in use,
// the rest taken by copies of stdin) until destroyed, when the limit comes back.
class OutOfDescriptors {
 public:
  OutOfDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest_free = ::dup(0);
    ::close(lowest_free);
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(lowest_free) + 4;
    ::setrlimit(RLIMIT_NOFILE, &low);
    for (int fd; (fd = ::dup(0)) >= 0;) held_.push_back(fd);
  }
  ~OutOfDescriptors() {
    for (int fd : held_) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  OutOfDescriptors(const OutOfDescriptors&) = delete;
  OutOfDescriptors& operator=(const OutOfDescriptors&) = delete;

 private:
  rlimit saved_{};
  std::vector<int> held_;
};

// A probe that cannot get a socket (EMFILE) failed on this host: a local fault, not a verdict on
// the peer, which is listening.
TEST_P(TcpProberTest, OutOfDescriptorsIsALocalFaultNotUnreachable) {
  std::uint16_t port = start_peer(io_, loopback_v4(), {.conduct = Conduct::hold});
  auto spec = make_spec(Transport::tcp, "127.0.0.1", port);
  Probed p;
  {
    OutOfDescriptors full;
    p = probe(io_, spec, env_);
  }
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::none) << p.result.detail;
  EXPECT_EQ(p.result.local, LocalFault::fd_limit) << p.result.detail;
  EXPECT_NE(p.result.detail.find("fd_limit"), std::string::npos) << p.result.detail;
  // With descriptors again, the same check succeeds.
  Probed again = probe(io_, spec, env_);
  EXPECT_TRUE(again.result.success) << again.result.detail;
  EXPECT_EQ(again.result.local, LocalFault::none);
}

TEST_P(TcpProberTest, DroppedSynIsTimeoutWithinTheDeadline) {
  FullBacklogListener listener;
  ASSERT_TRUE(listener.ok()) << listener.error();
  ASSERT_TRUE(listener.queue_full()) << "could not fill the accept queue";
  auto spec = make_spec(Transport::tcp, "127.0.0.1", listener.port(), Duration(300));
  Probed p = probe(io_, spec, env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::timeout) << p.result.detail;
  EXPECT_EQ(p.result.detail, "no reply within 300ms during connect");
  EXPECT_LT(p.result.phase(Phase::connect), 0);
  EXPECT_GE(p.result.duration, 0.3);
  EXPECT_LT(p.result.duration, 0.3 + 0.4);
  EXPECT_LT(p.wall_seconds, 0.3 + 1.0);
}

// A connect that does not complete within the call: the SYN is dropped while the listener's
// queue is full, and the kernel's retransmission, about a second later, gets through once the
// queue has room.
TEST_P(TcpProberTest, AConnectThatCompletesLaterSucceeds) {
  FullBacklogListener listener;
  ASSERT_TRUE(listener.ok()) << listener.error();
  ASSERT_TRUE(listener.queue_full()) << "could not fill the accept queue";
  asio::steady_timer room(io_, std::chrono::milliseconds(200));
  room.async_wait([&](boost::system::error_code ec) {
    if (!ec) listener.accept_pending();
  });
  Probed p =
      probe(io_, make_spec(Transport::tcp, "127.0.0.1", listener.port(), Duration(4000)), env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_EQ(p.result.detail, "connected");
  EXPECT_GE(p.result.phase(Phase::connect), 0.5);  // it waited for the retransmission
  EXPECT_LT(p.wall_seconds, 4.0);
}

TEST_P(TcpProberTest, CancellingAPendingConnectEndsItAtOnce) {
  FullBacklogListener listener;
  ASSERT_TRUE(listener.ok()) << listener.error();
  ASSERT_TRUE(listener.queue_full()) << "could not fill the accept queue";
  asio::cancellation_signal cancel;
  asio::steady_timer later(io_, std::chrono::milliseconds(100));
  later.async_wait([&](boost::system::error_code ec) {
    if (!ec) cancel.emit(asio::cancellation_type::terminal);
  });
  Probed p = probe(io_, make_spec(Transport::tcp, "127.0.0.1", listener.port(), Duration(5000)),
                   env_, &cancel);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::timeout);
  EXPECT_EQ(p.result.detail, "cancelled during connect");
  EXPECT_LT(p.wall_seconds, 1.0);
}

TEST_P(TcpProberTest, Ipv6LoopbackLiteral) {
  std::uint16_t port = start_peer(io_, loopback_v6(), {.conduct = Conduct::hold});
  for (std::string address : {"::1", "[::1]"}) {
    Probed p = probe(io_, make_spec(Transport::tcp, address, port), env_);
    EXPECT_TRUE(p.result.success) << address << ": " << p.result.detail;
    EXPECT_EQ(p.result.phase(Phase::resolve), 0) << address;
  }
  std::uint16_t closed = closed_tcp_port(loopback_v6());
  Probed p = probe(io_, make_spec(Transport::tcp, "::1", closed), env_);
  EXPECT_EQ(p.result.reason, Reason::refused);
}

TEST_P(TcpProberTest, InvalidTldIsResolveFailure) {
  Probed p = probe(io_, make_spec(Transport::tcp, "ksc01.corp.invalid", 14000), env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::resolve);
  EXPECT_NE(p.result.detail.find("ksc01.corp.invalid"), std::string::npos) << p.result.detail;
  EXPECT_GE(p.result.phase(Phase::resolve), 0);
  EXPECT_LT(p.result.phase(Phase::connect), 0);
}

TEST_P(TcpProberTest, ResolvesNamesThroughTheResolver) {
  // "localhost" comes from /etc/hosts: a real lookup without traffic. Listen where the resolver
  // points first (the probe connects to the first address only); the probe's own lookup then
  // comes from the cache.
  LookupResult found = run_lookup(io_, resolver_, "localhost");
  ASSERT_EQ(found.status, LookupStatus::ok) << found.detail;
  auto first = found.addresses.front();
  ASSERT_TRUE(first.is_loopback()) << first.to_string();
  std::uint16_t port = start_peer(io_, first, {.conduct = Conduct::hold});
  Probed p = probe(io_, make_spec(Transport::tcp, "localhost", port), env_);
  EXPECT_TRUE(p.result.success) << p.result.detail;
  EXPECT_GE(p.result.phase(Phase::resolve), 0);
  EXPECT_GE(resolver_.stats().cache_hits, 1u);
  EXPECT_GE(p.result.phase(Phase::connect), 0);
}

TEST_P(TcpProberTest, UnknownTransportValueIsAFailureNotACrash) {
  auto spec = make_spec(static_cast<Transport>(200), "127.0.0.1", 1);
  Probed p = probe(io_, spec, env_);
  EXPECT_FALSE(p.result.success);
  EXPECT_EQ(p.result.reason, Reason::protocol);
}

}  // namespace
}  // namespace kscprobe::test
