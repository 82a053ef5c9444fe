#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/probe_result.hpp"
#include "config/catalog.hpp"
#include "simulator/self_signed.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace kscprobe::sim {

/// How the simulated estate is laid out on this host.
struct EstateOptions {
  /// First two octets of every listener address: listeners bind `<prefix>.x.y` (loopback).
  std::string address_prefix = "127.77";
  /// false: the real KSC default ports (demo mode). true: every listener binds port 0 and the
  /// chosen ports are written into config_toml(), so concurrent tests never collide.
  bool ephemeral_ports = false;
};

/// What a correct prober must report for one planned check of the simulated estate.
struct Expectation {
  std::string target;
  std::string check;
  bool success = false;
  Reason reason = Reason::none;
  /// UDP only: the simulator answers datagrams on this check.
  bool udp_reply = false;
};

/// How the simulator answers on one check's port.
enum class Behaviour : std::uint8_t {
  tcp_open,      ///< accepts, then closes after the peer does (10 s idle cap)
  tls,           ///< completes a TLS handshake, then waits for the peer to close
  https,         ///< HTTPS server with a fixed status (metrics body on /metrics if enabled)
  udp_silent,    ///< reads and discards datagrams
  udp_echo,      ///< sends every datagram back
  never_speaks,  ///< accepts TCP and never sends anything (30 s cap)
  garbage,       ///< accepts TCP, sends bytes that are not TLS, closes
  closed,        ///< nothing listening: TCP RST / ICMP port unreachable
};

/// One check of the estate as served, after start().
struct ServedCheck {
  std::string target;
  std::string check;
  std::string address;
  std::uint16_t port = 0;
  Transport transport = Transport::tcp;
  Behaviour behaviour = Behaviour::closed;
  /// HTTPS: the status code every request gets (except /metrics when it serves metrics).
  int http_status = 0;
};

/**
 * A simulated Kaspersky Security Center estate on loopback addresses: administration servers,
 * distribution points, agents, a Web Console and a database, some deliberately broken, so that
 * the daemon's demo mode and the end-to-end tests have something realistic to probe.
 *
 * Runs on the caller's io_context, which must outlive it; every member function must be called
 * from the thread that runs that context. Nothing a peer sends can make a handler throw, and
 * concurrent TCP sessions are capped (512), each with idle and total time limits.
 */
class EstateSimulator {
 public:
  EstateSimulator(boost::asio::io_context& io, EstateOptions options = {});
  ~EstateSimulator();
  EstateSimulator(const EstateSimulator&) = delete;
  EstateSimulator& operator=(const EstateSimulator&) = delete;

  /// Generates certificates and binds every listener. Throws std::runtime_error naming the
  /// address:port and the error on the first bind failure (nothing stays bound then).
  void start();
  /// Closes every listener and cancels every session. Idempotent; also done by the destructor.
  void stop();
  bool running() const;

  /// A complete kscprobe TOML configuration describing the estate (valid after start() when
  /// ephemeral_ports, since it contains the bound ports).
  std::string config_toml() const;
  /// One entry per check that config_toml() plans, in the same order.
  std::vector<Expectation> expectations() const;
  /// Every planned check with its address, port and behaviour.
  std::vector<ServedCheck> served_checks() const;
  /// The served check, or nullptr if the estate has no such target/check.
  const ServedCheck* find(std::string_view target, std::string_view check) const;
  /// Certificate of a TLS or HTTPS listener (after start()), or nullptr for other checks.
  const Credentials* credentials(std::string_view target, std::string_view check) const;
  /// Number of TCP sessions open right now (for tests of the session cap and of stop()).
  std::size_t active_sessions() const;

  const EstateOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Writes `target\tcheck\tsuccess(0/1)\treason` lines, one per expectation, no header line.
void write_expectations_tsv(std::ostream& out, const std::vector<Expectation>& expectations);
/// Same as write_expectations_tsv, into a string.
std::string expectations_tsv(const std::vector<Expectation>& expectations);

}  // namespace kscprobe::sim
