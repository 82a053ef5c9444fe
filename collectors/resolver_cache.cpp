#include "collectors/resolver_cache.hpp"

#include <algorithm>

#include "platform/ascii.hpp"

namespace kscprobe {

ResolverCache::ResolverCache(Limits limits) : limits_(limits) {
  limits_.max_entries = std::max<std::size_t>(limits_.max_entries, 1);
  limits_.max_ttl = std::max(limits_.max_ttl, limits_.min_ttl);
}

ResolverCache::~ResolverCache() = default;

std::string ResolverCache::key(std::string_view name) { return ascii::lower(name); }

std::size_t ResolverCache::CaseBlindHash::operator()(std::string_view name) const noexcept {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a of the lower-case name
  for (char c : name) {
    h ^= static_cast<unsigned char>(ascii::lower(c));
    h *= 1099511628211ull;
  }
  return static_cast<std::size_t>(h);
}

bool ResolverCache::CaseBlindEqual::operator()(std::string_view a,
                                               std::string_view b) const noexcept {
  return ascii::iequals(a, b);
}

ResolverCache::Entry* ResolverCache::use(std::string_view name, Clock::time_point now) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= now) {
    erase(it);
    return nullptr;
  }
  unlink(it->second);
  link_front(it->second);
  return &it->second;
}

std::optional<LookupAnswer> ResolverCache::find(std::string_view name, Clock::time_point now) {
  const Entry* e = use(name, now);
  if (e == nullptr) return std::nullopt;
  LookupAnswer answer;
  answer.status = e->status;
  if (e->status == LookupStatus::ok) answer.addresses.push_back(e->first);
  if (e->rest) {
    answer.addresses.insert(answer.addresses.end(), e->rest->more.begin(), e->rest->more.end());
    answer.detail = e->rest->detail;
  }
  return answer;
}

std::optional<boost::asio::ip::address> ResolverCache::find_first(std::string_view name,
                                                                  Clock::time_point now) {
  const Entry* e = use(name, now);
  if (e == nullptr || e->status != LookupStatus::ok) return std::nullopt;
  return e->first;
}

std::chrono::seconds ResolverCache::lifetime(const LookupAnswer& answer,
                                             std::optional<std::chrono::seconds> ttl) const {
  switch (answer.status) {
    case LookupStatus::ok:
      return std::clamp(ttl.value_or(limits_.min_ttl), limits_.min_ttl, limits_.max_ttl);
    case LookupStatus::not_found:
      return limits_.not_found_ttl;
    case LookupStatus::failed:
    case LookupStatus::timeout:
      return limits_.failure_ttl;
    case LookupStatus::queue_full:
    case LookupStatus::cancelled:
      break;
  }
  return std::chrono::seconds(0);
}

void ResolverCache::assign(Entry& e, const LookupAnswer& answer, Clock::time_point expires) {
  e.expires = expires;
  // An address answer without an address is none: kept as a failure, never as "ok, nothing".
  e.status = answer.status == LookupStatus::ok && answer.addresses.empty() ? LookupStatus::failed
                                                                           : answer.status;
  e.first = e.status == LookupStatus::ok ? answer.addresses.front() : boost::asio::ip::address();
  const bool more = e.status == LookupStatus::ok && answer.addresses.size() > 1;
  if (!more && answer.detail.empty()) {
    e.rest.reset();
    return;
  }
  e.rest = std::make_unique<Rest>();
  if (more) e.rest->more.assign(answer.addresses.begin() + 1, answer.addresses.end());
  e.rest->detail = answer.detail;
}

void ResolverCache::store(std::string_view name, const LookupAnswer& answer,
                          std::optional<std::chrono::seconds> ttl, Clock::time_point now) {
  const auto keep = lifetime(answer, ttl);
  auto it = entries_.find(name);
  if (keep <= std::chrono::seconds(0)) {
    if (it != entries_.end()) erase(it);
    return;
  }
  if (it != entries_.end()) {
    assign(it->second, answer, now + keep);
    unlink(it->second);
    link_front(it->second);
    return;
  }
  if (entries_.size() >= limits_.max_entries) erase(entries_.find(*tail_->key));
  auto added = entries_.try_emplace(key(name)).first;
  added->second.key = &added->first;
  assign(added->second, answer, now + keep);
  link_front(added->second);
}

void ResolverCache::link_front(Entry& e) {
  e.newer = nullptr;
  e.older = head_;
  if (head_ != nullptr) head_->newer = &e;
  head_ = &e;
  if (tail_ == nullptr) tail_ = &e;
}

void ResolverCache::unlink(Entry& e) {
  (e.newer != nullptr ? e.newer->older : head_) = e.older;
  (e.older != nullptr ? e.older->newer : tail_) = e.newer;
  e.newer = e.older = nullptr;
}

void ResolverCache::erase(Table::iterator it) {
  unlink(it->second);
  entries_.erase(it);
}

}  // namespace kscprobe
