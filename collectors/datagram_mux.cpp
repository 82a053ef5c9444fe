#include "collectors/datagram_mux.hpp"

#include <boost/asio/post.hpp>
#include <cstring>
#include <utility>

#include "collectors/wake_grid.hpp"

#if defined(__linux__)
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#endif

namespace kscprobe {

namespace asio = boost::asio;

PeerKey PeerKey::of(const asio::ip::address& address, std::uint16_t tag) {
  PeerKey key;
  key.tag = tag;
  if (address.is_v4()) {
    auto bytes = address.to_v4().to_bytes();
    std::memcpy(key.address.data(), bytes.data(), bytes.size());
  } else {
    auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) {
      auto bytes = asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes();
      std::memcpy(key.address.data(), bytes.data(), bytes.size());
    } else {
      key.v6 = true;
      key.address = v6.to_bytes();
    }
  }
  return key;
}

std::size_t PeerKeyHash::operator()(const PeerKey& key) const noexcept {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  std::memcpy(&low, key.address.data(), 8);
  std::memcpy(&high, key.address.data() + 8, 8);
  std::uint64_t h = low ^ (high * 0x9e3779b97f4a7c15ull) ^
                    (static_cast<std::uint64_t>(key.tag) << 48) ^ (key.v6 ? 1ull << 47 : 0);
  // splitmix64's finalizer: every input bit reaches every output bit.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<std::size_t>(h);
}

namespace detail {

namespace {

// Under load the timer does not wake for every single deadline: it wakes on the loop's wake grid
// (wake_grid.hpp), at least this much after it last fired, and every probe due by then ends in
// the same turn.
constexpr auto kTimerCoalescing = std::chrono::milliseconds(4);
// Beyond this many deadline FIFOs, the empty ones are dropped.
constexpr std::size_t kFifosKept = 8;

}  // namespace

struct PendingProbes::Fifo {
  Clock::duration timeout{};
  boost::intrusive::list<Entry, boost::intrusive::member_hook<Entry, Hook, &Entry::deadline_hook>,
                         boost::intrusive::constant_time_size<false>>
      list;
};

// Lives in the caller's cancellation slot while the probe waits. A probe finished otherwise
// clears the slot (destroying this); one finished from here leaves it in place, disarmed, until
// the caller's next operation replaces it.
struct PendingProbes::CancelHandler {
  CancelHandler(PendingProbes* o, Entry* e) : owner(o), entry(e) {}
  void operator()(asio::cancellation_type type) {
    if (entry == nullptr || type == asio::cancellation_type::none) return;
    Entry* e = std::exchange(entry, nullptr);
    DatagramOutcome outcome;
    outcome.kind = DatagramOutcome::Kind::cancelled;
    owner->finish(e, outcome, /*from_slot=*/true);
  }
  PendingProbes* owner;
  Entry* entry;
};

std::shared_ptr<PendingProbes> PendingProbes::create(const asio::any_io_executor& executor) {
  return std::shared_ptr<PendingProbes>(new PendingProbes(executor));
}

PendingProbes::PendingProbes(const asio::any_io_executor& executor)
    : executor_(executor), timer_(executor) {}

PendingProbes::~PendingProbes() { close(); }

PendingProbes::Entry* PendingProbes::add(const PeerKey& key, Clock::duration timeout,
                                         Clock::time_point deadline, Handler handler) {
  if (closed_) {
    DatagramOutcome outcome;
    outcome.kind = DatagramOutcome::Kind::cancelled;
    post_completion(std::move(handler), outcome);
    return nullptr;
  }
  auto* entry = new Entry(std::move(handler));
  entry->key = key;
  entry->deadline = deadline;

  auto [it, inserted] = by_key_.try_emplace(key, entry);
  entry->keyed = true;
  if (!inserted) {
    Entry* last = it->second;
    while (last->next_same != nullptr) last = last->next_same;
    last->next_same = entry;
  }

  Fifo* fifo = nullptr;
  for (auto& f : fifos_) {
    if (f->timeout == timeout) {
      fifo = f.get();
      break;
    }
  }
  if (fifo == nullptr) {
    fifos_.push_back(std::make_unique<Fifo>());
    fifo = fifos_.back().get();
    fifo->timeout = timeout;
  }
  // Probes of one timeout start in order, so the new one nearly always goes last; one whose
  // name took a while to resolve started earlier and moves forward past the later ones.
  auto position = fifo->list.end();
  while (position != fifo->list.begin()) {
    auto previous = std::prev(position);
    if (previous->deadline <= deadline) break;
    position = previous;
  }
  fifo->list.insert(position, *entry);
  ++size_;

  entry->slot = asio::get_associated_cancellation_slot(entry->handler);
  if (entry->slot.is_connected()) entry->slot.template emplace<CancelHandler>(this, entry);
  arm(on_wake_grid(deadline));
  return entry;
}

std::size_t PendingProbes::finish_key(const PeerKey& key, const DatagramOutcome& outcome) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return 0;
  Entry* entry = it->second;
  by_key_.erase(it);
  std::size_t count = 0;
  while (entry != nullptr) {
    Entry* next = std::exchange(entry->next_same, nullptr);
    entry->keyed = false;  // out of the map already
    finish(entry, outcome, /*from_slot=*/false);
    entry = next;
    ++count;
  }
  return count;
}

void PendingProbes::finish(Entry* entry, DatagramOutcome outcome) {
  finish(entry, std::move(outcome), /*from_slot=*/false);
}

void PendingProbes::unlink_key(Entry* entry) {
  if (!entry->keyed) return;
  entry->keyed = false;
  auto it = by_key_.find(entry->key);
  if (it == by_key_.end()) return;
  if (it->second == entry) {
    if (entry->next_same == nullptr) {
      by_key_.erase(it);
    } else {
      it->second = entry->next_same;
    }
    return;
  }
  for (Entry* p = it->second; p->next_same != nullptr; p = p->next_same) {
    if (p->next_same == entry) {
      p->next_same = entry->next_same;
      return;
    }
  }
}

void PendingProbes::finish(Entry* entry, DatagramOutcome outcome, bool from_slot) {
  unlink_key(entry);
  entry->deadline_hook.unlink();
  entry->backlog_hook.unlink();
  --size_;
  if (!from_slot && entry->slot.is_connected()) entry->slot.clear();
  outcome.sent = entry->sent;
  outcome.sent_at = entry->sent_at;
  Handler handler = std::move(entry->handler);
  delete entry;
  post_completion(std::move(handler), std::move(outcome));
}

void PendingProbes::post_completion(Handler handler, DatagramOutcome outcome) {
  // Posted, never run inline: the probe's coroutine may start another probe at once, and must
  // not do so while this class walks its lists. The executor is the probes' own (one loop).
  asio::post(executor_, [handler = std::move(handler), outcome = std::move(outcome)]() mutable {
    std::move(handler)(std::move(outcome));
  });
}

void PendingProbes::arm(Clock::time_point at) {
  if (closed_ || (timer_waiting_ && timer_at_ <= at)) return;
  timer_at_ = at;
  timer_waiting_ = true;
  const std::uint64_t generation = ++timer_generation_;
  timer_.expires_at(at);  // a wait for a later time completes as aborted, and is ignored
  timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code&) {
    self->on_timer(generation);
  });
}

void PendingProbes::on_timer(std::uint64_t generation) {
  if (generation != timer_generation_) return;
  timer_waiting_ = false;
  if (closed_) return;
  const auto now = Clock::now();
  auto next = Clock::time_point::max();
  for (auto& fifo : fifos_) {
    while (!fifo->list.empty() && fifo->list.front().deadline <= now) {
      Entry& entry = fifo->list.front();
      DatagramOutcome outcome;
      outcome.kind = entry.sent ? DatagramOutcome::Kind::silence : DatagramOutcome::Kind::unsent;
      finish(&entry, outcome, /*from_slot=*/false);
    }
    if (!fifo->list.empty()) next = std::min(next, fifo->list.front().deadline);
  }
  // Timeouts come from the configuration (and /probe's scrape budget): a few at a time, but a
  // reload can leave some unused for good.
  if (fifos_.size() > kFifosKept) {
    std::erase_if(fifos_, [](const std::unique_ptr<Fifo>& f) { return f->list.empty(); });
  }
  if (next != Clock::time_point::max()) arm(on_wake_grid(std::max(next, now + kTimerCoalescing)));
}

void PendingProbes::close() {
  if (closed_) return;
  closed_ = true;
  ++timer_generation_;
  timer_.cancel();
  timer_waiting_ = false;
  for (auto& fifo : fifos_) {
    while (!fifo->list.empty()) {
      DatagramOutcome outcome;
      outcome.kind = DatagramOutcome::Kind::cancelled;
      finish(&fifo->list.front(), outcome, /*from_slot=*/false);
    }
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// DatagramMux

#if defined(__linux__)

namespace {

using asio::ip::udp;
using Clock = std::chrono::steady_clock;
using detail::PendingProbes;

// Large enough for bursts of thousands of probes and of the ICMP errors they bring back; the
// kernel caps the request at net.core.rmem_max / wmem_max.
constexpr int kSocketBufferBytes = 4 << 20;
// Datagrams and errors read in one turn of the loop before other work gets a turn.
constexpr int kReadBudget = 256;

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

socklen_t sockaddr_of(const PeerKey& key, std::uint32_t scope_id, sockaddr_storage* storage) {
  std::memset(storage, 0, sizeof *storage);
  if (key.v6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(key.tag);
    std::memcpy(&sin6.sin6_addr, key.address.data(), 16);
    sin6.sin6_scope_id = scope_id;
    std::memcpy(storage, &sin6, sizeof sin6);
    return sizeof sin6;
  }
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(key.tag);
  std::memcpy(&sin.sin_addr, key.address.data(), 4);
  std::memcpy(storage, &sin, sizeof sin);
  return sizeof sin;
}

// sendto() on a socket with IP_RECVERR also reports the socket's pending error: the errno of
// the last ICMP error received, about any destination (the error queue has it in full, with
// its destination). That call sends nothing and clears the pending error, so a second attempt
// tells whether the failure is this datagram's own.
int send_datagram(int fd, const sockaddr_storage& to, socklen_t to_len, std::string_view data) {
  int error = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t n = ::sendto(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                         reinterpret_cast<const sockaddr*>(&to), to_len);
    if (n >= 0) return 0;
    error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) return error;
  }
  return error;
}

}  // namespace

struct DatagramMux::Impl : std::enable_shared_from_this<DatagramMux::Impl> {
  struct Family {
    Family(const asio::any_io_executor& executor, bool is_v6) : socket(executor), v6(is_v6) {}
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
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBufferBytes, sizeof kSocketBufferBytes);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBufferBytes, sizeof kSocketBufferBytes);
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

  enum class Sent { sent, full, failed };

  // Sends the entry's datagram. `failed` finishes the entry (it is gone); on `full` the caller
  // queues it and waits for room.
  Sent try_send(Family& f, PendingProbes::Entry& entry) {
    sockaddr_storage to;
    socklen_t to_len = sockaddr_of(entry.key, entry.scope_id, &to);
    int error = send_datagram(f.socket.native_handle(), to, to_len, entry.payload);
    if (error == 0) {
      entry.sent = true;
      entry.sent_at = Clock::now();
      return Sent::sent;
    }
    if (error == EAGAIN || error == EWOULDBLOCK) return Sent::full;
    DatagramOutcome outcome;
    outcome.kind = DatagramOutcome::Kind::error;
    outcome.error = error;
    outcome.done_at = Clock::now();
    pending->finish(&entry, outcome);
    return Sent::failed;
  }

  void send_or_queue(Family& f, PendingProbes::Entry& entry) {
    // Behind the datagrams already waiting for room, in order.
    if (!f.backlog.empty()) {
      f.backlog.push_back(entry);
      return;
    }
    if (try_send(f, entry) == Sent::full) {
      f.backlog.push_back(entry);
      wait_writable(f);
    }
  }

  void wait_writable(Family& f) {
    if (f.write_waiting) return;
    f.write_waiting = true;
    f.socket.async_wait(udp::socket::wait_write,
                        [self = shared_from_this(), &f](const boost::system::error_code& ec) {
                          f.write_waiting = false;
                          if (ec || self->closed) return;
                          self->flush(f);
                        });
  }

  void flush(Family& f) {
    while (!f.backlog.empty()) {
      PendingProbes::Entry& entry = f.backlog.front();
      entry.backlog_hook.unlink();
      if (try_send(f, entry) == Sent::full) {
        f.backlog.push_front(entry);
        wait_writable(f);
        return;
      }
    }
  }

  void start_read(Family& f) {
    // Readable also when the error queue holds an ICMP error (EPOLLERR wakes every waiter).
    f.socket.async_wait(udp::socket::wait_read,
                        [self = shared_from_this(), &f](const boost::system::error_code& ec) {
                          if (ec || self->closed) return;
                          self->drain(f);
                        });
  }

  void drain(Family& f) {
    for (int i = 0; i < kReadBudget; ++i) {
      if (read_error(f) || read_reply(f)) continue;
      start_read(f);
      return;
    }
    asio::post(executor, [self = shared_from_this(), &f] {
      if (!self->closed) self->drain(f);
    });
  }

  // One message of the error queue; false when it is empty.
  bool read_error(Family& f) {
    sockaddr_storage from{};
    alignas(cmsghdr) char control[512];
    char data[64];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(f.socket.native_handle(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      return errno == EINTR;
    }
    const auto now = Clock::now();
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const bool recverr = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                           (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
      if (!recverr) continue;
      sock_extended_err ee;
      std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
      // Local errors (SO_EE_ORIGIN_LOCAL) were already returned by sendto().
      if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6) continue;
      std::uint16_t port = 0;
      // msg_name is the destination of the datagram the error is about.
      auto destination = address_of(from, &port);
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
          outcome.offender = address_of(offender, nullptr);
        }
      }
      pending->finish_key(PeerKey::of(destination, port), outcome);
    }
    return true;
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
    auto source = address_of(from, &port);
    DatagramOutcome outcome;
    outcome.kind = DatagramOutcome::Kind::reply;
    outcome.done_at = Clock::now();
    pending->finish_key(PeerKey::of(source, port), outcome);
    return true;
  }

  void close() {
    closed = true;
    pending->close();
    boost::system::error_code ignored;
    v4.socket.close(ignored);
    v6.socket.close(ignored);
  }

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

#else  // !__linux__: probe_udp does not use the multiplexer.

struct DatagramMux::Impl {
  std::shared_ptr<detail::PendingProbes> pending;
};

DatagramMux::DatagramMux(asio::any_io_executor executor)
    : impl_(std::make_shared<Impl>(Impl{detail::PendingProbes::create(executor)})) {}

DatagramMux::~DatagramMux() { impl_->pending->close(); }

void DatagramMux::start(const asio::ip::udp::endpoint&, std::string_view, Clock::duration,
                        Clock::time_point, detail::PendingProbes::Handler handler) {
  DatagramOutcome outcome;
  outcome.kind = DatagramOutcome::Kind::no_socket;
  impl_->pending->post_completion(std::move(handler), outcome);
}

std::size_t DatagramMux::pending() const { return impl_->pending->size(); }

int DatagramMux::open_sockets() const { return 0; }

#endif

}  // namespace kscprobe
