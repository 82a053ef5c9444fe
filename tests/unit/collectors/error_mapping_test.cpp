#include "collectors/error_mapping.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>

namespace kscprobe {
namespace {

using boost::system::error_code;

error_code sys(int value) { return error_code(value, boost::system::system_category()); }

TEST(ErrorMapping, SuccessIsNoFailure) {
  MappedError m = map_error(error_code(), Phase::connect);
  EXPECT_EQ(m.reason, Reason::none);
  EXPECT_TRUE(m.detail.empty());
}

TEST(ErrorMapping, ConnectErrnos) {
  struct Case {
    int value;
    Reason reason;
    std::string_view detail_part;
  };
  const Case cases[] = {
      {ECONNREFUSED, Reason::refused, "connection refused"},
      {ETIMEDOUT, Reason::timeout, "timed out"},
      {EHOSTUNREACH, Reason::unreachable, "host unreachable"},
      {ENETUNREACH, Reason::unreachable, "network unreachable"},
      {EHOSTDOWN, Reason::unreachable, "host down"},
      {ENETDOWN, Reason::unreachable, "network down"},
      {EACCES, Reason::unreachable, "local firewall"},
      {EPERM, Reason::unreachable, "local firewall"},
      {ECONNRESET, Reason::reset, "reset by peer"},
      {ECONNABORTED, Reason::reset, "aborted"},
      {EPIPE, Reason::reset, "broken pipe"},
  };
  for (const auto& c : cases) {
    MappedError m = map_error(sys(c.value), Phase::connect);
    EXPECT_EQ(m.reason, c.reason) << c.value << " " << m.detail;
    EXPECT_NE(m.detail.find(c.detail_part), std::string::npos) << m.detail;
  }
}

// The probing host's own shortages say nothing of the target, in whatever phase they happen:
// no reason, a local fault of its kind.
TEST(ErrorMapping, HostShortagesAreLocalFaultsNotReasons) {
  struct Case {
    int value;
    LocalFault local;
  };
  const Case cases[] = {
      {EMFILE, LocalFault::fd_limit},
      {ENFILE, LocalFault::fd_limit},
      {EADDRNOTAVAIL, LocalFault::port_range},
      {ENOBUFS, LocalFault::buffers},
      {ENOMEM, LocalFault::memory},
  };
  for (const auto& c : cases) {
    for (Phase phase : {Phase::resolve, Phase::connect, Phase::tls, Phase::request}) {
      MappedError m = map_error(sys(c.value), phase);
      EXPECT_EQ(m.reason, Reason::none) << c.value << " " << to_string(phase) << " " << m.detail;
      EXPECT_EQ(m.local, c.local) << c.value << " " << to_string(phase);
      EXPECT_NE(m.detail.find(std::string(to_string(c.local))), std::string::npos) << m.detail;
    }
    EXPECT_EQ(local_fault_of(sys(c.value)), c.local);
    EXPECT_EQ(local_fault_of(error_code(c.value, boost::system::generic_category())), c.local);
  }
  // What the network says stays a reason about the target.
  for (int value : {ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, EACCES, EPERM}) {
    EXPECT_EQ(local_fault_of(sys(value)), LocalFault::none) << value;
    EXPECT_EQ(map_error(sys(value), Phase::connect).local, LocalFault::none) << value;
  }
  EXPECT_EQ(local_fault_of(boost::asio::error::operation_aborted), LocalFault::none);
  EXPECT_EQ(local_fault_of(error_code()), LocalFault::none);
}

TEST(ErrorMapping, LocalFaultNamesAndRemedies) {
  EXPECT_EQ(to_string(LocalFault::fd_limit), "fd_limit");
  EXPECT_EQ(to_string(LocalFault::port_range), "port_range");
  EXPECT_EQ(to_string(LocalFault::buffers), "buffers");
  EXPECT_EQ(to_string(LocalFault::memory), "memory");
  EXPECT_EQ(to_string(LocalFault::icmp_permission), "icmp_permission");
  EXPECT_NE(remedy(LocalFault::fd_limit).find("LimitNOFILE"), std::string_view::npos);
  EXPECT_NE(remedy(LocalFault::port_range).find("ip_local_port_range"), std::string_view::npos);
  EXPECT_NE(remedy(LocalFault::icmp_permission).find("CAP_NET_RAW"), std::string_view::npos);
  EXPECT_NE(remedy(LocalFault::icmp_permission).find("ping_group_range"), std::string_view::npos);
}

TEST(ErrorMapping, AsioErrorEnumsMatchErrnos) {
  EXPECT_EQ(map_error(boost::asio::error::connection_refused, Phase::connect).reason,
            Reason::refused);
  EXPECT_EQ(map_error(boost::asio::error::host_unreachable, Phase::connect).reason,
            Reason::unreachable);
  EXPECT_EQ(map_error(boost::asio::error::connection_reset, Phase::request).reason, Reason::reset);
  EXPECT_EQ(map_error(boost::asio::error::timed_out, Phase::connect).reason, Reason::timeout);
  // The generic category is equivalent to the system one for errno values.
  EXPECT_EQ(
      map_error(make_error_code(boost::system::errc::connection_refused), Phase::connect).reason,
      Reason::refused);
}

TEST(ErrorMapping, OwnDeadlineIsTimeout) {
  MappedError m = map_error(boost::asio::error::operation_aborted, Phase::tls);
  EXPECT_EQ(m.reason, Reason::timeout);
  EXPECT_EQ(timeout_detail(Duration(5000), Phase::connect), "no reply within 5s during connect");
  EXPECT_EQ(timeout_detail(Duration(300), Phase::tls), "no reply within 300ms during tls");
}

TEST(ErrorMapping, EveryErrorWhileResolvingIsResolve) {
  for (error_code ec : {error_code(boost::asio::error::host_not_found),
                        error_code(boost::asio::error::host_not_found_try_again),
                        error_code(boost::asio::error::service_not_found), sys(ECONNREFUSED)}) {
    MappedError m = map_error(ec, Phase::resolve);
    EXPECT_EQ(m.reason, Reason::resolve) << ec.message();
    EXPECT_NE(m.detail.find("cannot resolve"), std::string::npos);
  }
  // Resolver categories mean resolve even when reported later.
  EXPECT_EQ(map_error(boost::asio::error::host_not_found, Phase::connect).reason, Reason::resolve);
}

TEST(ErrorMapping, SslErrorsAreTls) {
  // No TLS context exists in this process: the mapping must load OpenSSL's texts itself.
  error_code ssl_ec(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER),
                    boost::asio::error::get_ssl_category());
  MappedError m = map_error(ssl_ec, Phase::tls);
  EXPECT_EQ(m.reason, Reason::tls);
  EXPECT_NE(m.detail.find("TLS handshake failed"), std::string::npos) << m.detail;
  EXPECT_NE(m.detail.find("wrong version number"), std::string::npos) << m.detail;
  EXPECT_EQ(map_error(ssl_ec, Phase::request).reason, Reason::tls);
}

TEST(ErrorMapping, EofDependsOnThePhase) {
  MappedError tls = map_error(boost::asio::error::eof, Phase::tls);
  EXPECT_EQ(tls.reason, Reason::tls);
  EXPECT_EQ(tls.detail, "peer closed during TLS handshake");
  EXPECT_EQ(map_error(boost::asio::ssl::error::stream_truncated, Phase::tls).reason, Reason::tls);
  EXPECT_EQ(map_error(boost::asio::error::eof, Phase::request).reason, Reason::protocol);
  EXPECT_EQ(map_error(boost::beast::http::error::end_of_stream, Phase::request).reason,
            Reason::protocol);
  EXPECT_EQ(map_error(boost::beast::http::error::partial_message, Phase::request).reason,
            Reason::protocol);
}

TEST(ErrorMapping, MalformedHttpIsProtocol) {
  for (auto e : {boost::beast::http::error::bad_version, boost::beast::http::error::bad_status,
                 boost::beast::http::error::header_limit, boost::beast::http::error::body_limit,
                 boost::beast::http::error::bad_chunk}) {
    MappedError m = map_error(e, Phase::request);
    EXPECT_EQ(m.reason, Reason::protocol) << m.detail;
    EXPECT_NE(m.detail.find("malformed HTTP response"), std::string::npos);
  }
}

TEST(ErrorMapping, UnknownErrorsFallBackOnThePhase) {
  error_code odd = sys(EPROTO);
  EXPECT_EQ(map_error(odd, Phase::connect).reason, Reason::unreachable);
  EXPECT_EQ(map_error(odd, Phase::tls).reason, Reason::tls);
  EXPECT_EQ(map_error(odd, Phase::request).reason, Reason::protocol);
}

TEST(ErrorMapping, ReasonAndPhaseNames) {
  EXPECT_EQ(to_string(Reason::none), "none");
  EXPECT_EQ(to_string(Reason::resolve), "resolve");
  EXPECT_EQ(to_string(Reason::refused), "refused");
  EXPECT_EQ(to_string(Reason::timeout), "timeout");
  EXPECT_EQ(to_string(Reason::unreachable), "unreachable");
  EXPECT_EQ(to_string(Reason::reset), "reset");
  EXPECT_EQ(to_string(Reason::tls), "tls");
  EXPECT_EQ(to_string(Reason::http_status), "http_status");
  EXPECT_EQ(to_string(Reason::protocol), "protocol");
  EXPECT_EQ(to_string(Phase::resolve), "resolve");
  EXPECT_EQ(to_string(Phase::connect), "connect");
  EXPECT_EQ(to_string(Phase::tls), "tls");
  EXPECT_EQ(to_string(Phase::request), "request");
}

}  // namespace
}  // namespace kscprobe
