#pragma once
// Datagram probes without a socket, a coroutine frame and a timer each: probes of one kind share
// one socket per address family and one deadline queue driven by one timer (Linux).
//
// PendingProbes is the shared part: probes waiting for an answer, keyed by what the answer will
// carry (PeerKey), kept in one FIFO per timeout (probes with equal timeouts expire in the order
// they started) and completed by the reader of the socket, by the deadline, or by cancellation.
// DatagramMux sends UDP probes on it; IcmpMux (icmp_prober.hpp) sends ICMP echo requests.
#include <array>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kscprobe {

/// What became of one datagram sent by DatagramMux or IcmpMux.
struct DatagramOutcome {
  enum class Kind : std::uint8_t {
    reply,      ///< an answer came back (read at done_at)
    error,      ///< `error`: the send failed (sent false) or an ICMP error came back (sent true)
    silence,    ///< sent, and nothing came back by the deadline
    unsent,     ///< the socket could not take the datagram before the deadline
    cancelled,  ///< the caller cancelled the probe
    no_socket,  ///< no socket could be opened (`error` says why)
  };
  Kind kind = Kind::silence;
  int error = 0;  ///< errno
  bool sent = false;
  std::chrono::steady_clock::time_point sent_at{};  ///< when the kernel took the datagram
  std::chrono::steady_clock::time_point done_at{};  ///< when the reply or error was read
  /// ICMP errors: type, code and sender of the error message.
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  boost::asio::ip::address offender;
};

/// What an answer to a probe carries: the peer's address and the UDP port (or the ICMP echo
/// sequence number) the probe was sent to.
struct PeerKey {
  std::array<std::uint8_t, 16> address{};
  std::uint16_t tag = 0;
  bool v6 = false;
  bool operator==(const PeerKey&) const = default;
  static PeerKey of(const boost::asio::ip::address& address, std::uint16_t tag);
};

struct PeerKeyHash {
  std::size_t operator()(const PeerKey& key) const noexcept;
};

namespace detail {

/// Probes waiting for an answer, with their deadlines and cancellation. Single-threaded: every
/// call and every completion runs on the executor given at construction.
class PendingProbes : public std::enable_shared_from_this<PendingProbes> {
 public:
  using Clock = std::chrono::steady_clock;
  using Handler = boost::asio::any_completion_handler<void(DatagramOutcome)>;
  using Hook = boost::intrusive::list_member_hook<
      boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

  struct Entry {
    // Move-constructed only: Boost 1.81's any_completion_handler move-assignment recurses.
    explicit Entry(Handler&& h) : handler(std::move(h)) {}
    Hook deadline_hook;  // in the FIFO of its timeout
    Hook backlog_hook;   // in its socket's queue of datagrams still to send
    PeerKey key;
    Entry* next_same = nullptr;  // the next probe waiting for the same key
    bool keyed = false;          // in by_key_
    Clock::time_point deadline;
    bool sent = false;
    Clock::time_point sent_at;
    std::string_view payload;  // what to send while queued (the caller keeps it alive)
    std::uint32_t scope_id = 0;
    Handler handler;
    boost::asio::cancellation_slot slot;
  };
  using Backlog =
      boost::intrusive::list<Entry,
                             boost::intrusive::member_hook<Entry, Hook, &Entry::backlog_hook>,
                             boost::intrusive::constant_time_size<false>>;

  static std::shared_ptr<PendingProbes> create(const boost::asio::any_io_executor& executor);
  ~PendingProbes();
  PendingProbes(const PendingProbes&) = delete;
  PendingProbes& operator=(const PendingProbes&) = delete;

  /// Registers a probe waiting for `key` until `deadline` (which lies `timeout` after its start)
  /// and binds it to the handler's cancellation slot. The entry lives until it is finished.
  Entry* add(const PeerKey& key, Clock::duration timeout, Clock::time_point deadline,
             Handler handler);
  /// Completes every probe waiting for `key` with `outcome`; returns how many.
  std::size_t finish_key(const PeerKey& key, const DatagramOutcome& outcome);
  /// Completes one probe. The handler runs later, from the executor (never inside this call).
  void finish(Entry* entry, DatagramOutcome outcome);
  bool waiting_for(const PeerKey& key) const { return by_key_.count(key) != 0; }
  std::size_t size() const { return size_; }
  /// Completes every probe as cancelled and stops the timer; later adds complete at once.
  void close();
  /// Completes an operation that never got an entry, from the executor.
  void post_completion(Handler handler, DatagramOutcome outcome);

 private:
  struct Fifo;
  struct CancelHandler;
  explicit PendingProbes(const boost::asio::any_io_executor& executor);
  void finish(Entry* entry, DatagramOutcome outcome, bool from_slot);
  void unlink_key(Entry* entry);
  void arm(Clock::time_point at);
  void on_timer(std::uint64_t generation);

  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer timer_;
  std::vector<std::unique_ptr<Fifo>> fifos_;
  std::unordered_map<PeerKey, Entry*, PeerKeyHash> by_key_;
  std::size_t size_ = 0;
  bool timer_waiting_ = false;
  Clock::time_point timer_at_;
  std::uint64_t timer_generation_ = 0;
  bool closed_ = false;
};

}  // namespace detail

/// One unconnected UDP socket per address family, opened on first use (IP_RECVERR, large
/// buffers, one local port), for every UDP probe: sendto() per probe, replies matched to probes
/// by the peer's address and port, ICMP errors read from the error queue and matched by the
/// original destination. Probes to the same address and port at the same time all get the same
/// answer (a reply or an ICMP error about that destination concludes each of them).
/// On other systems than Linux, it is not used (probe_udp keeps a socket per probe).
class DatagramMux {
 public:
  using Clock = std::chrono::steady_clock;

  explicit DatagramMux(boost::asio::any_io_executor executor);
  /// Completes the probes still waiting as cancelled.
  ~DatagramMux();
  DatagramMux(const DatagramMux&) = delete;
  DatagramMux& operator=(const DatagramMux&) = delete;

  /// Sends `payload` (kept alive by the caller until completion) to `peer` and completes with
  /// what came back by `deadline`, `timeout` after the probe started. Honours per-operation
  /// cancellation (any type) by completing at once with Kind::cancelled.
  template <class Token>
  auto async_probe(const boost::asio::ip::udp::endpoint& peer, std::string_view payload,
                   Clock::duration timeout, Clock::time_point deadline, Token&& token) {
    return boost::asio::async_initiate<Token, void(DatagramOutcome)>(
        [this](auto handler, const boost::asio::ip::udp::endpoint& to, std::string_view data,
               Clock::duration after, Clock::time_point until) {
          start(to, data, after, until, detail::PendingProbes::Handler(std::move(handler)));
        },
        token, peer, payload, timeout, deadline);
  }

  /// Probes waiting for an answer.
  std::size_t pending() const;
  /// Sockets open (0 to 2).
  int open_sockets() const;

 private:
  struct Impl;
  void start(const boost::asio::ip::udp::endpoint& peer, std::string_view payload,
             Clock::duration timeout, Clock::time_point deadline,
             detail::PendingProbes::Handler handler);
  std::shared_ptr<Impl> impl_;
};

}  // namespace kscprobe
