#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "collectors/datagram_mux.hpp"
#include "collectors/probe_result.hpp"
#include "collectors/prober.hpp"
#include "config/plan.hpp"

namespace kscprobe {

/// Which ICMP socket IcmpMux opens.
enum class IcmpSocketKind : std::uint8_t {
  automatic,  ///< a ping socket if net.ipv4.ping_group_range allows, else a raw socket
  ping,       ///< only an unprivileged ping socket (SOCK_DGRAM, IPPROTO_ICMP / IPPROTO_ICMPV6)
  raw,        ///< only a raw socket (needs CAP_NET_RAW)
};

/// The detail of an ICMP check that found no usable socket.
inline constexpr std::string_view kNoIcmpSocket =
    "no ICMP socket: set net.ipv4.ping_group_range or grant CAP_NET_RAW";

/// One ICMP socket per address family, opened on first use, for every ICMP echo probe; the
/// same deadline queue as DatagramMux. Echo replies are matched by (source address, sequence)
/// and, on a raw socket, the identifier; ICMP errors by the destination and sequence of the
/// request they quote. On a ping socket the kernel sets the identifier to the socket's own and
/// delivers only the replies carrying it. Linux only: elsewhere every probe ends as no_socket.
class IcmpMux {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    IcmpSocketKind kind = IcmpSocketKind::automatic;
    /// Called once per address family when no socket can be opened, with the error.
    std::function<void(const std::string&)> on_unavailable;
  };

  explicit IcmpMux(boost::asio::any_io_executor executor);
  IcmpMux(boost::asio::any_io_executor executor, Options options);
  /// Completes the probes still waiting as cancelled.
  ~IcmpMux();
  IcmpMux(const IcmpMux&) = delete;
  IcmpMux& operator=(const IcmpMux&) = delete;

  /// Sends one echo request to `target` and completes with the reply, the ICMP error or the
  /// silence that came back by `deadline` (`timeout` after the probe started). Honours
  /// per-operation cancellation by completing at once with Kind::cancelled.
  template <class Token>
  auto async_echo(const boost::asio::ip::address& target, Clock::duration timeout,
                  Clock::time_point deadline, Token&& token) {
    return boost::asio::async_initiate<Token, void(DatagramOutcome)>(
        [this](auto handler, const boost::asio::ip::address& to, Clock::duration after,
               Clock::time_point until) {
          start(to, after, until, detail::PendingProbes::Handler(std::move(handler)));
        },
        token, target, timeout, deadline);
  }

  /// The socket opened for a family: "ping", "raw", or "" (none yet, or none possible).
  std::string_view socket_kind(bool v6) const;
  /// Probes waiting for an answer.
  std::size_t pending() const;

 private:
  struct Impl;
  void start(const boost::asio::ip::address& target, Clock::duration timeout,
             Clock::time_point deadline, detail::PendingProbes::Handler handler);
  std::shared_ptr<Impl> impl_;
};

/// ICMP echo check (transport icmp, no port): one echo request on env.icmp's shared socket.
/// A reply: success, "echo reply", the round trip as the request phase. An ICMP error (host,
/// network, administratively prohibited, time exceeded...) or a send refused by the routing
/// table: Reason::unreachable. Silence until the deadline: Reason::timeout. No usable socket:
/// a local fault (LocalFault::icmp_permission, or fd_limit / memory when that is why), with
/// kNoIcmpSocket in the detail: no verdict on the target.
boost::asio::awaitable<ProbeResult> probe_icmp(const CheckSpec& spec, ProbeEnv& env);

/// Human text of an ICMP error message, "host unreachable", "communication administratively
/// prohibited", ... (`v6`: ICMPv6 types and codes).
std::string icmp_error_text(bool v6, std::uint8_t type, std::uint8_t code);

}  // namespace kscprobe
