// The resolver's native backend off Windows, with c-ares (CMake chooses this file, or
// name_resolver_windows.cpp): many queries at once on c-ares's sockets, which the event loop
// watches, with the TTLs of the answers. Lookups read /etc/hosts first ("fb"), as getaddrinfo
// does with the usual nsswitch.conf.
#include <ares.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <unordered_map>

#include "collectors/name_resolver.hpp"

namespace kscprobe::detail {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

LookupAnswer answer_of(int status, const ares_addrinfo* info) {
  LookupAnswer answer;
  if (status == ARES_SUCCESS && info != nullptr) {
    for (const ares_addrinfo_node* node = info->nodes; node != nullptr; node = node->ai_next) {
      if (node->ai_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(node->ai_addr);
        asio::ip::address_v4::bytes_type bytes;
        std::memcpy(bytes.data(), &sin->sin_addr, bytes.size());
        answer.addresses.emplace_back(asio::ip::address_v4(bytes));
      } else if (node->ai_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(node->ai_addr);
        asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), &sin6->sin6_addr, bytes.size());
        answer.addresses.emplace_back(asio::ip::address_v6(bytes, sin6->sin6_scope_id));
      }
    }
  }
  if (!answer.addresses.empty()) {
    answer.status = LookupStatus::ok;
    return answer;
  }
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

std::optional<std::chrono::seconds> ttl_of(const ares_addrinfo* info) {
  if (info == nullptr || info->nodes == nullptr) return std::nullopt;
  int ttl = info->nodes->ai_ttl;
  for (const ares_addrinfo_node* node = info->nodes; node != nullptr; node = node->ai_next) {
    ttl = std::min(ttl, node->ai_ttl);
  }
  return std::chrono::seconds(std::max(ttl, 0));
}

class CaresBackend final : public ResolverBackend {
 public:
  CaresBackend(asio::any_io_executor executor, const ResolverOptions& options)
      : executor_(std::move(executor)), timer_(executor_) {
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
    char lookups[] = "fb";
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
    auto* request = new Request{this, std::move(done)};
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &CaresBackend::on_answer, request);
    arm_timer();
  }

 private:
  struct Request {
    CaresBackend* backend;
    Done done;
  };

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

  static void on_answer(void* arg, int status, int /*timeouts*/, ares_addrinfo* info) {
    std::unique_ptr<Request> request(static_cast<Request*>(arg));
    if (status == ARES_EDESTRUCTION) {
      if (info != nullptr) ares_freeaddrinfo(info);
      return;
    }
    Answer answer{answer_of(status, info), ttl_of(info)};
    if (info != nullptr) ares_freeaddrinfo(info);
    // Never within query() or ares_process_fd: the resolver's bookkeeping is not reentrant.
    asio::post(request->backend->executor_,
               [alive = std::weak_ptr<int>(request->backend->alive_),
                done = std::move(request->done), answer = std::move(answer)]() mutable {
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

  asio::any_io_executor executor_;
  asio::steady_timer timer_;
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
