#pragma once
// What the sockets of DatagramMux (UDP) and IcmpMux (ICMP echo) share, on Linux: socket
// addresses, sends that see past a pending error, the ICMP errors of an error queue, and the
// loops that send with a backlog and read within a budget.
#if defined(__linux__)
// linux/errqueue.h uses timespec without including its definition.
// clang-format off
#include <time.h>
#include <linux/errqueue.h>
// clang-format on
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "collectors/datagram_mux.hpp"

namespace kscprobe::detail {

/// Socket buffers large enough for bursts of thousands of probes and of the ICMP errors they
/// bring back; the kernel caps the request at net.core.rmem_max / wmem_max.
inline constexpr int kDatagramSocketBufferBytes = 4 << 20;

boost::asio::ip::address address_of(const sockaddr_storage& storage, std::uint16_t* port = nullptr);

/// The socket address of `key`, with its tag as the port when `with_port` (UDP; ICMP has none).
socklen_t sockaddr_of(const PeerKey& key, std::uint32_t scope_id, sockaddr_storage* storage,
                      bool with_port);

/// What became of an attempt to send a probe's datagram.
enum class Sent { sent, full, failed };

/// Sends `size` bytes to `to` for `entry`: marks it sent, or on an error finishes it (`failed`:
/// the entry is gone), or says the send buffer is `full`. sendto() on a socket with IP_RECVERR
/// also reports the socket's pending error, the errno of the last ICMP error received about any
/// destination (the error queue has it in full); that call sends nothing and clears it, so the
/// send is tried again to tell whether the failure is this datagram's own.
Sent send_probe(PendingProbes& pending, PendingProbes::Entry& entry, int fd,
                const sockaddr_storage& to, socklen_t to_len, const void* data, std::size_t size);

/// One ICMP error read from an error queue (IP_RECVERR): the datagram it quotes went to
/// `destination` (`data` holds its first `size` bytes), and `outcome` concludes its probe.
struct QueuedIcmpError {
  const sock_extended_err& ee;
  const sockaddr_storage& destination;
  const std::uint8_t* data;
  std::size_t size;
  const DatagramOutcome& outcome;
};

/// The outcome an ICMP error gives a probe, from the control message `c` that carries `ee`
/// (and, after it, the address of the error's sender).
DatagramOutcome icmp_error_outcome(const cmsghdr* c, const sock_extended_err& ee,
                                   std::chrono::steady_clock::time_point now);

/// Reads one message of `fd`'s error queue and calls `each(const QueuedIcmpError&)` for every
/// ICMP error it carries (local errors were already returned by sendto()). False when the queue
/// is empty.
template <class Each>
bool read_error_queue(int fd, Each&& each) {
  sockaddr_storage from{};
  alignas(cmsghdr) char control[512];
  std::uint8_t data[64];
  iovec iov{data, sizeof data};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
  if (n < 0) return errno == EINTR;
  const auto now = std::chrono::steady_clock::now();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    const bool recverr = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                         (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
    if (!recverr) continue;
    sock_extended_err ee;
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6) continue;
    // msg_name is the destination of the datagram the error is about.
    each(QueuedIcmpError{ee, from, data, static_cast<std::size_t>(n),
                         icmp_error_outcome(c, ee, now)});
  }
  return true;
}

/// The send and read loops of a mux over its sockets. Derived (owned by a shared_ptr, with
/// enable_shared_from_this) provides `executor`, `closed`, `pending` (its PendingProbes), and
///   Sent try_send(Family&, PendingProbes::Entry&);
///   bool read_one(Family&);  // handled one message; false when nothing is left to read
/// and each Family `io()` (its socket or descriptor), `bool write_waiting` and
/// `PendingProbes::Backlog backlog`.
template <class Derived>
class DatagramPump {
 public:
  /// Messages read in one turn of the loop before other work gets a turn.
  static constexpr int kReadBudget = 256;

  /// Sends now, or behind the datagrams already waiting for room, in order.
  template <class Family>
  void send_or_queue(Family& f, PendingProbes::Entry& entry) {
    if (!f.backlog.empty()) {
      f.backlog.push_back(entry);
      return;
    }
    if (self().try_send(f, entry) == Sent::full) {
      f.backlog.push_back(entry);
      wait_writable(f);
    }
  }

  /// Reads when the socket is readable, which it also is when the error queue holds an ICMP
  /// error (EPOLLERR wakes every waiter).
  template <class Family>
  void start_read(Family& f) {
    using Io = std::remove_reference_t<decltype(f.io())>;
    f.io().async_wait(Io::wait_read,
                      [s = self().shared_from_this(), &f](const boost::system::error_code& ec) {
                        if (ec || s->closed) return;
                        s->drain(f);
                      });
  }

  template <class Family>
  void wait_writable(Family& f) {
    if (f.write_waiting) return;
    f.write_waiting = true;
    using Io = std::remove_reference_t<decltype(f.io())>;
    f.io().async_wait(Io::wait_write,
                      [s = self().shared_from_this(), &f](const boost::system::error_code& ec) {
                        f.write_waiting = false;
                        if (ec || s->closed) return;
                        s->flush(f);
                      });
  }

  template <class Family>
  void flush(Family& f) {
    while (!f.backlog.empty()) {
      PendingProbes::Entry& entry = f.backlog.front();
      entry.backlog_hook.unlink();
      if (self().try_send(f, entry) == Sent::full) {
        f.backlog.push_front(entry);
        wait_writable(f);
        return;
      }
    }
  }

  /// Completes every probe as cancelled and closes the sockets; later probes complete at once.
  template <class... Families>
  void close_all(Families&... families) {
    self().closed = true;
    self().pending->close();
    boost::system::error_code ignored;
    (families.io().close(ignored), ...);
  }

  template <class Family>
  void drain(Family& f) {
    for (int i = 0; i < kReadBudget; ++i) {
      if (self().read_one(f)) continue;
      start_read(f);
      return;
    }
    boost::asio::post(self().executor, [s = self().shared_from_this(), &f] {
      if (!s->closed) s->drain(f);
    });
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace kscprobe::detail
#endif
