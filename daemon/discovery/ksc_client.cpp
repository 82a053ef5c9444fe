#include "daemon/discovery/ksc_client.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <optional>
#include <vector>

#include "collectors/address.hpp"
#include "collectors/name_resolver.hpp"
#include "collectors/openssl_text.hpp"
#include "config/base64.hpp"
#include "daemon/discovery/ksc_json.hpp"
#include "platform/ascii.hpp"

namespace kscprobe::ksc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Stream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = 64 * 1024;
constexpr std::size_t kMaxTokenBytes = 4096;
// Ending a session and closing politely must not hold a shutdown up for long.
constexpr auto kCloseBudget = std::chrono::seconds(5);

Error make_error(ErrorKind kind, std::string message, int status = 0) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  e.http_status = status;
  return e;
}

std::string normalize_pin(std::string_view pin) {
  std::string out;
  for (char c : pin) {
    if (c == ':' || c == ' ') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    out += c;
  }
  return out;
}

// A header value made of visible ASCII and spaces only: nothing the server sends (a token) or
// the configuration holds (a domain) can add a header line or end the quoted string.
bool safe_header_text(std::string_view s, bool allow_quote) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && (allow_quote || c != '"') && c != '\\';
  });
}

bool valid_method(std::string_view method) {
  if (method.empty() || method.size() > 128) return false;
  return std::all_of(method.begin(), method.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_';
  });
}

// Whether a PxgError says the account lacks a right: KLSTD's STDE_NOACCESS, 1184 "Access denied"
// (the reference's table of KSC's error definitions, as go-ksc copies it in
// kaspersky/NagGuiCalls.go; its methods document STDE_NOACCESS as what a call without the right
// throws). The English words are a fallback for a server that says it with another code.
bool is_access_denied(const PxgError& pxg) {
  constexpr std::int64_t kStdeNoAccess = 1184;
  if (pxg.code == kStdeNoAccess && (pxg.module.empty() || pxg.module == "KLSTD")) return true;
  const std::string lower = ascii::lower(pxg.message);
  return lower.find("access denied") != std::string::npos ||
         lower.find("access is denied") != std::string::npos;
}

// What came back for one request.
struct Raw {
  Error error;  // transport failure: no answer
  int status = 0;
  std::string body;
  std::string www_authenticate;  // of a 401, bounded
};

}  // namespace

struct Client::Impl {
  Impl(asio::any_io_executor ex, const KscSource& src, std::string pass)
      : executor(std::move(ex)),
        resolver(executor),
        source(src),
        password(std::move(pass)),
        mode(src.session) {
    if (auto parsed = parse_ksc_url(source.url, &endpoint_error)) endpoint = std::move(*parsed);
    name = source.server_name.empty() ? endpoint.host : source.server_name;
  }
  ~Impl() {
    if (!password.empty()) OPENSSL_cleanse(password.data(), password.size());
    if (!authorization.empty()) OPENSSL_cleanse(authorization.data(), authorization.size());
  }

  asio::any_io_executor executor;
  NameResolver resolver;
  KscSource source;
  std::string password;
  std::string authorization;  // the KSCBasic header value, built at the first login
  KscEndpoint endpoint;
  std::string endpoint_error;
  std::string name;  // checked against the certificate
  KscSessionMode mode;
  std::shared_ptr<asio::ssl::context> ssl;
  std::unique_ptr<Stream> stream;
  beast::flat_buffer buffer;
  bool logged_in = false;  // connection mode: this connection carries a session
  bool cancelled = false;  // cancel() was called: no new connection, no new request
  std::string token;       // token mode: the session's token
  std::uint64_t generation = 0;
  ClientStats stats;

  std::string where() const {
    return host_for_authority(endpoint.host) + ":" + std::to_string(endpoint.port);
  }

  // Connected, with a session to use: connection mode logs in on the connection itself; a
  // token outlives the connection it was issued on.
  asio::awaitable<Error> ensure_session(Clock::time_point deadline) {
    if (cancelled) co_return make_error(ErrorKind::closed, "the client was cancelled");
    if (mode == KscSessionMode::token && !token.empty()) {
      if (!stream) co_return co_await connect(deadline);
      co_return Error{};
    }
    if (stream && logged_in) co_return Error{};
    co_return co_await login(deadline);
  }

  void drop() {
    if (stream) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(*stream).socket().close(ignored);
      stream.reset();
    }
    buffer.clear();
    logged_in = false;
  }

  Error build_context() {
    if (ssl) return {};
    if (source.ca_file.empty() && source.fingerprint_sha256.empty() && !source.insecure_skip_verify)
      return make_error(ErrorKind::config,
                        "no trust for the server's certificate: set ca_file or "
                        "fingerprint_sha256 (or insecure_skip_verify = true)");
    SSL_CTX* native = SSL_CTX_new(TLS_client_method());
    if (native == nullptr)
      return make_error(ErrorKind::tls, "cannot create a TLS context: " + openssl_error_text());
    auto context = std::make_shared<asio::ssl::context>(native);
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    // Verified after the handshake (so that the error names what failed), before any request.
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
    if (!source.ca_file.empty()) {
      ERR_clear_error();
      if (SSL_CTX_load_verify_locations(native, source.ca_file.c_str(), nullptr) != 1)
        return make_error(ErrorKind::config,
                          "cannot load ca_file " + source.ca_file + ": " + openssl_error_text());
    }
    ssl = std::move(context);
    return {};
  }

  Error check_certificate() {
    SSL* handle = stream->native_handle();
    X509* cert = SSL_get0_peer_certificate(handle);
    if (source.insecure_skip_verify && source.ca_file.empty() && source.fingerprint_sha256.empty())
      return {};
    if (cert == nullptr) return make_error(ErrorKind::tls, where() + " sent no certificate");
    if (!source.ca_file.empty()) {
      long verify = SSL_get_verify_result(handle);
      if (verify != X509_V_OK)
        return make_error(ErrorKind::tls, "certificate of " + where() + " not trusted by " +
                                              source.ca_file + ": " +
                                              X509_verify_cert_error_string(verify));
    }
    if (!source.fingerprint_sha256.empty()) {
      std::string fingerprint = sha256_fingerprint(cert);
      if (fingerprint != normalize_pin(source.fingerprint_sha256))
        return make_error(ErrorKind::tls, "certificate of " + where() + " has fingerprint " +
                                              fingerprint +
                                              ", which does not match fingerprint_sha256");
    }
    return {};
  }

  asio::awaitable<Error> connect(Clock::time_point deadline) {
    drop();
    if (!endpoint_error.empty())
      co_return make_error(ErrorKind::config, "url " + source.url + " " + endpoint_error);
    if (Error e = build_context()) co_return e;

    std::vector<tcp::endpoint> endpoints;
    if (auto literal = parse_ip_literal(endpoint.host)) {
      endpoints.emplace_back(*literal, endpoint.port);
    } else {
      // The probers' kind of lookup (c-ares, TTL cache), bounded by the request's deadline.
      LookupResult found = co_await resolver.lookup(endpoint.host, deadline);
      if (found.status == LookupStatus::timeout)
        co_return make_error(ErrorKind::timeout, "resolving " + endpoint.host + " timed out");
      if (found.status != LookupStatus::ok)
        co_return make_error(ErrorKind::resolve,
                             "cannot resolve " + endpoint.host + ": " + found.detail);
      for (const auto& address : found.addresses) endpoints.emplace_back(address, endpoint.port);
    }

    if (cancelled) co_return make_error(ErrorKind::closed, "the client was cancelled");
    stream = std::make_unique<Stream>(executor, *ssl);
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_at(deadline);
    auto [cec, connected] = co_await lowest.async_connect(endpoints, kTuple);
    if (cec) {
      drop();
      if (cec == beast::error::timeout)
        co_return make_error(ErrorKind::timeout, "connecting to " + where() + " timed out");
      co_return make_error(ErrorKind::connect,
                           "cannot connect to " + where() + ": " + cec.message());
    }

    SSL* handle = stream->native_handle();
    const bool name_is_ip = parse_ip_literal(name).has_value();
    if (!name_is_ip && !name.empty()) SSL_set_tlsext_host_name(handle, name.c_str());
    if (!source.ca_file.empty() && !name.empty()) {
      if (name_is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), name.c_str());
      } else {
        SSL_set1_host(handle, name.c_str());
      }
    }
    auto [hec] = co_await stream->async_handshake(asio::ssl::stream_base::client, kTuple);
    if (hec) {
      drop();
      if (hec == beast::error::timeout)
        co_return make_error(ErrorKind::timeout, "TLS handshake with " + where() + " timed out");
      co_return make_error(ErrorKind::tls, "TLS handshake with " + where() + ": " + hec.message());
    }
    if (Error e = check_certificate()) {
      drop();
      co_return e;
    }
    ++stats.connections;
    co_return Error{};
  }

  http::request<http::string_body> request(std::string_view path, std::string body) {
    http::request<http::string_body> req{http::verb::post, std::string(path), 11};
    req.set(http::field::host, where());
    req.set(http::field::user_agent, "kscprobe/" KSCPROBE_VERSION);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
  }

  void authenticate(http::request<http::string_body>& req) {
    if (authorization.empty()) {
      authorization = "KSCBasic user=\"" + base64_encode(source.user) + "\", pass=\"" +
                      base64_encode(password) + "\", domain=\"" + source.domain +
                      "\", internal=\"" + (source.internal ? "1" : "0") + "\"";
    }
    req.set(http::field::authorization, authorization);
    req.set("X-KSC-VServer", base64_encode(source.vserver));
  }

  // Sends `req` and reads the answer, all before `deadline`. Any transport failure closes the
  // connection.
  asio::awaitable<Raw> send(http::request<http::string_body>& req, Clock::time_point deadline,
                            std::string_view what) {
    Raw raw;
    ++stats.requests;
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_at(deadline);
    auto [wec, written] = co_await http::async_write(*stream, req, kTuple);
    if (wec) {
      drop();
      raw.error = wec == beast::error::timeout
                      ? make_error(ErrorKind::timeout, std::string(what) + ": sending timed out")
                      : make_error(ErrorKind::closed,
                                   std::string(what) + ": the connection closed: " + wec.message());
      co_return raw;
    }
    http::response_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
    parser.body_limit(source.limits.max_body_bytes);
    auto [rec, read] = co_await http::async_read(*stream, buffer, parser, kTuple);
    if (rec) {
      drop();
      if (rec == beast::error::timeout) {
        raw.error = make_error(ErrorKind::timeout,
                               std::string(what) + ": no whole answer within " +
                                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                      source.limits.request_timeout)
                                                      .count()) +
                                   " s");
      } else if (rec == http::error::body_limit) {
        raw.error = make_error(ErrorKind::too_large,
                               std::string(what) + ": the answer is over " +
                                   std::to_string(source.limits.max_body_bytes) + " bytes");
      } else if (rec == http::error::header_limit) {
        raw.error =
            make_error(ErrorKind::too_large, std::string(what) + ": the answer's header is over " +
                                                 std::to_string(kHeaderLimit) + " bytes");
      } else if (rec.category() == http::make_error_code(http::error::bad_version).category() &&
                 rec != http::error::end_of_stream && rec != http::error::partial_message) {
        raw.error = make_error(ErrorKind::malformed,
                               std::string(what) + ": unreadable answer: " + rec.message());
      } else {
        raw.error = make_error(
            ErrorKind::closed,
            std::string(what) + ": the connection closed before an answer (" + rec.message() + ")");
      }
      co_return raw;
    }
    // The deadline applies per request: none is pending between two requests.
    lowest.expires_never();
    auto response = parser.release();
    raw.status = static_cast<int>(response.result_int());
    raw.body = std::move(response.body());
    if (auto challenge = response.find(http::field::www_authenticate); challenge != response.end())
      raw.www_authenticate = std::string(challenge->value().substr(0, 1024));
    if (!response.keep_alive()) drop();
    co_return raw;
  }

  // A non-200 answer or one that is not a JSON object, as an error; a PxgError wins when present,
  // whatever the status (KSC sends it with 200 as often as with 500).
  Error judge(const Raw& raw, std::string_view what, json::value* answer) const {
    json::value parsed;
    std::string parse_error;
    const bool is_json = parse_answer(raw.body, &parsed, &parse_error);
    if (is_json) {
      if (auto pxg = pxg_error(parsed)) return pxg_failure(*pxg, what, raw.status);
    }
    if (raw.status == 401)
      return make_error(ErrorKind::unauthorized, std::string(what) + ": HTTP 401", 401);
    if (raw.status != 200)
      return make_error(ErrorKind::http_status,
                        std::string(what) + ": HTTP " + std::to_string(raw.status), raw.status);
    if (!is_json)
      return make_error(ErrorKind::malformed, std::string(what) + ": " + parse_error, raw.status);
    if (answer) *answer = std::move(parsed);
    return {};
  }

  // "<method>: PxgError <code> (<module>, subcode <n>): <message>", the kind access_denied when
  // the error says the account lacks a right (the call's own, not the session's).
  Error pxg_failure(const PxgError& pxg, std::string_view what, int status) const {
    std::string text = std::string(what) + ": PxgError " + std::to_string(pxg.code);
    if (!pxg.module.empty() || pxg.subcode != 0) {
      text += " (";
      text += pxg.module.empty() ? std::string("module ?") : pxg.module;
      if (pxg.subcode != 0) text += ", subcode " + std::to_string(pxg.subcode);
      text += ')';
    }
    if (!pxg.message.empty()) text += ": " + redact(pxg.message);
    const bool denied = is_access_denied(pxg);
    if (denied)
      text +=
          " (the account lacks a right: give it read access to administration groups and "
          "devices; see the README's discovery account)";
    Error e =
        make_error(denied ? ErrorKind::access_denied : ErrorKind::pxg, std::move(text), status);
    e.pxg_code = pxg.code;
    e.pxg_module = pxg.module;
    return e;
  }

  // Server text that repeats the password or the Authorization header (a PxgError echoing the
  // request) must not reach a log: both are replaced.
  std::string redact(std::string text) const {
    auto hide = [&](std::string_view secret) {
      if (secret.empty()) return;
      for (std::size_t at = text.find(secret); at != std::string::npos;
           at = text.find(secret, at + 10))
        text.replace(at, secret.size(), "<redacted>");
    };
    hide(authorization);
    if (!password.empty()) hide(base64_encode(password));
    // A very short password would hide ordinary words: such a password is a problem of its own.
    if (password.size() >= 4) hide(password);
    return text;
  }

  // Who the login was for, as the header says it: a KSC internal user or a domain account.
  std::string account() const {
    if (source.internal && source.domain.empty())
      return "KSC internal user \"" + printable(source.user, 128) + "\"";
    return std::string(source.internal ? "KSC internal user" : "domain user") + " \"" +
           printable(source.domain.empty() ? source.user : source.domain + "\\" + source.user,
                     256) +
           "\"";
  }

  Error refused(const Raw& raw) const {
    // Two-step verification: KSC refuses the login with a challenge that names KSCMFA.
    if (raw.www_authenticate.find("KSCMFA") != std::string::npos) {
      return make_error(ErrorKind::mfa_required,
                        "KSC " + where() + " asks " + account() +
                            " for two-step verification, which a service cannot pass: exempt the "
                            "account from two-step verification in KSC (or use an account that "
                            "is exempt)",
                        raw.status);
    }
    std::string hint = source.internal
                           ? " (internal = true: the account is a KSC internal user; for a domain "
                             "account set domain and internal = false)"
                           : " (internal = false: a domain account; for a KSC internal user set "
                             "internal = true)";
    return make_error(ErrorKind::unauthorized,
                      "KSC " + where() + " refused the login of " + account() + " (HTTP " +
                          std::to_string(raw.status) + ")" + hint,
                      raw.status);
  }

  asio::awaitable<Error> start_session(Clock::time_point deadline) {
    auto req = request("/api/v1.0/Session.StartSession", "{}");
    authenticate(req);
    Raw raw = co_await send(req, deadline, "Session.StartSession");
    if (raw.error) co_return raw.error;
    if (raw.status == 401 || raw.status == 403) co_return refused(raw);
    json::value answer;
    if (Error e = judge(raw, "Session.StartSession", &answer)) co_return e;
    const json::value* ret = field(answer.get_object(), "PxgRetVal");
    auto token_text = ret ? as_string(*ret) : std::nullopt;
    if (!token_text || token_text->empty() || token_text->size() > kMaxTokenBytes ||
        !safe_header_text(*token_text, false))
      co_return make_error(ErrorKind::malformed, "Session.StartSession: no usable token");
    token = std::string(*token_text);
    ++generation;
    ++stats.logins;
    co_return Error{};
  }

  asio::awaitable<Error> login(Clock::time_point deadline) {
    if (!safe_header_text(source.domain, false))
      co_return make_error(ErrorKind::config, "domain holds a quote or a control character");
    if (!stream) {
      if (Error e = co_await connect(deadline)) co_return e;
    }
    if (mode == KscSessionMode::token) co_return co_await start_session(deadline);
    auto req = request("/api/v1.0/login", "");
    authenticate(req);
    Raw raw = co_await send(req, deadline, "login");
    if (raw.error) co_return raw.error;
    if (raw.status == 404) {
      // A server without /login: sessions by token then.
      mode = KscSessionMode::token;
      if (!stream) {
        if (Error e = co_await connect(deadline)) co_return e;
      }
      co_return co_await start_session(deadline);
    }
    if (raw.status == 401 || raw.status == 403) co_return refused(raw);
    if (raw.status != 200) {
      Error e = judge(raw, "login", nullptr);
      co_return e ? e
                  : make_error(ErrorKind::http_status, "login: HTTP " + std::to_string(raw.status));
    }
    if (!raw.body.empty()) {
      // Some servers answer the login with a JSON body; a PxgError there is a refusal.
      json::value answer;
      std::string ignored;
      if (parse_answer(raw.body, &answer, &ignored)) {
        if (Error e = judge(raw, "login", nullptr);
            e.kind == ErrorKind::pxg || e.kind == ErrorKind::access_denied)
          co_return e;
      }
    }
    if (!stream) {
      // The server closed the connection that carried the session: it is gone with it.
      co_return make_error(ErrorKind::closed, "login: the server closed the connection");
    }
    logged_in = true;
    ++generation;
    ++stats.logins;
    co_return Error{};
  }

  asio::awaitable<CallResult> call(std::string_view method, const json::object& params) {
    CallResult result;
    if (!valid_method(method)) {
      result.error = make_error(ErrorKind::config, "invalid method name");
      co_return result;
    }
    std::string body = json::serialize(params);
    const std::string path = "/api/v1.0/" + std::string(method);
    for (int attempt = 0; attempt < 2; ++attempt) {
      const auto deadline = Clock::now() + source.limits.request_timeout;
      if (Error e = co_await ensure_session(deadline)) {
        result.error = std::move(e);
        co_return result;
      }
      auto req = request(path, body);
      if (mode == KscSessionMode::token) req.set("X-KSC-Session", token);
      Raw raw = co_await send(req, deadline, method);
      if (raw.error) {
        // A connection the server closed (an idle one, or a session it ended): once more on a
        // new connection, with a new login when the session lived on the old one.
        if (raw.error.kind == ErrorKind::closed && attempt == 0) continue;
        result.error = std::move(raw.error);
        co_return result;
      }
      const bool session_ended = raw.status == 401 || raw.status == 403;
      if (session_ended && attempt == 0) {
        // KSC answers 403 to every call of a session that has ended (401 when it expired): log
        // in again, once.
        logged_in = false;
        token.clear();
        continue;
      }
      if (session_ended) {
        result.error = make_error(ErrorKind::unauthorized,
                                  std::string(method) + ": HTTP " + std::to_string(raw.status) +
                                      " again right after a new login (session refused)",
                                  raw.status);
        co_return result;
      }
      result.error = judge(raw, method, &result.answer);
      co_return result;
    }
    result.error = make_error(ErrorKind::closed, std::string(method) +
                                                     ": the connection closed again after a "
                                                     "new login");
    co_return result;
  }

  asio::awaitable<void> close() {
    if (cancelled) {
      drop();
      co_return;
    }
    if (stream && mode == KscSessionMode::token && !token.empty()) {
      auto req = request("/api/v1.0/Session.EndSession", "{}");
      req.set("X-KSC-Session", token);
      co_await send(
          req,
          Clock::now() + std::min<Clock::duration>(kCloseBudget, source.limits.request_timeout),
          "Session.EndSession");
    }
    token.clear();
    if (stream) {
      beast::get_lowest_layer(*stream).expires_after(
          std::min<Clock::duration>(kCloseBudget, source.limits.request_timeout));
      co_await stream->async_shutdown(kTuple);
    }
    drop();
  }
};

Client::Client(asio::any_io_executor executor, const KscSource& source, std::string password)
    : impl_(std::make_unique<Impl>(std::move(executor), source, std::move(password))) {}

Client::~Client() = default;

asio::awaitable<Error> Client::open() {
  co_return co_await impl_->ensure_session(Clock::now() + impl_->source.limits.request_timeout);
}

asio::awaitable<CallResult> Client::call(std::string_view method, const json::object& params) {
  return impl_->call(method, params);
}

asio::awaitable<void> Client::close() { return impl_->close(); }

void Client::cancel() {
  impl_->cancelled = true;
  if (impl_->stream) {
    boost::system::error_code ignored;
    beast::get_lowest_layer(*impl_->stream).socket().close(ignored);
  }
  impl_->logged_in = false;
}

std::uint64_t Client::session_generation() const { return impl_->generation; }

const ClientStats& Client::stats() const { return impl_->stats; }

KscSessionMode Client::session_mode() const { return impl_->mode; }

}  // namespace kscprobe::ksc
