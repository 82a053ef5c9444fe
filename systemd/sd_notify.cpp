#include "systemd/sd_notify.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "daemon/app.hpp"
#include "daemon/logging.hpp"

namespace kscprobe::systemd {

namespace {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

std::optional<unsigned long long> env_number(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (errno || *end) return std::nullopt;
  return n;
}

// True when a PID variable is unset (meaning "any") or names this process.
bool pid_matches(const char* name, bool required) {
  auto pid = env_number(name);
  if (!pid) return !required && std::getenv(name) == nullptr;
  return *pid == static_cast<unsigned long long>(getpid());
}

}  // namespace

Notifier::Notifier(std::string socket_path) : path_(std::move(socket_path)) {
  // Only absolute paths and abstract names are valid; anything else is ignored, as libsystemd
  // does, rather than sending to a relative path.
  if (!path_.empty() && path_[0] != '/' && path_[0] != '@') path_.clear();
  if (path_.size() >= sizeof(sockaddr_un::sun_path)) path_.clear();
  if (path_.empty()) return;
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) path_.clear();
}

Notifier::~Notifier() {
  if (fd_ >= 0) ::close(fd_);
}

Notifier Notifier::from_environment() {
  const char* p = std::getenv("NOTIFY_SOCKET");
  return Notifier(p ? p : "");
}

bool Notifier::send(std::string_view state) {
  if (path_.empty() || fd_ < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  // A datagram socket sends the whole message or nothing; EINTR is the only retry worth doing.
  for (;;) {
    ssize_t n = ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL,
                         reinterpret_cast<const sockaddr*>(&addr), len);
    if (n >= 0) return static_cast<std::size_t>(n) == state.size();
    if (errno != EINTR) return false;
  }
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  auto usec = env_number("WATCHDOG_USEC");
  if (!usec || *usec == 0) return std::nullopt;
  if (!pid_matches("WATCHDOG_PID", false)) return std::nullopt;
  // Half the timeout: one late tick must not be enough to get the daemon killed.
  return std::chrono::microseconds(*usec / 2);
}

int listen_fd_from_environment(std::string* warning) {
  auto fds = env_number("LISTEN_FDS");
  bool mine = pid_matches("LISTEN_PID", true);
  // Unset in any case, like sd_listen_fds(1): the variables describe this process only.
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDNAMES");
  if (!fds || *fds == 0 || !mine) return -1;
  for (unsigned long long i = 0; i < *fds; ++i) {
    int fd = kListenFdsStart + static_cast<int>(i);
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
  int fd = kListenFdsStart;
  int type = 0, listening = 0;
  socklen_t l1 = sizeof type, l2 = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) != 0 ||
      ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l2) != 0 || type != SOCK_STREAM ||
      !listening) {
    if (warning)
      *warning = "the socket passed by the service manager is not a listening TCP socket";
    return -1;
  }
  if (*fds > 1 && warning)
    *warning = "the service manager passed " + std::to_string(*fds) +
               " sockets; only the first one (fd 3) is served";
  return fd;
}

std::uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

void configure(AppOptions& options) {
  std::string warning;
  int fd = listen_fd_from_environment(&warning);
  if (!warning.empty()) log::warn(warning);
  if (fd >= 0) {
    options.listen_fd = fd;
    log::info("serving on the socket passed by the service manager (socket activation)",
              {{"fd", std::to_string(fd)}});
  }

  auto notifier = std::make_shared<Notifier>(Notifier::from_environment());
  if (!notifier->enabled()) return;
  auto& h = options.hooks;
  h.ready = [notifier] { notifier->send("READY=1\nSTATUS=probing"); };
  h.reloading = [notifier] {
    notifier->send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" +
                   std::to_string(monotonic_usec()));
  };
  h.reloaded = [notifier](bool ok) {
    // READY=1 in both cases: a rejected file leaves the previous plan running, which is ready.
    notifier->send(ok ? "READY=1\nSTATUS=probing"
                      : "READY=1\nSTATUS=probing; the last reload was rejected, see the log");
  };
  h.stopping = [notifier] { notifier->send("STOPPING=1\nSTATUS=stopping"); };
  if (auto every = watchdog_interval()) {
    h.heartbeat = [notifier] { notifier->send("WATCHDOG=1"); };
    h.heartbeat_interval = std::max(std::chrono::milliseconds(1),
                                    std::chrono::duration_cast<std::chrono::milliseconds>(*every));
  }
}

}  // namespace kscprobe::systemd
