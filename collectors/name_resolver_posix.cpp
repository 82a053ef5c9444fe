// The resolver's native backend off Windows, with c-ares (CMake chooses this file, or
// name_resolver_windows.cpp): many queries at once on c-ares's sockets, which the event loop
// watches, with the TTLs of the answers. Names in /etc/hosts are answered from it first, as
// getaddrinfo does with the usual nsswitch.conf ("hosts: files dns"); the file is read once and
// again when it changes (hosts_file.hpp), not by c-ares for every name.
//
// Each name is one A query (and one AAAA query when the host has a routable IPv6 address),
// asked with ares_search (resolv.conf's search domains and ndots apply) and parsed with its
// TTLs. Not ares_getaddrinfo: besides reading the hosts file per name, it sorts every answer by
// RFC 6724 with a socket opened, connected, named and closed per address, four system calls
// and a route lookup per address of every lookup, for answers that are mostly one address.
#include <ares.h>
#include <arpa/nameser.h>
#include <ifaddrs.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "collectors/hosts_file.hpp"
#include "collectors/name_resolver.hpp"

namespace kscprobe::detail {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// How a query that found no address ended.
LookupAnswer failure_of(int status) {
  LookupAnswer answer;
  switch (status) {
    case ARES_SUCCESS:
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
      answer.status = LookupStatus::not_found;
      break;
    case ARES_ETIMEOUT:
      answer.status = LookupStatus::timeout;
      break;
    case ARES_ECANCELLED:
      answer.status = LookupStatus::cancelled;
      break;
    default:
      answer.status = LookupStatus::failed;
      break;
  }
  answer.detail = status == ARES_SUCCESS ? "no address" : ares_strerror(status);
  return answer;
}

// Whether the host has an IPv6 address to reach anything with: neither loopback nor link-local
// (every interface with IPv6 on has a link-local one). As getaddrinfo's AI_ADDRCONFIG, AAAA
// records are asked only then: an IPv4-only host that asks both sends twice the queries and
// reads twice the answers for addresses it could not use.
bool host_has_routable_ipv6() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return true;  // unknown: ask both, as before
  bool found = false;
  for (const ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET6) continue;
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
    found = !IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) && !IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr);
  }
  ::freeifaddrs(list);
  return found;
}

class CaresBackend final : public ResolverBackend {
 public:
  CaresBackend(asio::any_io_executor executor, const ResolverOptions& options)
      : executor_(std::move(executor)), timer_(executor_), hosts_(options.hosts_file) {
    static std::once_flag library;
    std::call_once(library, [] { ares_library_init(ARES_LIB_INIT_ALL); });
    ares_options o{};
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS |
               ARES_OPT_SOCK_RCVBUF | ARES_OPT_FLAGS;
    // Keep the server's socket open between queries: by default c-ares closes it whenever no
    // query is left in flight, which with answers in a few milliseconds is every few names, and
    // each reopening costs a socket, a connect, a close and a watch of the descriptor (a tenth
    // of the process's CPU at 1 700 names a second in the 100 000-agent benchmark by names).
    o.flags = ARES_FLAG_STAYOPEN;
    // Every query in flight may be answered in the same few milliseconds (A and AAAA: two
    // answers a name): the default receive buffer (208 KiB) drops a burst of a few hundred, and
    // each dropped answer costs its name a retry after a whole try_timeout.
    o.socket_receive_buffer_size = 4 << 20;
    o.sock_state_cb = &CaresBackend::on_socket_state;
    o.sock_state_cb_data = this;
    o.timeout = static_cast<int>(std::max<std::int64_t>(options.try_timeout.count(), 1));
    o.tries = std::max(options.tries, 1);
    // DNS only: the hosts file is ours (query()); ares_search does not read it anyway.
    char lookups[] = "b";
    o.lookups = lookups;
    if (!options.test_server.empty()) {
      // The test's server alone: no search domain may turn a name into other queries.
      mask |= ARES_OPT_DOMAINS;
      o.domains = nullptr;
      o.ndomains = 0;
    }
    int rc = ares_init_options(&channel_, &o, mask);
    if (rc != ARES_SUCCESS) {
      channel_ = nullptr;
      init_error_ = std::string("cannot start the resolver: ") + ares_strerror(rc);
      return;
    }
    if (!options.test_server.empty()) {
      rc = ares_set_servers_ports_csv(channel_, options.test_server.c_str());
      if (rc != ARES_SUCCESS) init_error_ = "bad test server: " + std::string(ares_strerror(rc));
    }
  }

  ~CaresBackend() override {
    alive_.reset();
    // Queries still asked end with ARES_EDESTRUCTION, which on_answer drops.
    if (channel_ != nullptr) ares_destroy(channel_);
    for (auto& [fd, watch] : watches_) {
      watch->active = false;
      watch->descriptor.release();
    }
  }

  void query(const std::string& name, Done done) override {
    if (channel_ == nullptr || !init_error_.empty()) {
      Answer failed;
      failed.answer.status = LookupStatus::failed;
      failed.answer.detail = init_error_;
      asio::post(executor_, [done = std::move(done), failed = std::move(failed)]() mutable {
        done(std::move(failed));
      });
      return;
    }
    const auto now = Clock::now();
    if (const auto* addresses = hosts_.find(name, now)) {
      Answer from_file;
      from_file.answer.status = LookupStatus::ok;
      from_file.answer.addresses = *addresses;
      asio::post(executor_, [done = std::move(done), from_file = std::move(from_file)]() mutable {
        done(std::move(from_file));
      });
      return;
    }
    if (!family_checked_ || now - family_checked_at_ >= kFamilyRecheck) {
      family_checked_ = true;
      family_checked_at_ = now;
      family_ = host_has_routable_ipv6() ? AF_UNSPEC : AF_INET;
    }
    auto* request = new Request{this, std::move(done)};
    request->remaining = family_ == AF_INET ? 1 : 2;
    ares_search(channel_, name.c_str(), ns_c_in, ns_t_a, &CaresBackend::on_a, request);
    if (family_ != AF_INET)
      ares_search(channel_, name.c_str(), ns_c_in, ns_t_aaaa, &CaresBackend::on_aaaa, request);
    arm_timer();
  }

 private:
  // A name's queries (A, and AAAA when asked): the answer goes out when the last one ends.
  struct Request {
    CaresBackend* backend;
    Done done;
    int remaining = 1;
    std::vector<asio::ip::address> v4 = {}, v6 = {};
    int status_a = ARES_SUCCESS, status_aaaa = ARES_SUCCESS;
    std::optional<int> ttl = {};
    bool destroyed = false;

    void add_ttl(int seconds) { ttl = ttl ? std::min(*ttl, seconds) : seconds; }
  };
  // More addresses than a probe will ever try: the rest of a long answer is not kept.
  static constexpr int kMaxAddresses = 16;

  // One socket of c-ares, watched for what it wants. c-ares opens and closes it; the watch
  // only borrows it (released, never closed, here).
  struct Watch {
    Watch(const asio::any_io_executor& executor, int fd) : descriptor(executor, fd), fd(fd) {}
    asio::posix::stream_descriptor descriptor;
    int fd;
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;
    bool active = true;
  };

  static void on_a(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    auto* request = static_cast<Request*>(arg);
    if (status == ARES_SUCCESS) {
      ares_addrttl found[kMaxAddresses];
      int n = kMaxAddresses;
      status = ares_parse_a_reply(abuf, alen, nullptr, found, &n);
      for (int i = 0; status == ARES_SUCCESS && i < n; ++i) {
        asio::ip::address_v4::bytes_type bytes;
        std::memcpy(bytes.data(), &found[i].ipaddr, bytes.size());
        request->v4.emplace_back(asio::ip::address_v4(bytes));
        request->add_ttl(found[i].ttl);
      }
    }
    request->status_a = status;
    finish(request, status);
  }

  static void on_aaaa(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    auto* request = static_cast<Request*>(arg);
    if (status == ARES_SUCCESS) {
      ares_addr6ttl found[kMaxAddresses];
      int n = kMaxAddresses;
      status = ares_parse_aaaa_reply(abuf, alen, nullptr, found, &n);
      for (int i = 0; status == ARES_SUCCESS && i < n; ++i) {
        asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), &found[i].ip6addr, bytes.size());
        request->v6.emplace_back(asio::ip::address_v6(bytes));
        request->add_ttl(found[i].ttl);
      }
    }
    request->status_aaaa = status;
    finish(request, status);
  }

  // Counts one query of `request` done; after the last, hands the answer on and frees it.
  static void finish(Request* request, int status) {
    if (status == ARES_EDESTRUCTION) request->destroyed = true;
    if (--request->remaining > 0) return;
    std::unique_ptr<Request> owned(request);
    if (owned->destroyed) return;
    Answer answer;
    if (!owned->v4.empty() || !owned->v6.empty()) {
      // IPv6 first when the host has a routable IPv6 address (the only case it is asked): RFC
      // 6724's default policy prefers it to IPv4 when both can be reached.
      answer.answer.status = LookupStatus::ok;
      answer.answer.addresses = std::move(owned->v6);
      answer.answer.addresses.insert(answer.answer.addresses.end(), owned->v4.begin(),
                                     owned->v4.end());
      if (owned->ttl) answer.ttl = std::chrono::seconds(std::max(*owned->ttl, 0));
    } else {
      // No address: the A query says why (a name with AAAA records only has none usable here).
      answer.answer =
          failure_of(owned->status_a == ARES_ENODATA && owned->status_aaaa != ARES_SUCCESS &&
                             owned->status_aaaa != ARES_ENODATA
                         ? owned->status_aaaa
                         : owned->status_a);
    }
    CaresBackend* backend = owned->backend;
    // Never within query() or ares_process_fd: the resolver's bookkeeping is not reentrant.
    asio::post(backend->executor_,
               [alive = std::weak_ptr<int>(backend->alive_), done = std::move(owned->done),
                answer = std::move(answer)]() mutable {
                 if (alive.lock()) done(std::move(answer));
               });
  }

  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<CaresBackend*>(data)->watch(fd, readable != 0, writable != 0);
  }

  void watch(int fd, bool readable, bool writable) {
    auto it = watches_.find(fd);
    if (!readable && !writable) {
      // c-ares is about to close it: stop watching without closing.
      if (it != watches_.end()) {
        it->second->active = false;
        it->second->descriptor.release();
        watches_.erase(it);
      }
      return;
    }
    if (it == watches_.end())
      it = watches_.emplace(fd, std::make_shared<Watch>(executor_, fd)).first;
    it->second->want_read = readable;
    it->second->want_write = writable;
    arm(it->second);
  }

  void arm(const std::shared_ptr<Watch>& w) {
    if (w->want_read && !w->reading) {
      w->reading = true;
      w->descriptor.async_wait(
          asio::posix::stream_descriptor::wait_read,
          [this, w, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            w->reading = false;
            if (!alive.lock() || !w->active || ec) return;
            ares_process_fd(channel_, w->fd, ARES_SOCKET_BAD);
            if (w->active) arm(w);
            arm_timer();
          });
    }
    if (w->want_write && !w->writing) {
      w->writing = true;
      w->descriptor.async_wait(
          asio::posix::stream_descriptor::wait_write,
          [this, w, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            w->writing = false;
            if (!alive.lock() || !w->active || ec) return;
            ares_process_fd(channel_, ARES_SOCKET_BAD, w->fd);
            if (w->active) arm(w);
            arm_timer();
          });
    }
  }

  // The timer is set to c-ares's next timeout (a try to send again, a lookup to end); one wait
  // at a time, moved earlier when a new query needs it sooner.
  void arm_timer() {
    timeval tv{};
    if (ares_timeout(channel_, nullptr, &tv) == nullptr) return;
    const auto due =
        Clock::now() + std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    if (timer_armed_ && timer_due_ <= due) return;
    timer_armed_ = true;
    timer_due_ = due;
    timer_.expires_at(due);
    timer_.async_wait(
        [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
          if (!alive.lock() || ec) return;
          timer_armed_ = false;
          ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
          arm_timer();
        });
  }

  // Addresses come and go (DHCPv6, a VPN): the answer is looked at again this often.
  static constexpr std::chrono::seconds kFamilyRecheck{30};

  asio::any_io_executor executor_;
  asio::steady_timer timer_;
  HostsFile hosts_;
  bool family_checked_ = false;
  Clock::time_point family_checked_at_{};
  int family_ = AF_UNSPEC;
  bool timer_armed_ = false;
  Clock::time_point timer_due_;
  ares_channel channel_ = nullptr;
  std::string init_error_;
  std::unordered_map<int, std::shared_ptr<Watch>> watches_;
  // Handlers hold it weakly: once it is gone, a late handler touches nothing of the backend.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace

std::unique_ptr<ResolverBackend> make_native_backend(asio::any_io_executor executor,
                                                     const ResolverOptions& options) {
  return std::make_unique<CaresBackend>(std::move(executor), options);
}

}  // namespace kscprobe::detail
