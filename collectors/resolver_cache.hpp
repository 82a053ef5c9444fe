#pragma once
// The answers of the name resolver (name_resolver.hpp), kept for their TTL. Pure data, with the
// time passed in, so its rules are tested without a clock or a DNS server.
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "platform/enum_table.hpp"

namespace kscprobe {

/// How a lookup ended.
enum class LookupStatus : std::uint8_t {
  ok,          // addresses found
  not_found,   // the name does not exist or has no address (NXDOMAIN, NODATA, RFC 6761 names)
  failed,      // the DNS server failed (SERVFAIL, refused, a malformed answer)
  timeout,     // the DNS server did not answer, or not before the caller's deadline
  queue_full,  // kscprobe's own limit: too many names waiting; no query was sent
  cancelled,   // the caller or the resolver stopped
};
inline constexpr EnumName<LookupStatus> kLookupStatusRows[] = {
    {LookupStatus::ok, "ok"},
    {LookupStatus::not_found, "not_found"},
    {LookupStatus::failed, "failed"},
    {LookupStatus::timeout, "timeout"},
    {LookupStatus::queue_full, "queue_full"},
    {LookupStatus::cancelled, "cancelled"}};
inline constexpr EnumTable kLookupStatuses{kLookupStatusRows};
inline std::string_view to_string(LookupStatus s) { return kLookupStatuses.name(s); }

/// The answer of a lookup, as the resolver hands it out and the cache keeps it.
struct LookupAnswer {
  LookupStatus status = LookupStatus::failed;
  /// In the order to try (RFC 6724, as getaddrinfo sorts them); never empty when ok.
  std::vector<boost::asio::ip::address> addresses;
  /// Why it failed, for a probe's detail ("NXDOMAIN: Domain name not found").
  std::string detail;
};

/// At most `max_entries` answers by name, each until its TTL runs out. An address answer lives
/// for its TTL clamped to [min_ttl, max_ttl] (a TTL of 0 or of hours must neither make every
/// check ask again nor keep a moved host's old address all day); a name that does not exist
/// for `not_found_ttl`, a failed or unanswered lookup for `failure_ttl` (short: the server may
/// be back at the next check). Names are compared without case. When full, the entry used
/// least recently goes. Lookups that cannot be repeated usefully (queue_full, cancelled) are
/// never stored.
///
/// An entry is one node of the table: the answer's first address inline, the order of use as
/// links inside the entries, and the rare rest (more addresses, a failure's detail) apart, so
/// a name answered with one address costs its node and its key only (the 100 000-agent estate
/// by names keeps 101 010 of them).
class ResolverCache {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    std::size_t max_entries = 200000;
    std::chrono::seconds min_ttl{5};
    std::chrono::seconds max_ttl{300};
    std::chrono::seconds not_found_ttl{5};
    std::chrono::seconds failure_ttl{2};
  };

  explicit ResolverCache(Limits limits);
  ~ResolverCache();
  ResolverCache(const ResolverCache&) = delete;
  ResolverCache& operator=(const ResolverCache&) = delete;

  /// The answer kept for `name` at `now`, or nullopt (unknown or expired: an expired entry is
  /// removed); counts as a use.
  std::optional<LookupAnswer> find(std::string_view name, Clock::time_point now);

  /// The first address kept for `name` at `now` when the answer kept is one of addresses (the
  /// address a probe connects to), without copying the answer; counts as a use.
  std::optional<boost::asio::ip::address> find_first(std::string_view name, Clock::time_point now);

  /// Keeps `answer` for `name` from `now`; `ttl` is the DNS server's (nullopt: unknown, as from
  /// getaddrinfo: min_ttl) and applies to address answers only.
  void store(std::string_view name, const LookupAnswer& answer,
             std::optional<std::chrono::seconds> ttl, Clock::time_point now);

  /// How long `answer` with the server's `ttl` is kept: the rules above.
  std::chrono::seconds lifetime(const LookupAnswer& answer,
                                std::optional<std::chrono::seconds> ttl) const;

  std::size_t size() const { return entries_.size(); }
  const Limits& limits() const { return limits_; }

  /// The key of `name`: lower case, so that "Agent01.corp" and "agent01.corp" share one entry.
  static std::string key(std::string_view name);

 private:
  // What few answers have: the addresses after the first, a failure's detail.
  struct Rest {
    std::vector<boost::asio::ip::address> more;
    std::string detail;
  };
  struct Entry {
    Clock::time_point expires;
    // The order of use, most recent at head_: the neighbours' entries (a node never moves).
    Entry* newer = nullptr;
    Entry* older = nullptr;
    const std::string* key = nullptr;  // the node's own key
    boost::asio::ip::address first;    // an address answer's first address
    LookupStatus status = LookupStatus::failed;
    std::unique_ptr<Rest> rest;
  };
  // Keys are lower case; a name is looked up as it is written, compared without case, so that a
  // hit makes no key (the lookup of a cached name allocates nothing).
  struct CaseBlindHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept;
  };
  struct CaseBlindEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept;
  };
  using Table = std::unordered_map<std::string, Entry, CaseBlindHash, CaseBlindEqual>;

  // The live entry of `name` at `now`, made the most recent; null when none.
  Entry* use(std::string_view name, Clock::time_point now);
  void assign(Entry& e, const LookupAnswer& answer, Clock::time_point expires);
  void link_front(Entry& e);
  void unlink(Entry& e);
  void erase(Table::iterator it);

  Limits limits_;
  Table entries_;
  Entry* head_ = nullptr;  // most recently used
  Entry* tail_ = nullptr;  // least recently used: evicted when full
};

}  // namespace kscprobe
