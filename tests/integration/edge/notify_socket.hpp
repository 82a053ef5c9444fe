#pragma once
// The service-manager tests' stand-in for systemd's NOTIFY_SOCKET: receives sd_notify datagrams
// on a unix socket made by the test, with the sender's pid. Every wait is bounded. (The daemon
// itself runs as a tests/support/child_process.hpp child with an explicit environment.)
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kscprobe::test {

/// One received notification and the pid the kernel says sent it (SO_PASSCRED).
struct Notification {
  std::string text;
  pid_t sender = 0;
};

/// A unix datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) throw std::runtime_error("socket path too long");
    std::memcpy(a.sun_path, path.data(), path.size());
    bool abstract = a.sun_path[0] == '@';
    if (abstract) a.sun_path[0] = '\0';
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    if (!abstract) unlink(path.c_str());
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0)
      throw std::runtime_error(std::string("bind failed: ") + std::strerror(errno));
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  }
  ~NotifySocket() {
    close(fd_);
    if (!path_.empty() && path_[0] == '/') unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }

  /// The next datagram, or nullopt after `limit`.
  std::optional<Notification> receive(std::chrono::milliseconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(limit.count())) <= 0) return std::nullopt;
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_, &msg, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    Notification out;
    out.text.assign(buf, static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        out.sender = cred.pid;
      }
    }
    return out;
  }

  /// Receives until a datagram satisfies `pred` (returned) or `limit` passes; every datagram
  /// seen on the way is appended to `seen` when given.
  template <class Pred>
  std::optional<Notification> receive_until(Pred pred, std::chrono::milliseconds limit,
                                            std::vector<Notification>* seen = nullptr) {
    auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto n = receive(left);
      if (!n) return std::nullopt;
      if (seen) seen->push_back(*n);
      if (pred(*n)) return n;
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

/// True when the newline-separated notification carries `assignment` (e.g. "READY=1").
inline bool has(const Notification& n, const std::string& assignment) {
  std::size_t pos = 0;
  while (pos <= n.text.size()) {
    std::size_t nl = n.text.find('\n', pos);
    if (nl == std::string::npos) nl = n.text.size();
    if (n.text.compare(pos, nl - pos, assignment) == 0) return true;
    pos = nl + 1;
  }
  return false;
}

/// The daemon's environment: PATH only, plus `extra`; nothing from the test's own environment
/// (a NOTIFY_SOCKET of the machine running the tests must not leak in).
inline std::vector<std::string> clean_env(std::vector<std::string> extra) {
  extra.push_back("PATH=/usr/bin:/bin");
  return extra;
}

}  // namespace kscprobe::test
