#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "config/loader.hpp"
#include "config/plan.hpp"
#include "simulator/estate_simulator.hpp"
#include "tests/support/http_client.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using namespace std::chrono_literals;
using kscprobe::Reason;
using kscprobe::Transport;
using kscprobe::sim::Behaviour;
using kscprobe::sim::EstateOptions;
using kscprobe::sim::EstateSimulator;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Drives the shared io_context (simulator and client on one thread, as in the daemon) until the
// client coroutine finishes; the deadline only guards against a hung test.
template <typename T>
T run(asio::io_context& io, asio::awaitable<T> client) {
  // Shared, so a completion that arrives after a failed wait never writes into a dead frame.
  struct Outcome {
    std::optional<T> result;
    std::exception_ptr error;
    bool done = false;
  };
  auto outcome = std::make_shared<Outcome>();
  asio::co_spawn(io, std::move(client), [outcome](std::exception_ptr e, T value) {
    outcome->error = e;
    if (!e) outcome->result = std::move(value);
    outcome->done = true;
  });
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!outcome->done && std::chrono::steady_clock::now() < give_up) {
    // A context that ran out of work (e.g. after stop()) stays stopped until restarted.
    if (io.stopped()) io.restart();
    io.run_one_for(100ms);
  }
  if (!outcome->done) throw std::runtime_error("client coroutine did not finish");
  if (outcome->error) std::rethrow_exception(outcome->error);
  return std::move(*outcome->result);
}

// Cancels `io_object` when `after` passes, unless the returned timer is cancelled first.
template <typename IoObject>
std::shared_ptr<asio::steady_timer> cancel_after(IoObject& io_object,
                                                 std::chrono::milliseconds after) {
  auto timer = std::make_shared<asio::steady_timer>(io_object.get_executor(), after);
  timer->async_wait([&io_object](boost::system::error_code ec) {
    if (!ec) io_object.cancel();
  });
  return timer;
}

tcp::endpoint tcp_ep(const kscprobe::sim::ServedCheck& c) {
  return {asio::ip::make_address(c.address), c.port};
}
udp::endpoint udp_ep(const kscprobe::sim::ServedCheck& c) {
  return {asio::ip::make_address(c.address), c.port};
}

std::string sha256_hex(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", md[i]);
    hex += b;
  }
  return hex;
}

struct HandshakeResult {
  boost::system::error_code ec;
  std::string fingerprint;
  std::string version;
};

asio::awaitable<HandshakeResult> tls_handshake(tcp::endpoint ep, std::chrono::milliseconds limit) {
  auto ex = co_await asio::this_coro::executor;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);
  asio::ssl::stream<tcp::socket> stream(ex, ctx);
  HandshakeResult out;
  auto [cec] = co_await stream.lowest_layer().async_connect(ep, kUseTuple);
  if (cec) {
    out.ec = cec;
    co_return out;
  }
  auto guard = cancel_after(stream.lowest_layer(), limit);
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kUseTuple);
  guard->cancel();
  out.ec = hec;
  if (!hec) {
    X509* peer = SSL_get1_peer_certificate(stream.native_handle());
    if (peer) {
      out.fingerprint = sha256_hex(peer);
      X509_free(peer);
    }
    out.version = SSL_get_version(stream.native_handle());
    co_await stream.async_shutdown(kUseTuple);
  }
  co_return out;
}

// GET over HTTPS (no verification) on the test's loop, where the simulator runs too.
asio::awaitable<kscprobe::test::HttpReply> https_get(tcp::endpoint ep, std::string target) {
  kscprobe::test::HttpRequest request;
  request.host = ep.address().to_string();
  request.port = ep.port();
  request.target = std::move(target);
  request.version = 11;
  request.headers = {{"Connection", "close"}};
  request.tls = kscprobe::test::TlsClientOptions{};
  co_return co_await kscprobe::test::async_fetch(std::move(request));
}

struct UdpResult {
  boost::system::error_code ec;  // of the receive: operation_aborted means no reply in time
  std::string reply;
};

asio::awaitable<UdpResult> udp_exchange(udp::endpoint ep, std::string payload,
                                        std::chrono::milliseconds wait) {
  auto ex = co_await asio::this_coro::executor;
  udp::socket sock(ex, udp::v4());
  // Connected, so the kernel reports ICMP port unreachable to this socket as ECONNREFUSED.
  sock.connect(ep);
  UdpResult out;
  if (auto [ec, n] = co_await sock.async_send(asio::buffer(payload), kUseTuple); ec) {
    out.ec = ec;
    co_return out;
  }
  std::array<char, 2048> buf;
  auto guard = cancel_after(sock, wait);
  auto [ec, n] = co_await sock.async_receive(asio::buffer(buf), kUseTuple);
  guard->cancel();
  out.ec = ec;
  if (!ec) out.reply.assign(buf.data(), n);
  co_return out;
}

struct RawResult {
  boost::system::error_code connect_ec;
  std::string received;
};

// Connects, sends `payload` (then half-closes if `half_close`), reads until the server closes or
// `limit` passes.
asio::awaitable<RawResult> tcp_send_and_read(tcp::endpoint ep, std::string payload,
                                             std::chrono::milliseconds limit,
                                             bool half_close = false) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  RawResult out;
  auto [cec] = co_await sock.async_connect(ep, kUseTuple);
  out.connect_ec = cec;
  if (cec) co_return out;
  if (!payload.empty()) co_await asio::async_write(sock, asio::buffer(payload), kUseTuple);
  boost::system::error_code ignored;
  if (half_close) sock.shutdown(tcp::socket::shutdown_send, ignored);
  auto guard = cancel_after(sock, limit);
  std::array<char, 1024> buf;
  for (;;) {
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), kUseTuple);
    out.received.append(buf.data(), n);
    if (ec) break;
  }
  guard->cancel();
  co_return out;
}

asio::awaitable<boost::system::error_code> tcp_connect(tcp::endpoint ep) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  auto [ec] = co_await sock.async_connect(ep, kUseTuple);
  co_return ec;
}

class SimulatorTest : public ::testing::Test {
 protected:
  void start(std::string prefix) {
    sim_.emplace(io_, EstateOptions{.address_prefix = std::move(prefix), .ephemeral_ports = true});
    sim_->start();
  }
  const kscprobe::sim::ServedCheck& check(std::string_view target, std::string_view id) {
    const auto* c = sim_->find(target, id);
    if (c == nullptr) throw std::runtime_error("no such check");
    return *c;
  }
  void TearDown() override {
    if (sim_) sim_->stop();
    // Let the aborted coroutines finish so nothing leaks between tests.
    io_.restart();
    io_.run_for(200ms);
  }

  asio::io_context io_;
  std::optional<EstateSimulator> sim_;
};

TEST_F(SimulatorTest, ConfigNamesEveryTargetAndEveryServedPort) {
  start("127.78");
  const std::string toml = sim_->config_toml();
  // Split into [[target]] sections and collect `check = port` lines of each.
  std::map<std::string, std::map<std::string, int>> ports;
  std::istringstream in(toml);
  std::string line, current;
  bool in_ports = false;
  while (std::getline(in, line)) {
    if (line == "[[target]]") {
      in_ports = false;
    } else if (line == "[target.ports]") {
      in_ports = true;
    } else if (line.rfind("name = \"", 0) == 0) {
      current = line.substr(8, line.size() - 9);
      ports[current];
    } else if (in_ports && line.find(" = ") != std::string::npos) {
      const auto eq = line.find(" = ");
      ports[current][line.substr(0, eq)] = std::stoi(line.substr(eq + 3));
    }
  }
  EXPECT_NE(toml.find("[daemon]"), std::string::npos);
  EXPECT_NE(toml.find("interval = \"5s\""), std::string::npos);

  const auto served = sim_->served_checks();
  ASSERT_EQ(served.size(), 43u);
  std::set<std::string> targets;
  for (const auto& c : served) {
    targets.insert(c.target);
    ASSERT_TRUE(ports.count(c.target)) << c.target;
    ASSERT_TRUE(ports[c.target].count(c.check)) << c.target << " " << c.check;
    EXPECT_EQ(ports[c.target][c.check], c.port) << c.target << " " << c.check;
    EXPECT_NE(c.port, 0) << c.target << " " << c.check;
    EXPECT_EQ(c.address.rfind("127.78.", 0), 0u);
  }
  EXPECT_EQ(targets.size(), ports.size());
  for (const char* name : {"ksc-demo", "ksc-dmz", "dp-paris", "dp-lyon", "pc-001", "pc-002",
                           "pc-003", "pc-004", "pc-005", "webcon", "ksc-db"})
    EXPECT_TRUE(targets.count(name)) << name;
  EXPECT_NE(toml.find("engine = \"postgresql\""), std::string::npos);
  EXPECT_NE(toml.find("features = [\"on_admin_server\"]"), std::string::npos);
}

// The daemon's own loader and plan expansion must see exactly the checks the estate serves, at
// the ports it bound: otherwise the demo would probe ports nobody listens on.
TEST_F(SimulatorTest, DaemonLoaderPlansExactlyTheServedChecks) {
  auto check_plan = [](const EstateSimulator& sim) {
    const auto loaded = kscprobe::load_config_string(sim.config_toml(), "sim.toml");
    ASSERT_TRUE(loaded.ok()) << loaded.error_text();
    const kscprobe::Plan plan = kscprobe::expand_plan(*loaded.config);
    ASSERT_EQ(plan.checks.size(), sim.served_checks().size());
    for (const auto& c : plan.checks) {
      const auto& target = plan.target_of(c);
      const auto* s = sim.find(target.name, c.check);
      ASSERT_NE(s, nullptr) << target.name << " " << c.check;
      EXPECT_EQ(s->port, c.port) << target.name << " " << c.check;
      EXPECT_EQ(s->address, c.address) << target.name << " " << c.check;
      EXPECT_EQ(s->transport, c.transport) << target.name << " " << c.check;
    }
  };
  start("127.78");
  check_plan(*sim_);              // ephemeral ports, all in [target.ports]
  EstateSimulator defaults(io_);  // KSC's default ports, not started: nothing is bound
  check_plan(defaults);
}

TEST_F(SimulatorTest, ExpectationsCoverEveryCheck) {
  start("127.78");
  const auto served = sim_->served_checks();
  const auto expect = sim_->expectations();
  ASSERT_EQ(expect.size(), served.size());
  std::map<std::pair<std::string, std::string>, kscprobe::sim::Expectation> by_key;
  for (const auto& x : expect) by_key[{x.target, x.check}] = x;
  auto at = [&](const char* t, const char* c) { return by_key.at({t, c}); };
  EXPECT_TRUE(at("ksc-demo", "agents_tls").success);
  EXPECT_TRUE(at("ksc-demo", "ksn_proxy_udp").udp_reply);
  EXPECT_FALSE(at("ksc-demo", "shutdown_udp").udp_reply);
  EXPECT_EQ(at("ksc-demo", "activation_tls").reason, Reason::timeout);
  EXPECT_EQ(at("ksc-dmz", "console_tls").reason, Reason::refused);
  EXPECT_EQ(at("ksc-dmz", "metrics_https").reason, Reason::http_status);
  EXPECT_TRUE(at("ksc-demo", "tunnel_https").success);
  EXPECT_EQ(at("dp-lyon", "gateway_tls").reason, Reason::tls);
  EXPECT_EQ(at("pc-005", "signal_udp").reason, Reason::refused);
  EXPECT_TRUE(at("webcon", "web_console_tls").success);

  const std::string tsv = kscprobe::sim::expectations_tsv(expect);
  std::istringstream in(tsv);
  std::string line;
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_EQ(std::count(line.begin(), line.end(), '\t'), 3) << line;
  }
  EXPECT_EQ(lines, expect.size());
  EXPECT_NE(tsv.find("ksc-dmz\tconsole_tls\t0\trefused\n"), std::string::npos);
  EXPECT_NE(tsv.find("ksc-demo\tagents_tls\t1\tnone\n"), std::string::npos);
}

TEST(SimulatorDefaults, DefaultPortsAreKscsWithoutBinding) {
  asio::io_context io;
  EstateSimulator sim(io);  // not started: nothing is bound
  EXPECT_EQ(sim.find("ksc-demo", "agents_tls")->port, 13000);
  EXPECT_EQ(sim.find("ksc-demo", "shutdown_udp")->port, 13000);
  EXPECT_EQ(sim.find("ksc-demo", "metrics_https")->port, 13296);
  EXPECT_EQ(sim.find("dp-paris", "gateway_tls")->port, 13000);
  EXPECT_EQ(sim.find("dp-lyon", "gateway_tls")->port, 13001);  // DP on the server host
  EXPECT_EQ(sim.find("ksc-db", "database_tcp")->port, 5432);
  EXPECT_EQ(sim.find("webcon", "web_console_tls")->port, 8080);
  EXPECT_EQ(sim.find("ksc-demo", "agents_tls")->address, "127.77.0.1");
  EXPECT_EQ(sim.find("ksc-dmz", "console_tls"), sim.find("ksc-dmz", "console_tls"));
  EXPECT_EQ(sim.find("ksc-dmz", "ksn_proxy_tcp"), nullptr);  // no ksn_proxy feature
  const std::string toml = sim.config_toml();
  EXPECT_EQ(toml.find("[target.ports]"), std::string::npos);
  EXPECT_NE(toml.find("address = \"127.77.1.2\""), std::string::npos);
}

TEST_F(SimulatorTest, TlsHandshakeShowsTheReportedCertificate) {
  start("127.79");
  const auto& c = check("ksc-demo", "agents_tls");
  const auto* creds = sim_->credentials("ksc-demo", "agents_tls");
  ASSERT_NE(creds, nullptr);
  EXPECT_EQ(creds->subject, "CN=ksc-demo");
  const auto r = run(io_, tls_handshake(tcp_ep(c), 5000ms));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.fingerprint, creds->fingerprint_sha256);
  // Every TLS listener has its own certificate.
  const auto* other = sim_->credentials("ksc-demo", "console_tls");
  ASSERT_NE(other, nullptr);
  EXPECT_NE(other->fingerprint_sha256, creds->fingerprint_sha256);
  EXPECT_EQ(sim_->credentials("ksc-demo", "packages_http"), nullptr);
}

TEST_F(SimulatorTest, CertificateLifetimes) {
  start("127.79");
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto* webcon = sim_->credentials("webcon", "web_console_tls");
  const auto* server = sim_->credentials("ksc-dmz", "openapi_tls");
  ASSERT_NE(webcon, nullptr);
  ASSERT_NE(server, nullptr);
  EXPECT_NEAR(static_cast<double>(webcon->not_after - now), 10 * 86400.0, 120);
  EXPECT_NEAR(static_cast<double>(server->not_after - now), 397 * 86400.0, 120);
  const auto r = run(io_, tls_handshake(tcp_ep(check("webcon", "web_console_tls")), 5000ms));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.fingerprint, webcon->fingerprint_sha256);
}

TEST_F(SimulatorTest, NeverSpeakingListenerStallsTheHandshake) {
  start("127.80");
  const auto r = run(io_, tls_handshake(tcp_ep(check("ksc-demo", "activation_tls")), 300ms));
  EXPECT_EQ(r.ec, asio::error::operation_aborted) << r.ec.message();
}

TEST_F(SimulatorTest, GarbageListenerSendsNonTlsBytes) {
  start("127.80");
  const auto& c = check("dp-lyon", "gateway_tls");
  // Any first bytes will do: the listener waits for the client to speak, like a TLS server.
  const auto raw = run(io_, tcp_send_and_read(tcp_ep(c), "\x16\x03\x01\x00\x05hello", 3000ms));
  ASSERT_FALSE(raw.connect_ec) << raw.connect_ec.message();
  ASSERT_FALSE(raw.received.empty());
  EXPECT_NE(raw.received[0], '\x16');  // not a TLS handshake record
  EXPECT_EQ(raw.received.rfind("HTTP/1.1 400", 0), 0u);
  const auto hs = run(io_, tls_handshake(tcp_ep(c), 3000ms));
  EXPECT_TRUE(hs.ec);
  EXPECT_NE(hs.ec, asio::error::operation_aborted) << "should fail fast, not time out";
}

TEST_F(SimulatorTest, SilentUdpGetsNoReply) {
  start("127.81");
  for (const auto& [t, id] : {std::pair{"pc-001", "signal_udp"},
                              {"pc-004", "multicast_udp"},
                              {"ksc-demo", "shutdown_udp"},
                              {"dp-paris", "ksn_proxy_udp"}}) {
    const auto r = run(io_, udp_exchange(udp_ep(check(t, id)), "kscprobe\n", 200ms));
    EXPECT_EQ(r.ec, asio::error::operation_aborted) << t << " " << id << ": " << r.ec.message();
    EXPECT_TRUE(r.reply.empty());
  }
}

TEST_F(SimulatorTest, KsnProxyUdpEchoes) {
  start("127.81");
  const auto r = run(io_, udp_exchange(udp_ep(check("ksc-demo", "ksn_proxy_udp")), "ping", 2000ms));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.reply, "ping");
}

TEST_F(SimulatorTest, OfflineAgentRefusesUdp) {
  start("127.82");
  for (const char* id : {"signal_udp", "multicast_udp"}) {
    const auto& c = check("pc-005", id);
    EXPECT_EQ(c.behaviour, Behaviour::closed);
    const auto r = run(io_, udp_exchange(udp_ep(c), "kscprobe\n", 2000ms));
    EXPECT_EQ(r.ec, asio::error::connection_refused) << id << ": " << r.ec.message();
  }
}

TEST_F(SimulatorTest, ClosedTcpPortRefuses) {
  start("127.82");
  const auto ec = run(io_, tcp_connect(tcp_ep(check("ksc-dmz", "console_tls"))));
  EXPECT_EQ(ec, asio::error::connection_refused) << ec.message();
  EXPECT_FALSE(run(io_, tcp_connect(tcp_ep(check("ksc-db", "database_tcp")))));
  EXPECT_FALSE(run(io_, tcp_connect(tcp_ep(check("ksc-demo", "agents_tcp")))));
}

TEST_F(SimulatorTest, MetricsEndpointServesKscNames) {
  start("127.83");
  const auto r = run(io_, https_get(tcp_ep(check("ksc-demo", "metrics_https")), "/metrics"));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("Content-Type").find("text/plain"), std::string::npos);
  for (const char* name :
       {"ksc_Transport__Number_of_all_connections", "ksc_Transport__Total_active_hosts_count",
        "ksc_Transport__Number_of_failed_TCP_connections"}) {
    EXPECT_NE(r.body.find(std::string("\n") + name + " "), std::string::npos) << name;
    EXPECT_NE(r.body.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
    EXPECT_NE(r.body.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
  }
  const auto other = run(io_, https_get(tcp_ep(check("ksc-demo", "metrics_https")), "/nope"));
  EXPECT_EQ(other.status, 404);
}

TEST_F(SimulatorTest, HttpsStatuses) {
  start("127.83");
  EXPECT_EQ(run(io_, https_get(tcp_ep(check("ksc-demo", "tunnel_https")), "/")).status, 401);
  EXPECT_EQ(run(io_, https_get(tcp_ep(check("ksc-dmz", "metrics_https")), "/metrics")).status, 503);
  EXPECT_EQ(run(io_, https_get(tcp_ep(check("dp-paris", "ksn_proxy_https")), "/")).status, 200);
}

TEST_F(SimulatorTest, StopClosesListenersAndSessions) {
  start("127.84");
  const auto ep = tcp_ep(check("ksc-demo", "packages_http"));
  // Hold a connection open from a coroutine that reports when the server drops it. Shared
  // state: the coroutine may outlive this body if an assertion fails.
  auto dropped = std::make_shared<bool>(false);
  asio::co_spawn(
      io_,
      [ep, dropped]() -> asio::awaitable<void> {
        tcp::socket held(co_await asio::this_coro::executor);
        co_await held.async_connect(ep, kUseTuple);
        std::array<char, 16> buf;
        co_await held.async_read_some(asio::buffer(buf), kUseTuple);
        *dropped = true;
      },
      asio::detached);
  auto pump = [&](auto until) {
    for (int i = 0; i < 100 && !until(); ++i) {
      if (io_.stopped()) io_.restart();
      io_.run_for(20ms);
    }
  };
  pump([&] { return sim_->active_sessions() > 0; });
  ASSERT_EQ(sim_->active_sessions(), 1u);
  sim_->stop();
  EXPECT_FALSE(sim_->running());
  pump([&] { return *dropped; });
  EXPECT_TRUE(*dropped);
  EXPECT_EQ(sim_->active_sessions(), 0u);
  const auto ec = run(io_, tcp_connect(ep));
  EXPECT_EQ(ec, asio::error::connection_refused) << ec.message();
}

TEST_F(SimulatorTest, SurvivesJunkFromPeers) {
  start("127.85");
  // Junk at every TCP listener, then the estate must still answer normally.
  for (const auto& c : sim_->served_checks()) {
    if (c.transport == Transport::udp || c.behaviour == Behaviour::closed ||
        c.behaviour == Behaviour::never_speaks)
      continue;
    const auto r = run(io_, tcp_send_and_read(tcp_ep(c), std::string(3000, '\xff'), 3000ms, true));
    EXPECT_FALSE(r.connect_ec) << c.target << " " << c.check;
  }
  // Every session ended on its own: junk never leaves a connection hanging.
  for (int i = 0; i < 100 && sim_->active_sessions() > 0; ++i) io_.run_for(20ms);
  EXPECT_EQ(sim_->active_sessions(), 0u);
  const auto r = run(io_, https_get(tcp_ep(check("ksc-demo", "metrics_https")), "/metrics"));
  EXPECT_EQ(r.status, 200);
  const auto hs = run(io_, tls_handshake(tcp_ep(check("ksc-demo", "agents_tls")), 3000ms));
  EXPECT_FALSE(hs.ec) << hs.ec.message();
}

TEST(SimulatorBind, ReportsWhichAddressIsTaken) {
  asio::io_context io;
  // Occupy the first port the demo estate binds on an otherwise unused prefix.
  tcp::acceptor blocker(io);
  boost::system::error_code ec;
  blocker.open(tcp::v4(), ec);
  blocker.bind({asio::ip::make_address("127.86.0.1"), 8060}, ec);
  // If something else already holds the port, the simulator must report it all the same.
  if (!ec) blocker.listen(asio::socket_base::max_listen_connections, ec);
  EstateSimulator sim(io, {.address_prefix = "127.86", .ephemeral_ports = false});
  try {
    sim.start();
    FAIL() << "start() should have failed";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("127.86.0.1:8060"), std::string::npos) << what;
    EXPECT_NE(what.find("--ephemeral-ports"), std::string::npos) << what;
    EXPECT_NE(what.find("in use"), std::string::npos) << what;
  }
  EXPECT_FALSE(sim.running());
}

}  // namespace
