#pragma once
// The TLS client handshake shared by the tls and https probers (defined in tls_prober.cpp).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>

#include "collectors/deadline.hpp"

namespace kscprobe::detail {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

// The client context for run.spec.tls from run.env's cache. On failure (unreadable CA file)
// run.result holds Reason::tls and null is returned.
std::shared_ptr<boost::asio::ssl::context> tls_context_for(ProbeRun& run);

// Handshakes on the connected `stream` with SNI, records the tls phase and run.result.tls, and
// applies the configured CA file and pin. Returns false with run.result set when the handshake
// or a configured check fails (the certificate is still reported in the latter case).
boost::asio::awaitable<bool> tls_handshake(ProbeRun& run, TlsStream& stream);

}  // namespace kscprobe::detail
