// kscprobe-fault-peer: the misbehaving hosts of the fault matrix, on fixed ports of one address.
// It runs inside the target network namespace that tests/fault/run_matrix.sh creates; the ports
// are fixed (not 0) because the matrix config, the nftables rules and blackbox_exporter's targets
// are written before it starts. Every session is bounded in time, and the whole process exits
// after --lifetime seconds even if nobody stops it, so a failed run cannot leave it behind.
//
//   8080 tcp  HTTP 200 with a metrics body         (open)
//   8443 tcp  TLS; HTTP 200 with a metrics body    (open, tls and https)
//   7001 tcp  accepts, never sends a byte          (a peer that never speaks TLS)
//   7002 tcp  answers the ClientHello with garbage (not a ServerHello)
//   7003 tcp  reads the ClientHello, then resets   (RST mid-handshake)
//   7004 tcp  HTTP headers, then stalls the body   (plain)
//   7005 tcp  TLS, HTTP headers, then stalls       (https)
//   7200-7203 tcp TLS+HTTP 200, udp silent         (behind the nftables drop/reject rules)
//   15000 udp  reads and discards                  (KSC's silent UDP ports)
//   15001 udp  echoes                              (a UDP port that answers)
//   7100       nothing listens                     (closed)
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "simulator/self_signed.hpp"
#include "tests/support/peers.hpp"

namespace {

using namespace kscprobe::test;
using namespace std::chrono_literals;

constexpr std::string_view kMetrics =
    "# HELP ksc_Transport__Number_of_all_connections Connections.\n"
    "# TYPE ksc_Transport__Number_of_all_connections gauge\n"
    "ksc_Transport__Number_of_all_connections 42\n";

// Headers that promise a body which never comes: the client must give up on its own deadline.
const std::string kStallHeaders =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial";

// What the peer sends instead of a ServerHello.
const std::string kJunk = "SSH-2.0-not-a-tls-server\r\n\x01\x02\x03garbage\r\n";

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1";
  int lifetime = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view arg = argv[i];
    if (arg == "--address") {
      address = argv[i + 1];
    } else if (arg == "--lifetime") {
      lifetime = std::atoi(argv[i + 1]);
    } else {
      std::cerr << "usage: kscprobe-fault-peer [--address A] [--lifetime SECONDS]\n";
      return 2;
    }
  }
  try {
    asio::io_context io;
    auto ip = asio::ip::make_address(address);
    kscprobe::sim::CertOptions cert;
    cert.common_name = "fault-peer";
    cert.ip_addresses = {address};
    auto credentials = kscprobe::sim::make_self_signed(cert);
    auto ctx = server_context(credentials);
    // Every misbehaving session ends within 30 s whatever the client does.
    auto peer = [&](unsigned short port, PeerOptions options) {
      if (options.keep.count() == 0) options.keep = 30s;
      start_peer(io, listen_on(io, ip, port), std::move(options));
    };
    auto http_ok = [&](unsigned short port, std::shared_ptr<ssl::context> tls) {
      ServedReply ok{.body = std::string(kMetrics), .content_type = "text/plain; version=0.0.4"};
      start_http_server(io, listen_on(io, ip, port), ok, std::make_shared<Seen>(), tls);
    };
    auto bind_udp = [&](unsigned short port, bool echo) {
      start_udp_server(io, udp::endpoint(ip, port), echo);
    };
    http_ok(8080, nullptr);
    http_ok(8443, ctx);
    peer(7001, {.conduct = Conduct::hold});
    peer(7002, {.conduct = Conduct::garbage_after_hello, .bytes = kJunk, .keep = 200ms});
    peer(7003, {.conduct = Conduct::reset_after_hello});
    peer(7004, {.conduct = Conduct::stall_after_headers, .bytes = kStallHeaders});
    peer(7005, {.conduct = Conduct::stall_after_headers, .bytes = kStallHeaders, .tls = ctx});
    for (unsigned short port = 7200; port <= 7203; ++port) {
      http_ok(port, ctx);
      bind_udp(port, false);
    }
    bind_udp(15000, false);
    bind_udp(15001, true);

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
    asio::steady_timer lifetime_cap(io, std::chrono::seconds(lifetime));
    lifetime_cap.async_wait([&](boost::system::error_code) { io.stop(); });
    std::cout << "fault-peer ready" << std::endl;
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "kscprobe-fault-peer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
