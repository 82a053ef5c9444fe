#pragma once
#include <utility>
// systemd integration without libsystemd: the sd_notify(3) datagram protocol on $NOTIFY_SOCKET,
// the watchdog environment (WATCHDOG_USEC, WATCHDOG_PID) and socket activation (LISTEN_FDS,
// LISTEN_PID). The protocol is small and stable, and doing it here keeps the binary free of a
// libsystemd dependency so the same build runs under any supervisor.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kscprobe {
struct AppOptions;
}

namespace kscprobe::systemd {

/// A connection to the service manager's notification socket.
class Notifier {
 public:
  /// Uses `socket_path` ("/run/..." or "@abstract"); an empty path makes every send a no-op.
  explicit Notifier(std::string socket_path);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;
  Notifier(Notifier&& o) noexcept : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)) {}

  /// The notifier named by $NOTIFY_SOCKET (disabled when unset).
  static Notifier from_environment();

  bool enabled() const { return !path_.empty(); }
  /// Sends newline-separated assignments such as "READY=1\nSTATUS=running". Returns false when
  /// disabled or when the datagram could not be sent.
  bool send(std::string_view state);

 private:
  std::string path_;
  int fd_ = -1;
};

/// Half of $WATCHDOG_USEC when the watchdog is meant for this process ($WATCHDOG_PID unset or
/// equal to getpid()), as sd_watchdog_enabled(3) recommends; nullopt otherwise.
std::optional<std::chrono::microseconds> watchdog_interval();

/// The first socket passed by socket activation (fd 3) when $LISTEN_PID is this process and
/// $LISTEN_FDS >= 1, else -1. The variables are removed so they do not leak to children, and
/// the descriptor is marked close-on-exec. `warning` gets a message when the passed descriptor
/// is not usable (not a listening stream socket, or more than one).
int listen_fd_from_environment(std::string* warning);

/// CLOCK_MONOTONIC in microseconds, as systemd expects in MONOTONIC_USEC= (systemd >= 253 uses it
/// to tell a reload's READY=1 from an older one).
std::uint64_t monotonic_usec();

/// Fills `options.hooks` (READY, RELOADING/READY, STOPPING, watchdog heartbeat) and
/// `options.listen_fd` from the environment systemd gives a service. Does nothing outside
/// systemd, so it is always safe to call.
void configure(AppOptions& options);

}  // namespace kscprobe::systemd
