#pragma once
// The one name resolver of the process: every prober, the KSC client and the Pushgateway output
// look names up through it. A name is asked once however many checks need it (concurrent
// lookups of one name join one query), its answer is kept for its TTL (resolver_cache.hpp),
// and many names are asked at once: getaddrinfo, one at a time on Asio's resolver thread,
// cannot keep up with thousands of names named by FQDN, and the probes that waited behind it
// ended as `timeout` about targets that were fine.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "collectors/resolver_cache.hpp"
#include "config/shared_text.hpp"

namespace kscprobe {

struct ResolverOptions {
  /// Which way names are asked. native: c-ares off Windows (the system's
  /// resolv.conf and /etc/hosts, asked asynchronously, with TTLs), getaddrinfo on Windows;
  /// system: getaddrinfo on a small pool of threads (no TTL: answers are kept min_ttl).
  enum class Backend : std::uint8_t { native, system };
  Backend backend = Backend::native;
  ResolverCache::Limits cache;
  /// Queries in progress at once; names beyond wait in a queue of at most max_queued names.
  /// A lookup of a new name with the queue full fails as queue_full at once: kscprobe's own
  /// limit, never a verdict on the target.
  std::size_t max_in_flight = 256;
  std::size_t max_queued = 20000;
  /// The DNS server's time to answer one try, and the tries (each server, then again with the
  /// time doubled): 1 s and 2 bound a lookup to about 3 s. c-ares only (getaddrinfo follows
  /// resolv.conf).
  std::chrono::milliseconds try_timeout{1000};
  int tries = 2;
  /// The hosts file whose names are answered without a query (c-ares only: getaddrinfo reads
  /// the system's own).
  std::string hosts_file = "/etc/hosts";
  /// For the tests: ask this DNS server ("127.0.0.1:5353") instead of resolv.conf's, with no
  /// search domains. c-ares only; empty in the daemon.
  std::string test_server;
};

/// A lookup's result: the answer and whether the cache gave it.
struct LookupResult : LookupAnswer {
  bool cached = false;
};

/// Counters of a NameResolver, since it was made.
struct ResolverStats {
  std::uint64_t lookups = 0;     // lookup() calls for names (IP literals not counted)
  std::uint64_t cache_hits = 0;  // answered from the cache
  std::uint64_t joined = 0;      // joined a query already queued or in progress
  std::uint64_t queries = 0;     // names asked of the backend
  std::uint64_t queue_full = 0;  // refused: the queue was full
  std::size_t in_flight = 0;     // queries in progress now
  std::size_t queued = 0;        // names waiting now
};

namespace detail {

/// How the resolver asks: c-ares or getaddrinfo. One instance per NameResolver, used from its
/// executor's thread only.
class ResolverBackend {
 public:
  struct Answer {
    LookupAnswer answer;
    std::optional<std::chrono::seconds> ttl;  // nullopt: unknown
  };
  using Done = std::function<void(Answer)>;
  virtual ~ResolverBackend() = default;
  /// Asks for the addresses of `name`; `done` runs once, later (never within this call), on the
  /// executor, unless the backend is destroyed first (then never).
  virtual void query(const std::string& name, Done done) = 0;
};

/// c-ares off Windows (name_resolver_posix.cpp), getaddrinfo on Windows
/// (name_resolver_windows.cpp): CMake chooses the file.
std::unique_ptr<ResolverBackend> make_native_backend(boost::asio::any_io_executor executor,
                                                     const ResolverOptions& options);
/// getaddrinfo on a pool of threads (name_resolver_system.cpp), on every platform.
std::unique_ptr<ResolverBackend> make_system_backend(boost::asio::any_io_executor executor,
                                                     const ResolverOptions& options);

}  // namespace detail

/// Runs on `executor`, which must be single-threaded (or a strand), as every caller must be
/// running on it. Destroying it ends the lookups still waiting as cancelled.
class NameResolver {
 public:
  using Clock = std::chrono::steady_clock;

  NameResolver(boost::asio::any_io_executor executor, ResolverOptions options = {});
  ~NameResolver();
  NameResolver(const NameResolver&) = delete;
  NameResolver& operator=(const NameResolver&) = delete;

  /// The addresses of `name` by `deadline`: an IP literal at once, a name under ".invalid"
  /// (RFC 6761) as not_found without asking anyone, a name from the cache, or the answer of a
  /// query (shared with every lookup of the same name meanwhile). At the deadline: timeout (the
  /// query goes on and fills the cache); cancelled by the caller: cancelled. Never throws.
  boost::asio::awaitable<LookupResult> lookup(SharedText name, Clock::time_point deadline);

  /// The first address the cache holds for `name` now, counted as a lookup answered from the
  /// cache; nullopt, with nothing counted, when it holds none (unknown, expired, or a failure:
  /// then ask lookup()). Lets a probe started outside a coroutine (the UDP callback path) use
  /// the answer its target's other checks already got, at the cost of a table look-up.
  std::optional<boost::asio::ip::address> cached_address(std::string_view name);

  /// A test seam: the backend to ask instead of the one the options name.
  NameResolver(boost::asio::any_io_executor executor, ResolverOptions options,
               std::unique_ptr<detail::ResolverBackend> backend);

  ResolverStats stats() const;
  const ResolverOptions& options() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

}  // namespace kscprobe
