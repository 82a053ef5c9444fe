#include "collectors/error_mapping.hpp"

#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>

#include "platform/net.hpp"

namespace kscprobe {
namespace {

namespace asio_error = boost::asio::error;
using boost::system::error_code;

// Where the error happened, appended to texts that mean different things in different phases.
std::string_view during(Phase phase) {
  switch (phase) {
    case Phase::resolve:
      return " during resolve";
    case Phase::connect:
      return "";
    case Phase::tls:
      return " during TLS handshake";
    case Phase::request:
      return " during request";
  }
  return "";
}

bool is_system(const error_code& ec) {
  return ec.category() == boost::system::system_category() ||
         ec.category() == boost::system::generic_category();
}

// The resolver reports through several categories (netdb, addrinfo, misc, system).
bool is_resolver_error(const error_code& ec) {
  // On Windows Asio's netdb and addrinfo categories are the system category: the category alone
  // would take every socket error (a refused connection) for a name that did not resolve.
  if (ec.category() == asio_error::get_system_category())
    return platform::is_resolver_system_error(ec.value());
  return ec.category() == asio_error::get_netdb_category() ||
         ec.category() == asio_error::get_addrinfo_category();
}

bool is_ssl_error(const error_code& ec) {
  return ec.category() == asio_error::get_ssl_category() ||
         ec.category() == boost::asio::ssl::error::get_stream_category();
}

bool is_http_error(const error_code& ec) {
  return ec.category() ==
         boost::beast::http::make_error_code(boost::beast::http::error::end_of_stream).category();
}

MappedError mapped(Reason reason, std::string detail) { return {reason, std::move(detail)}; }

}  // namespace

LocalFault local_fault_of(const error_code& ec) {
  if (!ec) return LocalFault::none;
  if (!is_system(ec)) return LocalFault::none;
  switch (platform::socket_errno(ec.value())) {
    case EMFILE:
    case ENFILE:
      return LocalFault::fd_limit;
    case EADDRNOTAVAIL:
      return LocalFault::port_range;
    case ENOBUFS:
      return LocalFault::buffers;
    case ENOMEM:
      return LocalFault::memory;
    default:
      return LocalFault::none;
  }
}

MappedError map_error(const error_code& ec, Phase phase) {
  if (!ec) return {};
  // Whatever the phase: the probe never reached the network, so nothing is said of the target.
  if (const LocalFault local = local_fault_of(ec); local != LocalFault::none) {
    MappedError m;
    m.local = local;
    m.detail = "local fault (" + std::string(to_string(local)) + "): " + ec.message() +
               std::string(during(phase));
    return m;
  }
  if (phase == Phase::resolve) {
    if (ec == asio_error::operation_aborted) return mapped(Reason::timeout, "resolve cancelled");
    return mapped(Reason::resolve, "cannot resolve: " + ec.message());
  }
  if (ec == asio_error::operation_aborted) {
    return mapped(Reason::timeout, "operation cancelled" + std::string(during(phase)));
  }
  // End of stream: during the handshake the peer is no TLS server (or refused us), afterwards the
  // HTTP response was cut short. A truncated TLS stream is the same thing seen through OpenSSL.
  if (ec == asio_error::eof || ec == boost::asio::ssl::error::stream_truncated ||
      ec == boost::beast::http::error::end_of_stream ||
      ec == boost::beast::http::error::partial_message) {
    if (phase == Phase::tls) return mapped(Reason::tls, "peer closed during TLS handshake");
    if (phase == Phase::request) {
      return mapped(Reason::protocol, "peer closed before a complete response");
    }
    return mapped(Reason::reset, "peer closed the connection");
  }
  if (is_ssl_error(ec)) {
    // OpenSSL 3 loads its reason texts with the first context; without them the text is just
    // "asio.ssl error".
    static const bool strings_loaded = OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, nullptr);
    (void)strings_loaded;
    std::string what = phase == Phase::tls ? "TLS handshake failed: " : "TLS error: ";
    return mapped(Reason::tls, what + ec.message());
  }
  if (is_http_error(ec))
    return mapped(Reason::protocol, "malformed HTTP response: " + ec.message());
  if (is_resolver_error(ec)) return mapped(Reason::resolve, "cannot resolve: " + ec.message());
  if (is_system(ec)) {
    // Winsock's numbers differ from <cerrno>'s: platform::socket_errno maps them.
    switch (platform::socket_errno(ec.value())) {
      case ECONNREFUSED:
        return mapped(Reason::refused, "connection refused");
      case ETIMEDOUT:
        return mapped(Reason::timeout, "connection timed out" + std::string(during(phase)));
      case EHOSTUNREACH:
        return mapped(Reason::unreachable, "host unreachable");
      case ENETUNREACH:
        return mapped(Reason::unreachable, "network unreachable");
#ifdef EHOSTDOWN
      case EHOSTDOWN:
        return mapped(Reason::unreachable, "host down");
#endif
      case ENETDOWN:
        return mapped(Reason::unreachable, "network down");
      case EACCES:
      case EPERM:
        // connect() and send() fail this way when a local firewall rule rejects the packet.
        return mapped(Reason::unreachable, "blocked by a local firewall: " + ec.message());
      case ECONNRESET:
        return mapped(Reason::reset, "connection reset by peer" + std::string(during(phase)));
      case ECONNABORTED:
        return mapped(Reason::reset, "connection aborted" + std::string(during(phase)));
      case EPIPE:
        return mapped(Reason::reset, "broken pipe" + std::string(during(phase)));
      default:
        break;
    }
  }
  switch (phase) {
    case Phase::tls:
      return mapped(Reason::tls, "TLS handshake failed: " + ec.message());
    case Phase::request:
      return mapped(Reason::protocol, "request failed: " + ec.message());
    default:
      return mapped(Reason::unreachable, ec.message());
  }
}

std::string timeout_detail(Duration timeout, Phase phase) {
  std::string text = "no reply within " + format_duration(timeout) + " during ";
  text += to_string(phase);
  return text;
}

MappedError map_lookup_failure(const LookupAnswer& answer, std::string_view name) {
  const std::string what = "cannot resolve " + std::string(name) + ": ";
  switch (answer.status) {
    case LookupStatus::ok:
      return {};
    case LookupStatus::not_found:
    case LookupStatus::failed:
      return mapped(Reason::resolve, what + answer.detail);
    case LookupStatus::timeout:
      return mapped(Reason::resolve,
                    what + "no answer from the DNS server (" + answer.detail + ")");
    case LookupStatus::queue_full: {
      // kscprobe's own shortage: no query was sent, so nothing is known of the name.
      MappedError m;
      m.local = LocalFault::resolver_queue;
      m.detail = "resolver queue full: " + answer.detail;
      return m;
    }
    case LookupStatus::cancelled:
      break;
  }
  return mapped(Reason::timeout, "resolve cancelled");
}

}  // namespace kscprobe
