#pragma once
// A client of KSC's OpenAPI (https://<server>:13299/api/v1.0/...): one kept-alive TLS connection,
// one request at a time, as the Administration Server expects. The session either lives on the
// connection (POST /api/v1.0/login) or is a token (Session.StartSession, sent as X-KSC-Session);
// see KscSessionMode. The password goes into the login request only: it is never logged and never
// part of an error.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/ksc.hpp"
#include "platform/enum_table.hpp"

namespace kscprobe::ksc {

/// Why a request failed.
enum class ErrorKind : std::uint8_t {
  none,
  config,         // the section cannot be used (bad URL, no trust configured, unreadable CA file)
  password,       // the section's password file or variable cannot be read (or is empty)
  resolve,        // the server's name does not resolve
  connect,        // TCP connect failed
  tls,            // handshake failed or the certificate is not trusted (CA, name or pin)
  timeout,        // the request did not complete within limits.request_timeout
  closed,         // the server closed the connection (or reset it) before a whole answer
  unauthorized,   // HTTP 401: login refused, or the session expired and a new login was refused
  mfa_required,   // the login is refused until the account passes two-step verification
  access_denied,  // a PxgError saying the account lacks a right for the call
  http_status,    // another status than 200
  pxg,            // the answer is a PxgError
  malformed,      // the answer is not the JSON expected, or no usable device in it
  truncated,      // a listing ended at a request limit short of the server's count
  too_large,      // the answer's body is over limits.max_body_bytes
};
/// The `error` label's values of the discovery metrics.
inline constexpr EnumName<ErrorKind> kErrorKindRows[] = {
    {ErrorKind::none, "none"},
    {ErrorKind::config, "config"},
    {ErrorKind::password, "password"},
    {ErrorKind::resolve, "resolve"},
    {ErrorKind::connect, "connect"},
    {ErrorKind::tls, "tls"},
    {ErrorKind::timeout, "timeout"},
    {ErrorKind::closed, "closed"},
    {ErrorKind::unauthorized, "unauthorized"},
    {ErrorKind::mfa_required, "mfa_required"},
    {ErrorKind::access_denied, "access_denied"},
    {ErrorKind::http_status, "http_status"},
    {ErrorKind::pxg, "pxg"},
    {ErrorKind::malformed, "malformed"},
    {ErrorKind::truncated, "truncated"},
    {ErrorKind::too_large, "too_large"}};
inline constexpr EnumTable kErrorKinds{kErrorKindRows};
inline std::string_view to_string(ErrorKind kind) { return kErrorKinds.name(kind); }

struct Error {
  ErrorKind kind = ErrorKind::none;
  int http_status = 0;        // when the server answered
  std::int64_t pxg_code = 0;  // kinds pxg and access_denied: PxgError's code
  // One line for logs, --once and the status page: printable (server text escaped), never the
  // password nor the Authorization header.
  std::string message;
  std::string pxg_module;  // kinds pxg and access_denied: PxgError's module (e.g. "KLSTD")
  explicit operator bool() const { return kind != ErrorKind::none; }

  /// An error of `kind` with its message and nothing else.
  static Error of(ErrorKind kind, std::string message) {
    Error e;
    e.kind = kind;
    e.message = std::move(message);
    return e;
  }
};

/// The answer of one call: the whole JSON object ({"PxgRetVal": ..., and the out parameters}),
/// or the error.
struct CallResult {
  Error error;
  boost::json::value answer;
  bool ok() const { return !error; }
};

struct ClientStats {
  unsigned connections = 0;  // TCP+TLS connections made
  unsigned logins = 0;       // successful logins (or StartSession)
  unsigned requests = 0;     // HTTP requests sent, logins included
};

/**
 * One OpenAPI client. Runs on `executor`, which must be single-threaded (or a strand); the client
 * must outlive every coroutine it returned, and calls must not overlap (one request at a time).
 *
 * Every request (including the connect, handshake and login it may need) is bounded by
 * `source.limits.request_timeout`, and every answer by `limits.max_body_bytes`. When a call of an
 * established session meets an ended session (HTTP 403, as KSC answers every call of a session
 * that has ended, or 401) or a connection the server closed, the client logs in again, on a new
 * connection if need be, and sends the call once more; a second failure is returned. Every login
 * increments session_generation(): a caller that reads a listing through an accessor made under
 * an older session reads it again from the start.
 */
class Client {
 public:
  Client(boost::asio::any_io_executor executor, const KscSource& source, std::string password);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Connects, checks the certificate and logs in. call() does this itself when needed; open()
  /// tells early whether the server is usable.
  boost::asio::awaitable<Error> open();

  /// POST /api/v1.0/<method> (e.g. "HostGroup.FindHosts") with `params` as the JSON body.
  boost::asio::awaitable<CallResult> call(std::string_view method,
                                          const boost::json::object& params);

  /// Ends a token session (Session.EndSession, best effort) and closes the connection.
  boost::asio::awaitable<void> close();

  /// Closes the socket at once: a request in flight fails with `closed`, and so does every later
  /// call (no new connection is made; close() only drops the socket). For shutdown.
  void cancel();

  /// Incremented by every successful login: an accessor obtained under an older session may be
  /// gone on the server.
  std::uint64_t session_generation() const;
  const ClientStats& stats() const;
  /// The session mode in use (connection mode falls back to tokens on a server without /login).
  KscSessionMode session_mode() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kscprobe::ksc
