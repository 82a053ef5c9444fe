#pragma once
// The TLS client connection shared by the tls and https probers (defined in tls_prober.cpp):
// one sequence (context, connect under the deadline, handshake, keeping the session) for both.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <functional>
#include <memory>
#include <string>

#include "collectors/deadline.hpp"
#include "collectors/tls_context_cache.hpp"

namespace kscprobe::detail {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

// Attached to a probe's SSL object (ex_data at tls_session_target_index(), freed with it): where
// a session the server issues is kept, and who wants to know.
struct TlsSessionTarget {
  TlsSessionStore* store = nullptr;
  std::string key;
  bool received = false;
  std::function<void()> on_session = {};
};
int tls_session_target_index();

// The client context for run.spec.tls from run.env's cache. On failure (unreadable CA file)
// run.result holds Reason::tls and null is returned.
std::shared_ptr<boost::asio::ssl::context> tls_context_for(ProbeRun& run);

// Handshakes on the connected `stream` with SNI, records the tls phase and run.result.tls, and
// applies the configured CA file and pin. Returns false with run.result set when the handshake
// or a configured check fails (the certificate is still reported in the latter case).
boost::asio::awaitable<bool> tls_handshake(ProbeRun& run, TlsStream& stream);

// Connects to run's target over TLS (the client context, the connection under the probe's
// deadline, the handshake), then awaits `use` on the stream; when `use` returns true the
// session is kept for the next probes (keep_session). On a failure before `use`, run.result
// holds it and `use` is not called.
boost::asio::awaitable<void> over_tls(ProbeRun& run,
                                      std::function<boost::asio::awaitable<bool>(TlsStream&)> use);

// Call once the probe is done with a connection that went well: OpenSSL marks the session of a
// connection closed without a close_notify as not resumable, and a probe does not wait for the
// close_notify exchange. Nothing more may be written on `stream` afterwards.
void keep_session(TlsStream& stream);

}  // namespace kscprobe::detail
