// DatagramMux on Linux: one UDP socket per address family for every UDP probe, ICMP errors from
// the error queue. CMake builds this file on Linux and datagram_mux_other.cpp elsewhere.
// The module's own header first: <linux/errqueue.h> needs what it brings in (timespec).
// clang-format off
#include "collectors/datagram_mux.hpp"
// clang-format on

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

#include "collectors/datagram_io.hpp"
#include "collectors/wake_grid.hpp"

namespace kscprobe {

namespace asio = boost::asio;

namespace {

using asio::ip::udp;
using Clock = std::chrono::steady_clock;
using detail::PendingProbes;
using detail::QueuedIcmpError;
using detail::Sent;

}  // namespace

struct DatagramMux::Impl : std::enable_shared_from_this<DatagramMux::Impl>,
                           detail::DatagramPump<DatagramMux::Impl> {
  struct Family {
    Family(const asio::any_io_executor& executor, bool is_v6) : socket(executor), v6(is_v6) {}
    udp::socket& io() { return socket; }
    udp::socket socket;
    bool v6;
    bool write_waiting = false;
    PendingProbes::Backlog backlog;  // datagrams waiting for room in the send buffer, in order
  };

  explicit Impl(const asio::any_io_executor& ex)
      : executor(ex), pending(PendingProbes::create(ex)), v4(ex, false), v6(ex, true) {}

  int open(Family& f) {
    if (f.socket.is_open()) return 0;
    boost::system::error_code ec;
    f.socket.open(f.v6 ? udp::v6() : udp::v4(), ec);
    if (ec) return ec.value();
    const int fd = f.socket.native_handle();
    const int one = 1;
    int rc = 0;
    if (f.v6) {
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      rc = ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
    } else {
      rc = ::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
    }
    // Without IP_RECVERR an unconnected socket hears of no ICMP error at all.
    if (rc != 0) {
      const int error = errno;
      f.socket.close(ec);
      return error;
    }
    const int buffer_bytes = detail::kDatagramSocketBufferBytes;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
    f.socket.bind(udp::endpoint(f.v6 ? udp::v6() : udp::v4(), 0), ec);
    if (!ec) f.socket.non_blocking(true, ec);
    if (ec) {
      boost::system::error_code ignored;
      f.socket.close(ignored);
      return ec.value();
    }
    start_read(f);
    return 0;
  }

  // Sends the entry's datagram (see detail::send_probe).
  Sent try_send(Family& f, PendingProbes::Entry& entry) {
    sockaddr_storage to;
    socklen_t to_len = detail::sockaddr_of(entry.key, entry.scope_id, &to, /*with_port=*/true);
    return detail::send_probe(*pending, entry, f.socket.native_handle(), to, to_len,
                              entry.payload.data(), entry.payload.size());
  }

  bool read_one(Family& f) { return read_error(f) || read_reply(f); }

  // One message of the error queue; false when it is empty.
  bool read_error(Family& f) {
    return detail::read_error_queue(f.socket.native_handle(), [&](const QueuedIcmpError& e) {
      std::uint16_t port = 0;
      auto destination = detail::address_of(e.destination, &port);
      pending->finish_key(PeerKey::of(destination, port), e.outcome);
    });
  }

  // One datagram; false when none is waiting.
  bool read_reply(Family& f) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    ssize_t n = ::recvfrom(f.socket.native_handle(), buffer.data(), buffer.size(),
                           MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      const int error = errno;
      // Anything else is the socket's pending error, reported in full by the error queue.
      return error != EAGAIN && error != EWOULDBLOCK;
    }
    std::uint16_t port = 0;
    auto source = detail::address_of(from, &port);
    DatagramOutcome outcome;
    outcome.kind = DatagramOutcome::Kind::reply;
    outcome.done_at = Clock::now();
    pending->finish_key(PeerKey::of(source, port), outcome);
    return true;
  }

  void close() { close_all(v4, v6); }

  asio::any_io_executor executor;
  std::shared_ptr<PendingProbes> pending;
  Family v4;
  Family v6;
  bool closed = false;
  std::array<char, 2048> buffer{};
};

DatagramMux::DatagramMux(asio::any_io_executor executor)
    : impl_(std::make_shared<Impl>(executor)) {}

DatagramMux::~DatagramMux() { impl_->close(); }

void DatagramMux::start(const udp::endpoint& peer, std::string_view payload,
                        Clock::duration timeout, Clock::time_point deadline,
                        PendingProbes::Handler handler) {
  Impl& im = *impl_;
  const PeerKey key = PeerKey::of(peer.address(), peer.port());
  Impl::Family& f = key.v6 ? im.v6 : im.v4;
  DatagramOutcome outcome;
  if (im.closed) {
    outcome.kind = DatagramOutcome::Kind::cancelled;
  } else if (int error = im.open(f); error != 0) {
    outcome.kind = DatagramOutcome::Kind::no_socket;
    outcome.error = error;
  } else {
    PendingProbes::Entry* entry = im.pending->add(key, timeout, deadline, std::move(handler));
    if (entry == nullptr) return;
    entry->payload = payload;
    if (key.v6) entry->scope_id = peer.address().to_v6().scope_id();
    im.send_or_queue(f, *entry);
    return;
  }
  outcome.done_at = Clock::now();
  im.pending->post_completion(std::move(handler), outcome);
}

std::size_t DatagramMux::pending() const { return impl_->pending->size(); }

int DatagramMux::open_sockets() const {
  return (impl_->v4.socket.is_open() ? 1 : 0) + (impl_->v6.socket.is_open() ? 1 : 0);
}

}  // namespace kscprobe
