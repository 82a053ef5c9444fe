#include "simulator/ksc_openapi.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <ctime>
#include <random>
#include <stdexcept>

#include "platform/platform.hpp"
#include "simulator/ksc_sample_statistics.hpp"

namespace kscprobe::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxConnections = 64;
constexpr int kMaxRequestsPerConnection = 100000;
constexpr std::size_t kMaxChunkItems = 10000;
constexpr std::size_t kMaxAccessors = 256;
constexpr std::size_t kMaxTokens = 1024;
constexpr std::size_t kRequestHeaderLimit = 16 * 1024;
constexpr std::size_t kRequestBodyLimit = 1024 * 1024;
constexpr auto kHandshakeCap = 10s;
constexpr auto kWriteCap = 30s;
constexpr auto kStallCap = 10min;  // a stalled request ends at the latest then (or at stop())

using HostList = std::shared_ptr<const std::vector<KscHostDef>>;

std::string base64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : data) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 63];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 63];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

std::string iso_time(std::int64_t t) {
  std::tm tm = platform::utc_tm(static_cast<std::time_t>(t));
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buffer;
}

json::value wrap(std::string_view type, json::value v) {
  json::object o;
  o["type"] = type;
  o["value"] = std::move(v);
  return o;
}

// The key="value" pairs of a KSCBasic header.
std::map<std::string, std::string> auth_pairs(std::string_view header) {
  std::map<std::string, std::string> out;
  constexpr std::string_view kScheme = "KSCBasic ";
  if (header.substr(0, kScheme.size()) != kScheme) return out;
  std::string_view rest = header.substr(kScheme.size());
  for (int i = 0; i < 16 && !rest.empty(); ++i) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    std::size_t eq = rest.find("=\"");
    if (eq == std::string_view::npos) break;
    std::string key(rest.substr(0, eq));
    rest.remove_prefix(eq + 2);
    std::size_t end = rest.find('"');
    if (end == std::string_view::npos) break;
    out[key] = std::string(rest.substr(0, end));
    rest.remove_prefix(end + 1);
  }
  return out;
}

struct Accessor {
  std::string owner;  // the session that made it
  std::uint64_t serial = 0;
  bool groups = false;
  HostList hosts;
  std::vector<std::pair<std::int64_t, std::string>> group_items;
  std::vector<std::string> fields;  // empty: every field
  std::size_t size() const { return groups ? group_items.size() : hosts->size(); }
};

struct Conn {
  Conn(tcp::socket socket, asio::ssl::context& context)
      : stream(std::move(socket), context), stall(stream.get_executor()) {}
  beast::ssl_stream<beast::tcp_stream> stream;
  asio::steady_timer stall;
  std::uint64_t id = 0;
  bool logged_in = false;
  unsigned session_calls = 0;
  std::uint64_t session_serial = 0;
  void close() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);
    stall.cancel();
  }
};

// Shared by the server and every coroutine it spawned, so a completion that runs after stop()
// or after the server is gone touches nothing freed.
struct State {
  KscOpenApiOptions options;
  std::shared_ptr<asio::ssl::context> tls;
  bool stopped = false;
  std::uint64_t next_conn = 0, next_serial = 0, next_accessor = 0, next_token = 0;
  std::map<std::uint64_t, std::weak_ptr<Conn>> conns;
  HostList hosts = std::make_shared<const std::vector<KscHostDef>>();
  std::map<std::int64_t, std::string> groups = {
      {0, "Managed devices"}, {1, "Paris"}, {2, "Lyon"}, {3, "Servers"}};
  std::vector<std::string> update_agents;
  json::value statistics = json::parse(sample_instance_statistics_json());
  std::map<std::string, unsigned> tokens;  // token -> calls in its session
  std::map<std::string, Accessor> accessors;
  KscFaults faults;
  KscCounters counters;
  std::mt19937_64 random{std::random_device{}()};
};

struct Reply {
  enum Action { answer, stall, close } action = answer;
  int status = 200;
  std::string body;
};

Reply json_reply(const json::value& v, int status = 200) {
  Reply r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

Reply pxg(std::int64_t code, std::string_view message) {
  json::object error;
  error["code"] = code;
  error["message"] = message;
  json::object o;
  o["PxgError"] = std::move(error);
  return json_reply(o, 500);
}

Reply status_only(int status) {
  Reply r;
  r.status = status;
  return r;
}

json::value host_record(const KscHostDef& h, const std::vector<std::string>& fields) {
  auto want = [&](std::string_view name) {
    return fields.empty() || std::find(fields.begin(), fields.end(), name) != fields.end();
  };
  json::object v;
  if (want("KLHST_WKS_HOSTNAME")) v["KLHST_WKS_HOSTNAME"] = h.id;
  if (want("KLHST_WKS_DN")) v["KLHST_WKS_DN"] = h.display_name;
  if (want("KLHST_WKS_FQDN") && !h.fqdn.empty()) v["KLHST_WKS_FQDN"] = h.fqdn;
  if (want("KLHST_WKS_DNSNAME") && !h.dns_name.empty()) v["KLHST_WKS_DNSNAME"] = h.dns_name;
  if (want("KLHST_WKS_IP_LONG") && h.ipv4 != 0)
    v["KLHST_WKS_IP_LONG"] = wrap("long", static_cast<std::int64_t>(h.ipv4));
  if (want("KLHST_WKS_GROUPID")) v["KLHST_WKS_GROUPID"] = h.group_id;
  if (want("KLHST_WKS_LAST_VISIBLE") && h.last_visible != 0)
    v["KLHST_WKS_LAST_VISIBLE"] = wrap("datetime", json::string(iso_time(h.last_visible)));
  if (want("KLHST_WKS_LAST_NAGENT_CONNECTED") && h.last_agent_connected)
    v["KLHST_WKS_LAST_NAGENT_CONNECTED"] =
        wrap("datetime", json::string(iso_time(*h.last_agent_connected)));
  if (want("KLHST_WKS_STATUS")) v["KLHST_WKS_STATUS"] = h.status;
  return wrap("params", std::move(v));
}

std::optional<std::int64_t> int_param(const json::object& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  if (const std::int64_t* i = it->value().if_int64()) return *i;
  if (const std::uint64_t* u = it->value().if_uint64())
    return static_cast<std::int64_t>(std::min<std::uint64_t>(*u, 1u << 30));
  return std::nullopt;
}

std::string string_param(const json::object& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return {};
  if (const json::string* s = it->value().if_string()) return std::string(*s);
  return {};
}

class Handler {
 public:
  Handler(State& st, Conn& conn) : st_(st), conn_(conn) {}

  Reply handle(const http::request<http::string_body>& req) {
    std::string_view target = req.target();
    constexpr std::string_view kPrefix = "/api/v1.0/";
    if (req.method() != http::verb::post || target.substr(0, kPrefix.size()) != kPrefix)
      return status_only(404);
    const std::string method(target.substr(kPrefix.size()));
    ++st_.counters.calls[method];
    const KscFaults& f = st_.faults;

    if (method == "login") {
      if (!st_.options.login_endpoint) return status_only(404);
      if (f.pxg_method == method) return pxg(f.pxg_code, f.pxg_message);
      if (f.refuse_login || !credentials_ok(req)) return refuse();
      conn_.logged_in = true;
      conn_.session_calls = 0;
      conn_.session_serial = ++st_.next_serial;
      ++st_.counters.logins;
      return status_only(200);  // KSC answers the login with an empty body
    }
    if (method == "Session.StartSession") {
      if (f.refuse_login || !credentials_ok(req)) return refuse();
      if (st_.tokens.size() >= kMaxTokens) st_.tokens.erase(st_.tokens.begin());
      std::string token = "nst" + std::to_string(++st_.next_token) + "x" +
                          std::to_string(st_.random() % 1000000007u);
      st_.tokens[token] = 0;
      ++st_.counters.tokens_issued;
      json::object o;
      o["PxgRetVal"] = token;
      return json_reply(o);
    }

    // Every other method needs a session: a token, or the connection's.
    std::string owner;
    unsigned* calls = nullptr;
    std::string token;
    if (auto it = req.find("X-KSC-Session"); it != req.end()) {
      token = std::string(it->value());
      auto found = st_.tokens.find(token);
      if (found == st_.tokens.end()) return refuse();
      owner = "t" + token;
      calls = &found->second;
    } else if (conn_.logged_in) {
      owner = "c" + std::to_string(conn_.session_serial);
      calls = &conn_.session_calls;
    } else {
      return refuse();
    }
    if (f.expire_after_calls != 0 && *calls >= f.expire_after_calls) {
      if (f.expire_by_closing) {
        // The connection ends, and with it a session that lived on it (a token survives).
        conn_.logged_in = false;
        *calls = 0;
        Reply r;
        r.action = Reply::close;
        return r;
      }
      if (!token.empty()) {
        st_.tokens.erase(token);
      } else {
        conn_.logged_in = false;
      }
      return refuse();
    }
    ++*calls;

    if (method == "Session.EndSession") {
      if (!token.empty()) st_.tokens.erase(token);
      ++st_.counters.sessions_ended;
      return json_reply(json::object());
    }
    if (f.stall_method == method) {
      Reply r;
      r.action = Reply::stall;
      return r;
    }
    if (f.pxg_method == method) return pxg(f.pxg_code, f.pxg_message);
    if (f.malformed_method == method) {
      Reply r;
      r.body = R"({"PxgRetVal": {"type": "long", "value": 12)";
      return r;
    }
    if (f.oversize_method == method) {
      Reply r;
      r.body.reserve(f.oversize_bytes + 20);
      r.body = R"({"PxgRetVal": ")";
      r.body.append(f.oversize_bytes, 'x');
      r.body += "\"}";
      return r;
    }

    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 16;
    json::value body = json::parse(req.body(), ec, json::storage_ptr(), options);
    if (ec || !body.is_object()) return pxg(-1, "the request body is not a JSON object");
    const json::object& params = body.get_object();

    if (method == "HostGroup.FindHosts") return find(params, owner, false);
    if (method == "HostGroup.FindGroups") return find(params, owner, true);
    if (method == "ChunkAccessor.GetItemsCount") return items_count(params, owner);
    if (method == "ChunkAccessor.GetItemsChunk") return items_chunk(params, owner);
    if (method == "ChunkAccessor.Release") return release(params);
    if (method == "UaControl.GetUpdateAgentsList") return update_agents();
    if (method == "HostGroup.GetInstanceStatistics") {
      json::object o;
      o["PxgRetVal"] = st_.statistics;
      return json_reply(o);
    }
    if (method == "HostGroup.GetGroupInfo") {
      auto id = int_param(params, "nGroupId");
      auto it = id ? st_.groups.find(*id) : st_.groups.end();
      if (it == st_.groups.end()) return pxg(1184, "group not found");
      json::object info;
      info["id"] = it->first;
      info["name"] = it->second;
      json::object o;
      o["PxgRetVal"] = std::move(info);
      return json_reply(o);
    }
    return pxg(1154, "unknown method " + method.substr(0, 64));
  }

 private:
  bool credentials_ok(const http::request<http::string_body>& req) const {
    auto auth = req.find(http::field::authorization);
    if (auth == req.end()) return false;
    auto pairs = auth_pairs(auth->value());
    const KscOpenApiOptions& o = st_.options;
    if (pairs["user"] != base64(o.user) || pairs["pass"] != base64(o.password) ||
        pairs["domain"] != o.domain || pairs["internal"] != (o.internal ? "1" : "0"))
      return false;
    auto vserver = req.find("X-KSC-VServer");
    std::string sent = vserver == req.end() ? std::string() : std::string(vserver->value());
    return sent == base64(o.vserver);
  }

  Reply refuse() {
    ++st_.counters.refused;
    return status_only(401);
  }

  Reply find(const json::object& params, const std::string& owner, bool groups) {
    Accessor a;
    a.owner = owner;
    a.groups = groups;
    if (groups) {
      for (const auto& [id, name] : st_.groups) a.group_items.emplace_back(id, name);
    } else {
      a.hosts = st_.hosts;
      auto fields = params.find("vecFieldsToReturn");
      if (fields == params.end() || !fields->value().is_array())
        return pxg(1183, "vecFieldsToReturn is missing");
      for (const json::value& f : fields->value().get_array()) {
        if (const json::string* s = f.if_string()) a.fields.emplace_back(*s);
        if (a.fields.size() >= 64) break;
      }
    }
    if (st_.accessors.size() >= kMaxAccessors) {
      // Evict the oldest, as a server's accessors expire.
      auto oldest = std::min_element(
          st_.accessors.begin(), st_.accessors.end(),
          [](const auto& x, const auto& y) { return x.second.serial < y.second.serial; });
      st_.accessors.erase(oldest);
    }
    a.serial = ++st_.next_accessor;
    std::string id = "acc" + std::to_string(a.serial);
    const std::size_t n = a.size();
    st_.accessors.emplace(id, std::move(a));
    ++st_.counters.accessors_created;
    st_.counters.open_accessors = static_cast<unsigned>(st_.accessors.size());
    json::object o;
    o["PxgRetVal"] = n;
    o["strAccessor"] = id;
    return json_reply(o);
  }

  const Accessor* accessor(const json::object& params, const std::string& owner) const {
    auto it = st_.accessors.find(string_param(params, "strAccessor"));
    if (it == st_.accessors.end() || it->second.owner != owner) return nullptr;
    return &it->second;
  }

  Reply items_count(const json::object& params, const std::string& owner) {
    const Accessor* a = accessor(params, owner);
    if (a == nullptr) return pxg(1155, "accessor not found");
    json::object o;
    o["PxgRetVal"] = a->size();
    return json_reply(o);
  }

  Reply items_chunk(const json::object& params, const std::string& owner) {
    const Accessor* a = accessor(params, owner);
    if (a == nullptr) return pxg(1155, "accessor not found");
    auto start = int_param(params, "nStart");
    auto count = int_param(params, "nCount");
    if (!start || !count || *start < 0 || *count < 0) return pxg(1156, "bad nStart or nCount");
    const std::size_t from = std::min<std::size_t>(static_cast<std::size_t>(*start), a->size());
    const std::size_t to =
        std::min({a->size(),
                  from + std::min<std::size_t>(static_cast<std::size_t>(*count), kMaxChunkItems)});
    json::array items;
    items.reserve(to - from);
    for (std::size_t i = from; i < to; ++i) {
      if (a->groups) {
        json::object g;
        g["id"] = a->group_items[i].first;
        g["name"] = a->group_items[i].second;
        g["grp_full_name"] = "Managed devices/" + a->group_items[i].second;
        g["parentId"] = 0;
        items.push_back(wrap("params", std::move(g)));
      } else {
        items.push_back(host_record((*a->hosts)[i], a->fields));
      }
    }
    st_.counters.largest_chunk = std::max(st_.counters.largest_chunk, to - from);
    json::object chunk;
    chunk["KLCSP_ITERATOR_ARRAY"] = std::move(items);
    json::object o;
    o["pChunk"] = std::move(chunk);
    o["PxgRetVal"] = to - from;
    return json_reply(o);
  }

  Reply release(const json::object& params) {
    if (st_.accessors.erase(string_param(params, "strAccessor")) > 0)
      ++st_.counters.accessors_released;
    st_.counters.open_accessors = static_cast<unsigned>(st_.accessors.size());
    return json_reply(json::object());
  }

  Reply update_agents() {
    json::array list;
    for (const auto& id : st_.update_agents) {
      json::object ua;
      ua["UaHostId"] = id;
      ua["UaVersion"] = "15.0.0.0";
      list.push_back(wrap("params", std::move(ua)));
    }
    json::object o;
    o["pUasArr"] = std::move(list);
    return json_reply(o);
  }

  State& st_;
  Conn& conn_;
};

asio::awaitable<void> serve(std::shared_ptr<State> st, std::shared_ptr<Conn> c) {
  try {
    auto& lowest = beast::get_lowest_layer(c->stream);
    lowest.expires_after(kHandshakeCap);
    auto [hec] = co_await c->stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (!hec) {
      beast::flat_buffer buffer;
      for (int i = 0; i < kMaxRequestsPerConnection && !st->stopped; ++i) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(kRequestHeaderLimit));
        parser.body_limit(kRequestBodyLimit);
        lowest.expires_after(st->options.idle_timeout);
        auto [rec, rn] = co_await http::async_read(c->stream, buffer, parser, kTuple);
        if (rec || st->stopped) break;
        const auto& req = parser.get();
        Reply reply = Handler(*st, *c).handle(req);
        if (reply.action == Reply::close) break;
        if (reply.action == Reply::stall) {
          lowest.expires_never();
          c->stall.expires_after(kStallCap);
          co_await c->stall.async_wait(kTuple);
          break;
        }
        http::response<http::string_body> res{static_cast<http::status>(reply.status),
                                              req.version()};
        res.set(http::field::server, "kscprobe-sim");
        res.set(http::field::content_type, "application/json; charset=utf-8");
        res.keep_alive(req.keep_alive());
        res.body() = std::move(reply.body);
        res.prepare_payload();
        lowest.expires_after(kWriteCap);
        auto [wec, wn] = co_await http::async_write(c->stream, res, kTuple);
        if (wec || !res.keep_alive()) break;
      }
    }
  } catch (...) {
    // Nothing a client sends may escape a connection.
  }
  c->close();
  st->conns.erase(c->id);
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> st, std::shared_ptr<tcp::acceptor> acc) {
  for (;;) {
    auto [ec, socket] = co_await acc->async_accept(kTuple);
    if (st->stopped || !acc->is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      asio::steady_timer pause(acc->get_executor(), 100ms);
      co_await pause.async_wait(kTuple);
      continue;
    }
    if (st->conns.size() >= kMaxConnections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto conn = std::make_shared<Conn>(std::move(socket), *st->tls);
    conn->id = ++st->next_conn;
    st->conns[conn->id] = conn;
    ++st->counters.connections;
    asio::co_spawn(acc->get_executor(), serve(st, conn), asio::detached);
  }
}

}  // namespace

struct KscOpenApiServer::Impl {
  Impl(asio::io_context& io_context, KscOpenApiOptions options)
      : io(io_context), state(std::make_shared<State>()) {
    state->options = std::move(options);
  }
  asio::io_context& io;
  std::shared_ptr<State> state;
  std::shared_ptr<tcp::acceptor> acceptor;
  Credentials ca, cert;
  std::uint16_t port = 0;
  bool running = false;

  void stop() {
    state->stopped = true;
    boost::system::error_code ignored;
    if (acceptor) acceptor->close(ignored);
    acceptor.reset();
    std::vector<std::shared_ptr<Conn>> open;
    for (auto& [id, weak] : state->conns)
      if (auto c = weak.lock()) open.push_back(std::move(c));
    for (auto& c : open) c->close();
    running = false;
  }
};

KscOpenApiServer::KscOpenApiServer(asio::io_context& io, KscOpenApiOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

KscOpenApiServer::~KscOpenApiServer() { stop(); }

void KscOpenApiServer::start() {
  if (impl_->running) return;
  const KscOpenApiOptions& o = impl_->state->options;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address_v4(o.address, ec);
  if (ec) throw std::runtime_error("invalid fake KSC address " + o.address + ": " + ec.message());

  CertOptions ca_options;
  ca_options.common_name = "kscprobe-sim KSC CA";
  impl_->ca = make_ca(ca_options);
  CertOptions leaf;
  leaf.common_name = "ksc-sim";
  leaf.dns_names = {"localhost", "ksc-sim"};
  leaf.ip_addresses = {o.address};
  impl_->cert = make_signed_by(impl_->ca, leaf);

  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3);
  SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
  tls->use_certificate_chain(asio::buffer(impl_->cert.cert_pem));
  tls->use_private_key(asio::buffer(impl_->cert.key_pem), asio::ssl::context::pem);
  impl_->state->tls = std::move(tls);

  auto acc = std::make_shared<tcp::acceptor>(impl_->io);
  acc->open(tcp::v4(), ec);
  if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc->bind(tcp::endpoint(address, o.port), ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("fake KSC OpenAPI cannot listen on " + o.address + ":" +
                             std::to_string(o.port) + ": " + ec.message());
  impl_->port = acc->local_endpoint().port();
  impl_->acceptor = acc;
  impl_->state->stopped = false;
  impl_->running = true;
  asio::co_spawn(impl_->io, accept_loop(impl_->state, acc), asio::detached);
}

void KscOpenApiServer::stop() { impl_->stop(); }

std::uint16_t KscOpenApiServer::port() const { return impl_->port; }

std::string KscOpenApiServer::url() const {
  return "https://" + impl_->state->options.address + ":" + std::to_string(impl_->port);
}

const Credentials& KscOpenApiServer::ca() const { return impl_->ca; }

const Credentials& KscOpenApiServer::certificate() const { return impl_->cert; }

void KscOpenApiServer::set_hosts(std::vector<KscHostDef> hosts) {
  impl_->state->hosts = std::make_shared<const std::vector<KscHostDef>>(std::move(hosts));
}

void KscOpenApiServer::add_host(KscHostDef host) {
  auto copy = std::make_shared<std::vector<KscHostDef>>(*impl_->state->hosts);
  copy->push_back(std::move(host));
  impl_->state->hosts = std::move(copy);
}

bool KscOpenApiServer::remove_host(std::string_view id) {
  auto copy = std::make_shared<std::vector<KscHostDef>>(*impl_->state->hosts);
  auto it =
      std::find_if(copy->begin(), copy->end(), [&](const KscHostDef& h) { return h.id == id; });
  if (it == copy->end()) return false;
  copy->erase(it);
  impl_->state->hosts = std::move(copy);
  return true;
}

std::size_t KscOpenApiServer::host_count() const { return impl_->state->hosts->size(); }

void KscOpenApiServer::set_groups(std::map<std::int64_t, std::string> groups) {
  impl_->state->groups = std::move(groups);
}

void KscOpenApiServer::set_update_agents(std::vector<std::string> ids) {
  impl_->state->update_agents = std::move(ids);
}

void KscOpenApiServer::set_statistics_json(std::string object_text) {
  boost::system::error_code ec;
  json::value v = json::parse(object_text, ec);
  if (ec || !v.is_object())
    throw std::invalid_argument("fake KSC statistics must be a JSON object");
  impl_->state->statistics = std::move(v);
}

void KscOpenApiServer::set_faults(KscFaults faults) { impl_->state->faults = std::move(faults); }

const KscCounters& KscOpenApiServer::counters() const { return impl_->state->counters; }

std::vector<KscHostDef> KscOpenApiServer::generate_hosts(std::size_t count, std::int64_t now) {
  std::vector<KscHostDef> hosts;
  hosts.reserve(count);
  for (std::size_t i = 1; i <= count; ++i) {
    KscHostDef h;
    char id[40];
    std::snprintf(id, sizeof id, "%08zx-0000-4000-8000-%012zx", i * 2654435761u % 0xffffffffu, i);
    h.id = id;
    char name[32];
    std::snprintf(name, sizeof name, "pc-%05zu", i);
    h.display_name = name;
    h.fqdn = h.display_name + ".corp.example";
    h.dns_name = h.display_name;
    h.ipv4 = static_cast<std::uint32_t>((10u << 24) | (1u << 16)) + static_cast<std::uint32_t>(i);
    h.group_id = static_cast<std::int64_t>(1 + i % 3);
    h.last_visible = now;
    h.last_agent_connected = now - static_cast<std::int64_t>(i % 600);
    hosts.push_back(std::move(h));
  }
  return hosts;
}

}  // namespace kscprobe::sim
