// IcmpMux on Linux: one raw or ping socket per address family, errors from the error queue.
// CMake builds this file on Linux and icmp_mux_other.cpp elsewhere.
// The module's own header first: <linux/errqueue.h> needs what it brings in (timespec).
// clang-format off
#include "collectors/icmp_prober.hpp"
// clang-format on

#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/datagram_io.hpp"
#include "collectors/deadline.hpp"

namespace kscprobe {

namespace asio = boost::asio;

namespace {

using Clock = std::chrono::steady_clock;
using detail::PendingProbes;
using detail::QueuedIcmpError;
using detail::Sent;

// Echo request: 8 bytes of header, then a recognisable payload (56 bytes in all, like ping).
constexpr std::size_t kEchoBytes = 56;
constexpr std::uint8_t kEchoRequest4 = 8, kEchoReply4 = 0;
constexpr std::uint8_t kEchoRequest6 = 128, kEchoReply6 = 129;
// ICMP errors that conclude a probe; others (redirect, source quench) say nothing of the host.
bool is_error_type(bool v6, std::uint8_t type) {
  return v6 ? (type == 1 || type == 3 || type == 4) : (type == 3 || type == 11 || type == 12);
}

std::uint16_t read16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// RFC 1071. Only IPv4 raw sockets need it: the kernel fills the checksum of ICMPv6 and of ping
// sockets.
std::uint16_t internet_checksum(const std::uint8_t* data, std::size_t size) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += read16(data + i);
  if (size % 2) sum += static_cast<std::uint32_t>(data[size - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

asio::ip::address address_from_bytes(bool v6, const std::uint8_t* p) {
  if (v6) {
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), p, bytes.size());
    return asio::ip::address_v6(bytes);
  }
  asio::ip::address_v4::bytes_type bytes;
  std::memcpy(bytes.data(), p, bytes.size());
  return asio::ip::address_v4(bytes);
}

std::string errno_text(int error) { return std::strerror(error); }

}  // namespace

struct IcmpMux::Impl : std::enable_shared_from_this<IcmpMux::Impl>,
                       detail::DatagramPump<IcmpMux::Impl> {
  struct Family {
    Family(const asio::any_io_executor& executor, bool is_v6) : descriptor(executor), v6(is_v6) {}
    asio::posix::stream_descriptor& io() { return descriptor; }
    asio::posix::stream_descriptor descriptor;
    bool v6;
    bool raw = false;  // else a ping socket
    bool write_waiting = false;
    bool reported = false;  // on_unavailable was called
    std::uint16_t next_sequence = 0;
    PendingProbes::Backlog backlog;
  };

  Impl(const asio::any_io_executor& ex, Options o)
      : executor(ex),
        options(std::move(o)),
        pending(PendingProbes::create(ex)),
        v4(ex, false),
        v6(ex, true) {
    std::random_device random;
    identifier = static_cast<std::uint16_t>(random());
  }

  // A ping socket or a raw socket, as the options allow; 0 or the errno of the last attempt.
  int open(Family& f) {
    if (f.descriptor.is_open()) return 0;
    const int domain = f.v6 ? AF_INET6 : AF_INET;
    const int protocol = f.v6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
    std::string why;
    int error = 0;
    int fd = -1;
    bool raw = false;
    if (options.kind != IcmpSocketKind::raw) {
      fd = ::socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
      if (fd < 0) {
        error = errno;
        why = "ping socket: " + errno_text(error) + " (net.ipv4.ping_group_range)";
      } else {
        // A ping socket hears of ICMP errors only through its error queue.
        const int one = 1;
        const int rc = f.v6 ? ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one)
                            : ::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
        if (rc != 0) {
          error = errno;
          why = "ping socket: IP_RECVERR: " + errno_text(error);
          ::close(fd);
          fd = -1;
        }
      }
    }
    if (fd < 0 && options.kind != IcmpSocketKind::ping) {
      fd = ::socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
      if (fd < 0) {
        error = errno;
        if (!why.empty()) why += "; ";
        why += "raw socket: " + errno_text(error) + " (CAP_NET_RAW)";
      } else {
        raw = true;
        set_filter(fd, f.v6);
      }
    }
    if (fd < 0) {
      if (!f.reported && options.on_unavailable) {
        f.reported = true;
        options.on_unavailable(std::string(kNoIcmpSocket) + " (" + (f.v6 ? "IPv6" : "IPv4") + ": " +
                               why + ")");
      }
      return error != 0 ? error : EPERM;
    }
    const int buffer_bytes = detail::kDatagramSocketBufferBytes;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
    boost::system::error_code ec;
    f.descriptor.assign(fd, ec);
    if (ec) {
      ::close(fd);
      return ec.value();
    }
    f.raw = raw;
    start_read(f);
    return 0;
  }

  // A raw socket receives every ICMP message for the host: keep only replies and errors.
  static void set_filter(int fd, bool v6) {
    if (v6) {
      icmp6_filter filter;
      ICMP6_FILTER_SETBLOCKALL(&filter);
      ICMP6_FILTER_SETPASS(kEchoReply6, &filter);
      ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filter);
      ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &filter);
      ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &filter);
      ::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    } else {
      // ICMP_FILTER of <linux/icmp.h> (SOL_RAW, option 1): a bit set blocks that type.
      constexpr int kIcmpFilter = 1;
      std::uint32_t blocked = ~((1u << kEchoReply4) | (1u << 3) | (1u << 11) | (1u << 12));
      ::setsockopt(fd, SOL_RAW, kIcmpFilter, &blocked, sizeof blocked);
    }
  }

  std::uint16_t next_sequence(Family& f, const asio::ip::address& target) {
    // Skips a sequence still pending for this target (after 65 536 probes within a timeout).
    for (int i = 0; i < 16; ++i) {
      std::uint16_t sequence = f.next_sequence++;
      if (!pending->waiting_for(PeerKey::of(target, sequence))) return sequence;
    }
    return f.next_sequence++;
  }

  Sent try_send(Family& f, PendingProbes::Entry& entry) {
    std::array<std::uint8_t, kEchoBytes> packet{};
    packet[0] = f.v6 ? kEchoRequest6 : kEchoRequest4;
    packet[4] = static_cast<std::uint8_t>(identifier >> 8);
    packet[5] = static_cast<std::uint8_t>(identifier);
    packet[6] = static_cast<std::uint8_t>(entry.key.tag >> 8);
    packet[7] = static_cast<std::uint8_t>(entry.key.tag);
    static constexpr std::string_view kPayload = "kscprobe host reachability";
    std::memcpy(packet.data() + 8, kPayload.data(), kPayload.size());
    if (!f.v6 && f.raw) {
      std::uint16_t sum = internet_checksum(packet.data(), packet.size());
      packet[2] = static_cast<std::uint8_t>(sum >> 8);
      packet[3] = static_cast<std::uint8_t>(sum);
    }
    sockaddr_storage to;
    socklen_t to_len = detail::sockaddr_of(entry.key, entry.scope_id, &to, /*with_port=*/false);
    return detail::send_probe(*pending, entry, f.descriptor.native_handle(), to, to_len,
                              packet.data(), packet.size());
  }

  bool read_one(Family& f) { return (!f.raw && read_error(f)) || read_packet(f); }

  // Ping sockets: one ICMP error from the error queue; false when it is empty. The data is the
  // echo request the error quotes; msg_name its destination.
  bool read_error(Family& f) {
    return detail::read_error_queue(f.descriptor.native_handle(), [&](const QueuedIcmpError& e) {
      if (!is_error_type(f.v6, e.ee.ee_type) || e.size < 8) return;
      pending->finish_key(PeerKey::of(detail::address_of(e.destination), read16(e.data + 6)),
                          e.outcome);
    });
  }

  // One ICMP message (an echo reply, or on a raw socket also an error); false when none waits.
  bool read_packet(Family& f) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    ssize_t n = ::recvfrom(f.descriptor.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      const int error = errno;
      return error != EAGAIN && error != EWOULDBLOCK;  // else the socket's pending error
    }
    const auto now = Clock::now();
    const std::uint8_t* icmp = buffer.data();
    std::size_t size = static_cast<std::size_t>(n);
    if (f.raw && !f.v6) {
      // An IPv4 raw socket reads the IP header too.
      if (size < 20) return true;
      const std::size_t header = static_cast<std::size_t>(icmp[0] & 0x0f) * 4;
      if (size < header + 8) return true;
      icmp += header;
      size -= header;
    }
    if (size < 8) return true;
    const std::uint8_t type = icmp[0];
    if (type == (f.v6 ? kEchoReply6 : kEchoReply4)) {
      // A ping socket only delivers replies to its own identifier, which the kernel chose.
      if (f.raw && read16(icmp + 4) != identifier) return true;
      DatagramOutcome outcome;
      outcome.kind = DatagramOutcome::Kind::reply;
      outcome.done_at = now;
      pending->finish_key(PeerKey::of(detail::address_of(from), read16(icmp + 6)), outcome);
      return true;
    }
    if (!f.raw || !is_error_type(f.v6, type)) return true;
    // An error quotes the IP header of the request and its first 8 bytes: the echo header.
    const std::uint8_t* inner = icmp + 8;
    const std::size_t inner_size = size - 8;
    const std::uint8_t* quoted = nullptr;
    const std::uint8_t* destination = nullptr;
    if (f.v6) {
      if (inner_size < 40 + 8 || inner[6] != IPPROTO_ICMPV6) return true;
      destination = inner + 24;
      quoted = inner + 40;
      if (quoted[0] != kEchoRequest6) return true;
    } else {
      if (inner_size < 20) return true;
      const std::size_t header = static_cast<std::size_t>(inner[0] & 0x0f) * 4;
      if (inner_size < header + 8 || inner[9] != IPPROTO_ICMP) return true;
      destination = inner + 16;
      quoted = inner + header;
      if (quoted[0] != kEchoRequest4) return true;
    }
    if (read16(quoted + 4) != identifier) return true;
    DatagramOutcome outcome;
    outcome.kind = DatagramOutcome::Kind::error;
    outcome.error = EHOSTUNREACH;
    outcome.icmp_type = type;
    outcome.icmp_code = icmp[1];
    outcome.offender = detail::address_of(from);
    outcome.done_at = now;
    pending->finish_key(PeerKey::of(address_from_bytes(f.v6, destination), read16(quoted + 6)),
                        outcome);
    return true;
  }

  void close() { close_all(v4, v6); }

  asio::any_io_executor executor;
  Options options;
  std::shared_ptr<PendingProbes> pending;
  Family v4;
  Family v6;
  std::uint16_t identifier = 0;  // of raw sockets' requests
  bool closed = false;
  std::array<std::uint8_t, 2048> buffer{};
};

IcmpMux::IcmpMux(asio::any_io_executor executor) : IcmpMux(std::move(executor), Options{}) {}

IcmpMux::IcmpMux(asio::any_io_executor executor, Options options)
    : impl_(std::make_shared<Impl>(executor, std::move(options))) {}

IcmpMux::~IcmpMux() { impl_->close(); }

void IcmpMux::start(const asio::ip::address& target, Clock::duration timeout,
                    Clock::time_point deadline, PendingProbes::Handler handler) {
  Impl& im = *impl_;
  asio::ip::address to = target;
  if (to.is_v6() && to.to_v6().is_v4_mapped()) {
    to = asio::ip::make_address_v4(asio::ip::v4_mapped, to.to_v6());
  }
  Impl::Family& f = to.is_v6() ? im.v6 : im.v4;
  DatagramOutcome outcome;
  if (im.closed) {
    outcome.kind = DatagramOutcome::Kind::cancelled;
  } else if (int error = im.open(f); error != 0) {
    outcome.kind = DatagramOutcome::Kind::no_socket;
    outcome.error = error;
  } else {
    const PeerKey key = PeerKey::of(to, im.next_sequence(f, to));
    PendingProbes::Entry* entry = im.pending->add(key, timeout, deadline, std::move(handler));
    if (entry == nullptr) return;
    if (to.is_v6()) entry->scope_id = to.to_v6().scope_id();
    im.send_or_queue(f, *entry);
    return;
  }
  outcome.done_at = Clock::now();
  im.pending->post_completion(std::move(handler), outcome);
}

std::string_view IcmpMux::socket_kind(bool v6) const {
  const Impl::Family& f = v6 ? impl_->v6 : impl_->v4;
  if (!f.descriptor.is_open()) return "";
  return f.raw ? "raw" : "ping";
}

std::size_t IcmpMux::pending() const { return impl_->pending->size(); }

}  // namespace kscprobe
