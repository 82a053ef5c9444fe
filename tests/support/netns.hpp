#pragma once
// A network namespace of the test's own (root only): the calling thread enters a fresh one for
// the lifetime of the object, with its loopback up and ICMP error rate limits lifted, so rules
// (nftables, routes, sysctls) can be set without touching the host. Sockets opened inside stay
// in it after the thread goes back; the namespace goes away with the last of them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace kscprobe::test {

class ScopedNetns {
 public:
  ScopedNetns() {
    original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original_ < 0 || ::unshare(CLONE_NEWNET) != 0) {
      error_ = std::string("cannot enter a new network namespace (run as root): ") +
               std::strerror(errno);
      return;
    }
    entered_ = true;
    ok_ = run("ip link set lo up") &&
          run("sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 "
              "net.ipv4.icmp_msgs_burst=100000 net.ipv6.icmp.ratelimit=0");
  }
  ~ScopedNetns() {
    if (entered_) ::setns(original_, CLONE_NEWNET);
    if (original_ >= 0) ::close(original_);
  }
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

  // Runs a shell command inside the namespace (the child inherits this thread's namespace);
  // true when it exits 0. Its error output goes to the test's.
  bool run(const std::string& command) {
    int status = std::system(command.c_str());
    if (status != 0) error_ = "failed: " + command;
    return status == 0;
  }

  // Loads an nftables ruleset (nft -f).
  bool nft(const std::string& ruleset) { return run("nft -f - <<'EOF'\n" + ruleset + "\nEOF\n"); }

 private:
  int original_ = -1;
  bool entered_ = false;
  bool ok_ = false;
  std::string error_;
};

}  // namespace kscprobe::test
