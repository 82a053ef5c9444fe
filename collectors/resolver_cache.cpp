#include "collectors/resolver_cache.hpp"

#include <algorithm>

namespace kscprobe {

ResolverCache::ResolverCache(Limits limits) : limits_(limits) {
  limits_.max_entries = std::max<std::size_t>(limits_.max_entries, 1);
  limits_.max_ttl = std::max(limits_.max_ttl, limits_.min_ttl);
}

std::string ResolverCache::key(std::string_view name) {
  std::string k(name);
  for (char& c : k) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return k;
}

const LookupAnswer* ResolverCache::find(std::string_view name, Clock::time_point now) {
  auto it = entries_.find(key(name));
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= now) {
    erase(it);
    return nullptr;
  }
  recency_.splice(recency_.begin(), recency_, it->second.recency);
  return &it->second.answer;
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

void ResolverCache::store(std::string_view name, LookupAnswer answer,
                          std::optional<std::chrono::seconds> ttl, Clock::time_point now) {
  const auto keep = lifetime(answer, ttl);
  std::string k = key(name);
  auto it = entries_.find(k);
  if (keep <= std::chrono::seconds(0)) {
    if (it != entries_.end()) erase(it);
    return;
  }
  if (it != entries_.end()) {
    it->second.answer = std::move(answer);
    it->second.expires = now + keep;
    recency_.splice(recency_.begin(), recency_, it->second.recency);
    return;
  }
  if (entries_.size() >= limits_.max_entries) erase(entries_.find(*recency_.back()));
  auto added = entries_.emplace(std::move(k), Entry{std::move(answer), now + keep, {}}).first;
  recency_.push_front(&added->first);
  added->second.recency = recency_.begin();
}

void ResolverCache::erase(std::unordered_map<std::string, Entry>::iterator it) {
  recency_.erase(it->second.recency);
  entries_.erase(it);
}

}  // namespace kscprobe
