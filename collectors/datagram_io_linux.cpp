// Reading datagrams and the socket error queue on Linux (recvmmsg, IP_RECVERR); CMake builds
// this file on Linux only: elsewhere nothing uses it.
#include <algorithm>

#include "collectors/datagram_io.hpp"

namespace kscprobe::detail {

namespace asio = boost::asio;

asio::ip::address address_of(const sockaddr_storage& storage, std::uint16_t* port) {
  if (storage.ss_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, &storage, sizeof sin6);
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &sin6.sin6_addr, bytes.size());
    if (port != nullptr) *port = ntohs(sin6.sin6_port);
    return asio::ip::address_v6(bytes, sin6.sin6_scope_id);
  }
  sockaddr_in sin;
  std::memcpy(&sin, &storage, sizeof sin);
  if (port != nullptr) *port = ntohs(sin.sin_port);
  return asio::ip::address_v4(ntohl(sin.sin_addr.s_addr));
}

socklen_t sockaddr_of(const PeerKey& key, std::uint32_t scope_id, sockaddr_storage* storage,
                      bool with_port) {
  std::memset(storage, 0, sizeof *storage);
  const std::uint16_t port = with_port ? htons(key.tag) : 0;
  if (key.v6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = port;
    std::memcpy(&sin6.sin6_addr, key.address.data(), 16);
    sin6.sin6_scope_id = scope_id;
    std::memcpy(storage, &sin6, sizeof sin6);
    return sizeof sin6;
  }
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = port;
  std::memcpy(&sin.sin_addr, key.address.data(), 4);
  std::memcpy(storage, &sin, sizeof sin);
  return sizeof sin;
}

Sent send_probe(PendingProbes& pending, PendingProbes::Entry& entry, int fd,
                const sockaddr_storage& to, socklen_t to_len, const void* data, std::size_t size) {
  int error = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (::sendto(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&to), to_len) >= 0) {
      entry.sent = true;
      entry.sent_at = std::chrono::steady_clock::now();
      return Sent::sent;
    }
    error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) return Sent::full;
  }
  DatagramOutcome outcome;
  outcome.kind = DatagramOutcome::Kind::error;
  outcome.error = error;
  outcome.done_at = std::chrono::steady_clock::now();
  pending.finish(&entry, outcome);
  return Sent::failed;
}

DatagramOutcome icmp_error_outcome(const cmsghdr* c, const sock_extended_err& ee,
                                   std::chrono::steady_clock::time_point now) {
  DatagramOutcome outcome;
  outcome.kind = DatagramOutcome::Kind::error;
  outcome.error = static_cast<int>(ee.ee_errno);
  outcome.icmp_type = ee.ee_type;
  outcome.icmp_code = ee.ee_code;
  outcome.done_at = now;
  // SO_EE_OFFENDER: the sender of the ICMP message follows the structure.
  const std::size_t offender_at = sizeof(sock_extended_err);
  if (c->cmsg_len >= CMSG_LEN(offender_at + sizeof(sockaddr_in))) {
    sockaddr_storage offender{};
    std::memcpy(&offender, CMSG_DATA(c) + offender_at,
                std::min<std::size_t>(sizeof offender, c->cmsg_len - CMSG_LEN(offender_at)));
    if (offender.ss_family == AF_INET || offender.ss_family == AF_INET6) {
      outcome.offender = address_of(offender);
    }
  }
  return outcome;
}

}  // namespace kscprobe::detail
