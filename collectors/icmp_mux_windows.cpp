// IcmpMux on Windows: ICMP echo through the ICMP helper API (IcmpSendEcho2, iphlpapi), which a
// service account may use without administrator rights; a raw ICMP socket needs them, and
// Windows has no unprivileged ping socket like Linux's. IPv4 only (Icmp6SendEcho2 is not used
// yet: an IPv6 echo ends as "no socket"). CMake builds this file on Windows, icmp_mux_linux.cpp
// on Linux and icmp_mux_other.cpp elsewhere.
//
// Each echo signals an event of its own, which a timer of the echo polls every 10 ms (the round
// trip is the system's own measurement, ICMP_ECHO_REPLY::RoundTripTime, so the polling does not
// add to it). A thread-pool wait for the event (asio::windows::object_handle, that is
// RegisterWaitForSingleObject) trips an assertion in wine 8's thread pool. The reply buffer lives
// until the event is set or the system's own timeout has passed, so the system can write into it
// even after the probe ended (deadline, cancellation).
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <iphlpapi.h>
#include <icmpapi.h>
// clang-format on

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <memory>
#include <vector>

#include "collectors/icmp_prober.hpp"

namespace kscprobe {

namespace asio = boost::asio;
using detail::PendingProbes;

namespace {

using Clock = std::chrono::steady_clock;

// The payload of every echo request: recognisable in a capture, like the Linux prober's.
constexpr char kPayload[] = "kscprobe echo request";

constexpr auto kPollEvery = std::chrono::milliseconds(10);

// One echo request in flight, kept alive by the timer that polls its event.
struct Echo {
  Echo(const asio::any_io_executor& executor, HANDLE e) : event(e), poll(executor) {}
  ~Echo() { CloseHandle(event); }
  Echo(const Echo&) = delete;
  Echo& operator=(const Echo&) = delete;
  HANDLE event;
  asio::steady_timer poll;
  Clock::time_point give_up;  // the system's own timeout has passed by then
  // An ICMP_ECHO_REPLY, the echoed data, and room for an ICMP error (8 bytes) as the
  // documentation asks.
  std::vector<unsigned char> reply =
      std::vector<unsigned char>(sizeof(ICMP_ECHO_REPLY) + sizeof kPayload + 8 + 64);
  PeerKey key;
  Clock::time_point sent_at;
};

// The ICMP message an IP_STATUS reports: destination unreachable (type 3, with its code) or time
// exceeded (11). False for the statuses that are not an ICMP error from the network.
bool icmp_error_of(ULONG status, std::uint8_t* type, std::uint8_t* code) {
  switch (status) {
    case IP_DEST_NET_UNREACHABLE:
      *type = 3, *code = 0;
      return true;
    case IP_DEST_HOST_UNREACHABLE:
      *type = 3, *code = 1;
      return true;
    case IP_DEST_PROT_UNREACHABLE:
      *type = 3, *code = 2;
      return true;
    case IP_DEST_PORT_UNREACHABLE:
      *type = 3, *code = 3;
      return true;
    case IP_TTL_EXPIRED_TRANSIT:
      *type = 11, *code = 0;
      return true;
    case IP_TTL_EXPIRED_REASSEM:
      *type = 11, *code = 1;
      return true;
    default:
      return false;
  }
}

// Waits for the echo's event, then completes its probe with the reply or the ICMP error (a
// timeout is silence, which PendingProbes reports at the deadline).
void poll(std::shared_ptr<Echo> echo, std::weak_ptr<PendingProbes> weak) {
  Echo& e = *echo;
  e.poll.expires_after(kPollEvery);
  e.poll.async_wait([echo = std::move(echo),
                     weak = std::move(weak)](const boost::system::error_code& ec) mutable {
    if (ec) return;
    if (WaitForSingleObject(echo->event, 0) != WAIT_OBJECT_0) {
      if (Clock::now() < echo->give_up) poll(std::move(echo), std::move(weak));
      return;
    }
    auto pending = weak.lock();
    if (!pending || !pending->waiting_for(echo->key)) return;
    DatagramOutcome o;
    o.sent = true;
    o.sent_at = echo->sent_at;
    o.done_at = Clock::now();
    IcmpParseReplies(echo->reply.data(), static_cast<DWORD>(echo->reply.size()));
    const auto* reply = reinterpret_cast<const ICMP_ECHO_REPLY*>(echo->reply.data());
    if (reply->Status == IP_SUCCESS) {
      o.kind = DatagramOutcome::Kind::reply;
      o.done_at =
          std::min(o.done_at, echo->sent_at + std::chrono::milliseconds(reply->RoundTripTime));
    } else if (icmp_error_of(reply->Status, &o.icmp_type, &o.icmp_code)) {
      o.kind = DatagramOutcome::Kind::error;
      o.offender = asio::ip::address_v4(ntohl(reply->Address));
    } else {
      return;
    }
    pending->finish_key(echo->key, o);
  });
}

}  // namespace

struct IcmpMux::Impl {
  Impl(asio::any_io_executor ex, Options opts)
      : executor(std::move(ex)),
        options(std::move(opts)),
        pending(PendingProbes::create(executor)) {}
  ~Impl() {
    if (icmp != INVALID_HANDLE_VALUE) IcmpCloseHandle(icmp);
  }

  // Opens the ICMP handle on first use; 0 or the errno-style reason it cannot be opened.
  int open() {
    if (icmp != INVALID_HANDLE_VALUE) return 0;
    if (open_error != 0) return open_error;
    icmp = IcmpCreateFile();
    if (icmp != INVALID_HANDLE_VALUE) return 0;
    const DWORD error = GetLastError();
    open_error = error == ERROR_NOT_ENOUGH_MEMORY ? ENOMEM : EACCES;
    if (options.on_unavailable)
      options.on_unavailable("IcmpCreateFile failed (Windows error " + std::to_string(error) + ")");
    return open_error;
  }

  asio::any_io_executor executor;
  Options options;
  std::shared_ptr<PendingProbes> pending;
  HANDLE icmp = INVALID_HANDLE_VALUE;
  int open_error = 0;
  bool closed = false;
  std::uint16_t sequence = 0;
};

IcmpMux::IcmpMux(asio::any_io_executor executor) : IcmpMux(std::move(executor), Options{}) {}

IcmpMux::IcmpMux(asio::any_io_executor executor, Options options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

IcmpMux::~IcmpMux() {
  impl_->closed = true;
  impl_->pending->close();
}

void IcmpMux::start(const asio::ip::address& target, Clock::duration timeout,
                    Clock::time_point deadline, PendingProbes::Handler handler) {
  Impl& im = *impl_;
  asio::ip::address to = target;
  if (to.is_v6() && to.to_v6().is_v4_mapped()) {
    to = asio::ip::make_address_v4(asio::ip::v4_mapped, to.to_v6());
  }
  DatagramOutcome outcome;
  if (im.closed) {
    outcome.kind = DatagramOutcome::Kind::cancelled;
  } else if (to.is_v6()) {
    outcome.kind = DatagramOutcome::Kind::no_socket;
    outcome.error = EAFNOSUPPORT;
  } else if (int error = im.open(); error != 0) {
    outcome.kind = DatagramOutcome::Kind::no_socket;
    outcome.error = error;
  } else {
    const PeerKey key = PeerKey::of(to, ++im.sequence);
    PendingProbes::Entry* entry = im.pending->add(key, timeout, deadline, std::move(handler));
    if (entry == nullptr) return;
    HANDLE event = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    if (event == nullptr) {
      DatagramOutcome failed;
      failed.kind = DatagramOutcome::Kind::error;
      failed.error = static_cast<int>(GetLastError());
      failed.done_at = Clock::now();
      im.pending->finish(entry, failed);
      return;
    }
    auto echo = std::make_shared<Echo>(im.executor, event);
    echo->key = key;
    echo->sent_at = Clock::now();
    // The system's own timeout, a little after the probe's deadline (which PendingProbes keeps).
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - echo->sent_at);
    const DWORD timeout_ms =
        static_cast<DWORD>(std::clamp<long long>(left.count() + 100, 100, 600000));
    const IPAddr destination = htonl(to.to_v4().to_uint());
    const DWORD n =
        IcmpSendEcho2(im.icmp, event, nullptr, nullptr, destination, const_cast<char*>(kPayload),
                      sizeof kPayload - 1, nullptr, echo->reply.data(),
                      static_cast<DWORD>(echo->reply.size()), timeout_ms);
    const DWORD send_error = n == 0 ? GetLastError() : ERROR_SUCCESS;
    if (n == 0 && send_error != ERROR_IO_PENDING) {
      // Refused before anything was sent (no route, a local filter, no buffers).
      DatagramOutcome failed;
      failed.kind = DatagramOutcome::Kind::error;
      failed.error = static_cast<int>(send_error);
      failed.done_at = Clock::now();
      im.pending->finish(entry, failed);
      return;
    }
    entry->sent = true;
    entry->sent_at = echo->sent_at;
    echo->give_up = echo->sent_at + std::chrono::milliseconds(timeout_ms) + std::chrono::seconds(1);
    poll(std::move(echo), im.pending);
    return;
  }
  outcome.done_at = Clock::now();
  im.pending->post_completion(std::move(handler), outcome);
}

std::string_view IcmpMux::socket_kind(bool v6) const {
  if (v6 || impl_->icmp == INVALID_HANDLE_VALUE) return "";
  return "icmpapi";
}

std::size_t IcmpMux::pending() const { return impl_->pending->size(); }

}  // namespace kscprobe
