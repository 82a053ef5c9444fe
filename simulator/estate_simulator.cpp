#include "simulator/estate_simulator.hpp"

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "config/plan.hpp"

namespace kscprobe::sim {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// Bounds on what a peer can make the simulator hold: it also runs beside a daemon under test,
// and a misbehaving client must not starve it.
// 512 leaves room under the common 1024 descriptor limit for a daemon sharing the process.
constexpr std::size_t kMaxSessions = 512;
constexpr auto kIdleCap = 10s;
constexpr auto kNeverSpeaksCap = 30s;
constexpr auto kHttpTimeout = 10s;
constexpr auto kTlsShutdownCap = 2s;
constexpr std::size_t kHttpHeaderLimit = 8 * 1024;
constexpr std::size_t kHttpBodyLimit = 64 * 1024;
constexpr int kMaxRequestsPerConnection = 100;
constexpr int kKscCertDays = 397;  // KSC's klserver.cer validity
constexpr int kExpiringCertDays = 10;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// What the TLS-port-with-the-wrong-service sends instead of a ServerHello: a plain HTTP error,
// as a misrouted reverse proxy would.
constexpr std::string_view kGarbage =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

// ---------------------------------------------------------------------------------------------
// The estate as data.

struct CheckDef {
  std::string_view check;
  Behaviour behaviour;
  int http_status = 0;
  bool metrics = false;  // serves Prometheus text on /metrics
};

struct TargetDef {
  std::string name;
  Role role;
  std::string host;  // last two octets
  std::uint32_t features = 0;
  std::optional<DbEngine> engine;
  std::string site;
  std::vector<std::string> disable;
  int cert_days = kKscCertDays;
  std::vector<CheckDef> checks;
};

std::vector<TargetDef> demo_estate() {
  using B = Behaviour;
  std::vector<TargetDef> estate;
  estate.push_back({"ksc-demo",
                    Role::server,
                    "0.1",
                    kFeatureKsnProxy,
                    {},
                    "hq",
                    {},
                    kKscCertDays,
                    {{"packages_http", B::tcp_open},
                     {"packages_https", B::tls},
                     {"agents_tls", B::tls},
                     {"shutdown_udp", B::udp_silent},
                     {"console_tls", B::tls},
                     {"openapi_tls", B::tls},
                     {"agents_tcp", B::tcp_open},
                     {"ksn_proxy_tcp", B::tcp_open},
                     {"ksn_proxy_udp", B::udp_echo},
                     {"activation_tls", B::never_speaks},
                     {"tunnel_https", B::https, 401},
                     {"metrics_https", B::https, 200, true}}});
  estate.push_back({"ksc-dmz",
                    Role::server,
                    "0.2",
                    kFeatureNone,
                    {},
                    "dmz",
                    {},
                    kKscCertDays,
                    {{"packages_http", B::tcp_open},
                     {"packages_https", B::tls},
                     {"agents_tls", B::tls},
                     {"shutdown_udp", B::udp_silent},
                     {"console_tls", B::closed},
                     {"openapi_tls", B::tls},
                     {"agents_tcp", B::tcp_open},
                     {"activation_tls", B::never_speaks},
                     {"tunnel_https", B::https, 401},
                     {"metrics_https", B::https, 503, true}}});
  estate.push_back({"dp-paris",
                    Role::distribution_point,
                    "1.1",
                    kFeatureKsnProxy,
                    {},
                    "paris",
                    {},
                    kKscCertDays,
                    {{"signal_udp", B::udp_silent},
                     {"multicast_udp", B::udp_silent},
                     {"gateway_tls", B::tls},
                     {"ksn_proxy_tcp", B::tcp_open},
                     {"ksn_proxy_udp", B::udp_silent},
                     {"ksn_proxy_https", B::https, 200}}});
  estate.push_back({"dp-lyon",
                    Role::distribution_point,
                    "1.2",
                    kFeatureOnAdminServer,
                    {},
                    "lyon",
                    {},
                    kKscCertDays,
                    {{"signal_udp", B::udp_silent},
                     {"multicast_udp", B::udp_silent},
                     {"gateway_tls", B::garbage}}});
  for (int i = 1; i <= 5; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "pc-%03d", i);
    // pc-005 is switched off: its ports answer with ICMP port unreachable.
    const B b = i == 5 ? B::closed : B::udp_silent;
    estate.push_back({name,
                      Role::agent,
                      "2." + std::to_string(i),
                      kFeatureNone,
                      {},
                      i % 2 ? "paris" : "lyon",
                      {},
                      kKscCertDays,
                      {{"signal_udp", b}, {"multicast_udp", b}}});
  }
  estate.push_back({"webcon",
                    Role::web_console,
                    "3.1",
                    kFeatureNone,
                    {},
                    "hq",
                    {},
                    kExpiringCertDays,
                    {{"web_console_tls", B::tls}}});
  estate.push_back({"ksc-db",
                    Role::database,
                    "5.1",
                    kFeatureNone,
                    DbEngine::postgresql,
                    "hq",
                    {},
                    kKscCertDays,
                    {{"database_tcp", B::tcp_open}}});
  return estate;
}

// The target as the configuration the simulator writes describes it: what the plan's own rule
// (row_applies, row_port in config/plan.hpp) reads, so the estate serves exactly the checks and
// ports the daemon will plan.
TargetConfig as_config(const TargetDef& t) {
  TargetConfig c;
  c.name = t.name;
  c.role = t.role;
  c.features = t.features;
  c.engine = t.engine;
  c.disable = t.disable;
  return c;
}

bool is_udp(Transport t) { return t == Transport::udp; }

Expectation expect(const ServedCheck& c) {
  Expectation x{c.target, c.check, true, Reason::none, false};
  auto fail = [&](Reason r) {
    x.success = false;
    x.reason = r;
  };
  const bool handshakes = c.transport == Transport::tls || c.transport == Transport::https;
  switch (c.behaviour) {
    case Behaviour::tcp_open:
    case Behaviour::tls:
    case Behaviour::udp_silent:
      break;
    case Behaviour::udp_echo:
      x.udp_reply = true;
      break;
    case Behaviour::https:
      if (c.http_status >= 500 || c.http_status < 200) fail(Reason::http_status);
      break;
    case Behaviour::never_speaks:
      if (handshakes) fail(Reason::timeout);
      break;
    case Behaviour::garbage:
      if (handshakes) fail(Reason::tls);
      break;
    case Behaviour::closed:
      fail(Reason::refused);
      break;
  }
  return x;
}

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

// ---------------------------------------------------------------------------------------------
// Runtime.

class Session;

// Shared by the simulator and every coroutine it spawned, so completions that run after stop()
// or after the simulator is gone never touch freed memory.
struct State {
  bool stopped = false;
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, Session*> sessions;
  Clock::time_point started = Clock::now();
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
};

// One accepted TCP connection. A watchdog coroutine closes the socket when the deadline passes;
// moving the deadline forward is how handlers express "idle" timeouts.
class Session {
 public:
  Session(std::shared_ptr<State> state, tcp::socket socket, Clock::duration first_deadline)
      : state_(std::move(state)), socket_(std::move(socket)), timer_(socket_.get_executor()) {
    timer_.expires_after(first_deadline);
    id_ = ++state_->next_id;
    state_->sessions.emplace(id_, this);
  }
  ~Session() { state_->sessions.erase(id_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  tcp::socket& socket() { return socket_; }
  asio::steady_timer& timer() { return timer_; }
  bool open() const { return open_; }
  void set_deadline(Clock::duration d) { timer_.expires_after(d); }
  void close() {
    if (!open_) return;
    open_ = false;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    timer_.cancel();
  }

 private:
  std::shared_ptr<State> state_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::uint64_t id_ = 0;
  bool open_ = true;
};

struct CloseOnExit {
  std::shared_ptr<Session> session;
  ~CloseOnExit() { session->close(); }
};

// How one TCP listener treats its connections.
struct Handling {
  Behaviour behaviour = Behaviour::tcp_open;
  int http_status = 0;
  bool metrics = false;
  std::shared_ptr<asio::ssl::context> tls;
};

asio::awaitable<void> watchdog(std::shared_ptr<Session> s) {
  while (s->open()) {
    co_await s->timer().async_wait(kUseTuple);
    if (s->open() && s->timer().expiry() <= Clock::now()) s->close();
  }
}

// Reads and discards until the peer closes, errors, or the watchdog fires.
template <typename Stream>
asio::awaitable<void> drain(Session& s, Stream& stream, std::optional<Clock::duration> idle) {
  std::array<char, 4096> buf;
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), kUseTuple);
    if (ec) co_return;
    if (idle) s.set_deadline(*idle);
  }
}

asio::awaitable<void> serve_garbage(Session& s) {
  // Wait for the ClientHello first, then answer with bytes that are not TLS, and read whatever
  // the client still sends before closing: closing with unread data would turn the FIN into a
  // RST and the prober would see "reset" instead of the TLS failure this listener is about.
  std::array<char, 4096> buf;
  auto [ec, n] = co_await s.socket().async_read_some(asio::buffer(buf), kUseTuple);
  if (ec) co_return;
  auto [wec, wn] = co_await asio::async_write(s.socket(), asio::buffer(kGarbage), kUseTuple);
  if (wec) co_return;
  boost::system::error_code ignored;
  s.socket().shutdown(tcp::socket::shutdown_send, ignored);
  s.set_deadline(kIdleCap);
  co_await drain(s, s.socket(), kIdleCap);
}

asio::awaitable<void> serve_tls(Session& s, const Handling& h) {
  asio::ssl::stream<tcp::socket&> stream(s.socket(), *h.tls);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kUseTuple);
  if (ec) co_return;
  // The real protocol inside is proprietary; a completed handshake is all a prober sees.
  co_await drain(s, stream, kIdleCap);
}

std::string metrics_text(const State& st) {
  const double t = std::chrono::duration<double>(Clock::now() - st.started).count();
  const long long all_connections =
      1180 + static_cast<long long>(st.sessions.size()) + std::llround(40 * std::sin(t / 60));
  const long long active_hosts = 1175 + std::llround(25 * std::sin(t / 90));
  // Counters only grow: derived from elapsed time plus what actually happened here.
  const auto failed_tcp = static_cast<long long>(3 + t / 20 + static_cast<double>(st.rejected));
  const auto accepted = static_cast<long long>(48210 + static_cast<double>(st.accepted) + t / 2);
  std::ostringstream out;
  out << "# HELP ksc_Transport__Number_of_all_connections Number of all connections\n"
         "# TYPE ksc_Transport__Number_of_all_connections gauge\n"
         "ksc_Transport__Number_of_all_connections "
      << all_connections
      << "\n"
         "# HELP ksc_Transport__Total_active_hosts_count Total active hosts count\n"
         "# TYPE ksc_Transport__Total_active_hosts_count gauge\n"
         "ksc_Transport__Total_active_hosts_count "
      << active_hosts
      << "\n"
         "# HELP ksc_Transport__Number_of_failed_TCP_connections Number of failed TCP "
         "connections\n"
         "# TYPE ksc_Transport__Number_of_failed_TCP_connections counter\n"
         "ksc_Transport__Number_of_failed_TCP_connections "
      << failed_tcp
      << "\n"
         "# HELP ksc_Transport__Number_of_accepted_connections Number of accepted connections\n"
         "# TYPE ksc_Transport__Number_of_accepted_connections counter\n"
         "ksc_Transport__Number_of_accepted_connections "
      << accepted << "\n";
  return out.str();
}

http::response<http::string_body> respond(const http::request<http::string_body>& req,
                                          const Handling& h, const State& st) {
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  int status = h.http_status;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
  if (h.metrics && status == 200) {
    if (target == "/metrics") {
      body = metrics_text(st);
      content_type = "text/plain; version=0.0.4; charset=utf-8";
    } else {
      status = 404;
      body = "not found\n";
    }
  } else if (status == 200) {
    body = "ok\n";
  } else if (status == 401) {
    body = "authentication required\n";
  } else {
    body = "service unavailable\n";
  }
  http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
  res.set(http::field::server, "kscprobe-sim");
  res.set(http::field::content_type, content_type);
  if (status == 401) res.set(http::field::www_authenticate, "Basic realm=\"klsctunnel\"");
  if (status == 503) res.set(http::field::retry_after, "30");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays
  return res;
}

asio::awaitable<void> serve_https(Session& s, const Handling& h, std::shared_ptr<State> st) {
  asio::ssl::stream<tcp::socket&> stream(s.socket(), *h.tls);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kUseTuple);
  if (ec) co_return;
  boost::beast::flat_buffer buffer(kHttpHeaderLimit + kHttpBodyLimit);
  for (int i = 0; i < kMaxRequestsPerConnection; ++i) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHttpHeaderLimit);
    parser.body_limit(kHttpBodyLimit);
    s.set_deadline(kHttpTimeout);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    if (rec) break;
    auto res = respond(parser.get(), h, *st);
    const bool keep = res.keep_alive();
    auto [wec, wn] = co_await http::async_write(stream, res, kUseTuple);
    if (wec || !keep) break;
  }
  if (!s.open()) co_return;
  s.set_deadline(kTlsShutdownCap);
  co_await stream.async_shutdown(kUseTuple);
}

asio::awaitable<void> serve(std::shared_ptr<Session> s, std::shared_ptr<const Handling> h,
                            std::shared_ptr<State> st) {
  CloseOnExit guard{s};
  try {
    switch (h->behaviour) {
      case Behaviour::tcp_open:
        co_await drain(*s, s->socket(), kIdleCap);
        break;
      case Behaviour::never_speaks:
        // No idle refresh: the whole connection is capped, whatever the peer sends.
        co_await drain(*s, s->socket(), std::nullopt);
        break;
      case Behaviour::garbage:
        co_await serve_garbage(*s);
        break;
      case Behaviour::tls:
        co_await serve_tls(*s, *h);
        break;
      case Behaviour::https:
        co_await serve_https(*s, *h, st);
        break;
      default:
        break;
    }
  } catch (...) {
    // Nothing a peer sends may escape a session; the guard closes the connection.
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> st, std::shared_ptr<tcp::acceptor> acc,
                                  std::shared_ptr<const Handling> h) {
  const auto first_deadline = h->behaviour == Behaviour::never_speaks
                                  ? Clock::duration(kNeverSpeaksCap)
                              : h->behaviour == Behaviour::https ? Clock::duration(kHttpTimeout)
                                                                 : Clock::duration(kIdleCap);
  for (;;) {
    auto [ec, socket] = co_await acc->async_accept(kUseTuple);
    if (st->stopped || !acc->is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // E.g. EMFILE: back off instead of spinning on a listener that cannot accept right now.
      asio::steady_timer pause(acc->get_executor(), 100ms);
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (st->sessions.size() >= kMaxSessions) {
      ++st->rejected;
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++st->accepted;
    auto session = std::make_shared<Session>(st, std::move(socket), first_deadline);
    asio::co_spawn(acc->get_executor(), watchdog(session), asio::detached);
    asio::co_spawn(acc->get_executor(), serve(session, h, st), asio::detached);
  }
}

asio::awaitable<void> udp_loop(std::shared_ptr<State> st, std::shared_ptr<udp::socket> sock,
                               bool echo) {
  std::array<char, 2048> buf;
  udp::endpoint from;
  for (;;) {
    auto [ec, n] = co_await sock->async_receive_from(asio::buffer(buf), from, kUseTuple);
    if (st->stopped || !sock->is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Never fatal (e.g. a queued ICMP error); pause so a persistent one cannot spin.
      asio::steady_timer pause(sock->get_executor(), 10ms);
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (echo) co_await sock->async_send_to(asio::buffer(buf.data(), n), from, kUseTuple);
  }
}

std::shared_ptr<asio::ssl::context> make_tls_context(const Credentials& creds) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->use_certificate_chain(asio::buffer(creds.cert_pem));
  ctx->use_private_key(asio::buffer(creds.key_pem), asio::ssl::context::pem);
  return ctx;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct EstateSimulator::Impl {
  Impl(asio::io_context& io_ctx, EstateOptions opts) : io(io_ctx), options(std::move(opts)) {}

  asio::io_context& io;
  EstateOptions options;
  std::vector<TargetDef> estate;
  std::vector<ServedCheck> checks;
  std::vector<const CheckDef*> defs;              // parallel to checks
  std::vector<std::optional<Credentials>> creds;  // parallel to checks
  std::vector<std::size_t> target_of;             // parallel to checks: index into estate
  std::shared_ptr<State> state;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::vector<std::shared_ptr<udp::socket>> udp_sockets;
  std::vector<tcp::socket> reserved_tcp;
  std::vector<udp::socket> reserved_udp;
  bool running = false;

  std::string address_of(const TargetDef& t) const { return options.address_prefix + "." + t.host; }

  void plan() {
    estate = demo_estate();
    for (std::size_t ti = 0; ti < estate.size(); ++ti) {
      const TargetDef& t = estate[ti];
      std::vector<bool> used(t.checks.size(), false);
      const TargetConfig config = as_config(t);
      for (const CatalogEntry& e : catalog()) {
        if (!row_applies(e, config)) continue;
        const CheckDef* def = nullptr;
        for (std::size_t i = 0; i < t.checks.size(); ++i) {
          if (t.checks[i].check == e.id) {
            def = &t.checks[i];
            used[i] = true;
          }
        }
        if (def == nullptr)
          throw std::logic_error("simulated estate: " + t.name + " has no behaviour for " +
                                 std::string(e.id));
        ServedCheck c;
        c.target = t.name;
        c.check = std::string(e.id);
        c.address = address_of(t);
        c.port = options.ephemeral_ports ? 0 : row_port(e, config);
        c.transport = e.transport;
        c.behaviour = def->behaviour;
        c.http_status = def->http_status;
        checks.push_back(std::move(c));
        defs.push_back(def);
        target_of.push_back(ti);
      }
      for (std::size_t i = 0; i < used.size(); ++i)
        if (!used[i])
          throw std::logic_error("simulated estate: " + t.name + " serves " +
                                 std::string(t.checks[i].check) + " which is not planned");
    }
    creds.assign(checks.size(), std::nullopt);
  }

  void bind_all() {
    for (std::size_t i = 0; i < checks.size(); ++i) bind_one(i);
  }

  [[noreturn]] void bind_failed(const ServedCheck& c, const char* proto,
                                const boost::system::error_code& ec) {
    std::string msg = "cannot bind " + std::string(proto) + " " + c.address + ":" +
                      std::to_string(c.port) + " (" + c.target + " " + c.check +
                      "): " + ec.message();
    if (ec == asio::error::address_in_use)
      msg +=
          "; another process (a real KSC server or another kscprobe-sim?) holds this port; "
          "use --ephemeral-ports to bind free ports instead";
    else if (ec == boost::system::errc::address_not_available)
      msg += "; the address prefix must name loopback addresses (127.x)";
    throw std::runtime_error(msg);
  }

  void bind_one(std::size_t i) {
    ServedCheck& c = checks[i];
    const CheckDef& def = *defs[i];
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address_v4(c.address, ec);
    if (ec)
      throw std::runtime_error("invalid simulator address " + c.address + ": " + ec.message());

    if (c.behaviour == Behaviour::closed) {
      if (!options.ephemeral_ports) return;  // nothing bound at the real port
      // Hold the port so no later test can take it, yet keep it refusing: a TCP socket that is
      // bound but not listening answers SYNs with RST, and a UDP socket connected elsewhere
      // does not match incoming datagrams, so the kernel replies ICMP port unreachable.
      if (is_udp(c.transport)) {
        udp::socket s(io);
        s.open(udp::v4(), ec);
        if (!ec) s.bind(udp::endpoint(addr, 0), ec);
        if (!ec) s.connect(udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 9), ec);
        if (ec) bind_failed(c, "udp", ec);
        c.port = s.local_endpoint().port();
        reserved_udp.push_back(std::move(s));
      } else {
        tcp::socket s(io);
        s.open(tcp::v4(), ec);
        if (!ec) s.bind(tcp::endpoint(addr, 0), ec);
        if (ec) bind_failed(c, "tcp", ec);
        c.port = s.local_endpoint().port();
        reserved_tcp.push_back(std::move(s));
      }
      return;
    }

    if (is_udp(c.transport)) {
      auto s = std::make_shared<udp::socket>(io);
      s->open(udp::v4(), ec);
      if (!ec) s->bind(udp::endpoint(addr, c.port), ec);
      if (ec) bind_failed(c, "udp", ec);
      c.port = s->local_endpoint().port();
      udp_sockets.push_back(s);
      asio::co_spawn(io, udp_loop(state, s, c.behaviour == Behaviour::udp_echo), asio::detached);
      return;
    }

    auto handling = std::make_shared<Handling>();
    handling->behaviour = c.behaviour;
    handling->http_status = def.http_status;
    handling->metrics = def.metrics;
    if (c.behaviour == Behaviour::tls || c.behaviour == Behaviour::https) {
      const TargetDef& t = estate[target_of[i]];
      CertOptions opts;
      opts.common_name = t.name;
      opts.ip_addresses = {c.address};
      opts.valid_for = std::chrono::hours(24 * t.cert_days);
      creds[i] = make_self_signed(opts);
      handling->tls = make_tls_context(*creds[i]);
    }
    auto acc = std::make_shared<tcp::acceptor>(io);
    acc->open(tcp::v4(), ec);
    // Lets the demo restart at once while old connections sit in TIME_WAIT; it does not let
    // two listeners share a port.
    if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc->bind(tcp::endpoint(addr, c.port), ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) bind_failed(c, "tcp", ec);
    c.port = acc->local_endpoint().port();
    acceptors.push_back(acc);
    asio::co_spawn(io, accept_loop(state, acc, handling), asio::detached);
  }

  void stop() {
    if (state) {
      state->stopped = true;
      // Collect first: closing does not erase, but keep iteration independent of that.
      std::vector<Session*> open;
      for (auto& [id, s] : state->sessions) open.push_back(s);
      for (Session* s : open) s->close();
    }
    boost::system::error_code ignored;
    for (auto& a : acceptors) a->close(ignored);
    for (auto& s : udp_sockets) s->close(ignored);
    for (auto& s : reserved_tcp) s.close(ignored);
    for (auto& s : reserved_udp) s.close(ignored);
    acceptors.clear();
    udp_sockets.clear();
    reserved_tcp.clear();
    reserved_udp.clear();
    running = false;
  }
};

EstateSimulator::EstateSimulator(asio::io_context& io, EstateOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {
  impl_->plan();
}

EstateSimulator::~EstateSimulator() { stop(); }

void EstateSimulator::start() {
  if (impl_->running) return;
  if (impl_->state) {
    // A restart gets fresh ports and certificates.
    impl_->checks.clear();
    impl_->defs.clear();
    impl_->target_of.clear();
    impl_->plan();
  }
  impl_->state = std::make_shared<State>();
  try {
    impl_->bind_all();
  } catch (...) {
    impl_->stop();
    throw;
  }
  impl_->running = true;
}

void EstateSimulator::stop() { impl_->stop(); }

bool EstateSimulator::running() const { return impl_->running; }

const EstateOptions& EstateSimulator::options() const { return impl_->options; }

std::size_t EstateSimulator::active_sessions() const {
  return impl_->state ? impl_->state->sessions.size() : 0;
}

std::string EstateSimulator::config_toml() const {
  std::ostringstream out;
  out << "# kscprobe configuration of the simulated KSC estate served by kscprobe-sim.\n"
         "[daemon]\n"
         "interval = \"5s\"\n"
         "timeout = \"2s\"\n"
         "max_in_flight = 64\n"
         "\n"
         "# A small estate: every series of every check, agents included (large estates keep\n"
         "# agents at the default \"basic\").\n"
         "[metrics]\n"
         "detail = { agent = \"full\" }\n";
  for (std::size_t ti = 0; ti < impl_->estate.size(); ++ti) {
    const TargetDef& t = impl_->estate[ti];
    out << "\n[[target]]\n"
        << "name = " << toml_string(t.name) << "\n"
        << "role = " << toml_string(to_string(t.role)) << "\n"
        << "address = " << toml_string(impl_->address_of(t)) << "\n";
    if (t.features != 0) {
      out << "features = [";
      std::string names = features_to_string(t.features);
      std::size_t start = 0;
      bool first = true;
      while (start <= names.size()) {
        const std::size_t comma = std::min(names.find(',', start), names.size());
        out << (first ? "" : ", ") << toml_string(names.substr(start, comma - start));
        first = false;
        start = comma + 1;
      }
      out << "]\n";
    }
    if (t.engine) out << "engine = " << toml_string(to_string(*t.engine)) << "\n";
    out << "labels = { site = " << toml_string(t.site) << " }\n";
    if (!t.disable.empty()) {
      out << "disable = [";
      for (std::size_t i = 0; i < t.disable.size(); ++i)
        out << (i ? ", " : "") << toml_string(t.disable[i]);
      out << "]\n";
    }
    if (impl_->options.ephemeral_ports) {
      // Every planned check: the bound ports are not the catalog's defaults.
      out << "\n[target.ports]\n";
      for (std::size_t i = 0; i < impl_->checks.size(); ++i)
        if (impl_->target_of[i] == ti)
          out << impl_->checks[i].check << " = " << impl_->checks[i].port << "\n";
    }
  }
  return out.str();
}

std::vector<Expectation> EstateSimulator::expectations() const {
  std::vector<Expectation> out;
  out.reserve(impl_->checks.size());
  for (const auto& c : impl_->checks) out.push_back(expect(c));
  return out;
}

std::vector<ServedCheck> EstateSimulator::served_checks() const { return impl_->checks; }

const ServedCheck* EstateSimulator::find(std::string_view target, std::string_view check) const {
  for (const auto& c : impl_->checks)
    if (c.target == target && c.check == check) return &c;
  return nullptr;
}

const Credentials* EstateSimulator::credentials(std::string_view target,
                                                std::string_view check) const {
  for (std::size_t i = 0; i < impl_->checks.size(); ++i) {
    const auto& c = impl_->checks[i];
    if (c.target == target && c.check == check)
      return impl_->creds[i] ? &*impl_->creds[i] : nullptr;
  }
  return nullptr;
}

void write_expectations_tsv(std::ostream& out, const std::vector<Expectation>& expectations) {
  for (const auto& x : expectations)
    out << x.target << '\t' << x.check << '\t' << (x.success ? 1 : 0) << '\t' << to_string(x.reason)
        << '\n';
}

std::string expectations_tsv(const std::vector<Expectation>& expectations) {
  std::ostringstream out;
  write_expectations_tsv(out, expectations);
  return out.str();
}

}  // namespace kscprobe::sim
