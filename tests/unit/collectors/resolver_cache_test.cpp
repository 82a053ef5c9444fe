// The resolver's cache: answers kept for their TTL within a floor and a ceiling, failures
// briefly (a name that does not exist longer than a server that failed), names without case,
// at most N entries (the least recently used goes).
#include "collectors/resolver_cache.hpp"

#include <gtest/gtest.h>

namespace kscprobe {
namespace {

using namespace std::chrono_literals;
using Clock = ResolverCache::Clock;

LookupAnswer found(const char* address) {
  LookupAnswer a;
  a.status = LookupStatus::ok;
  a.addresses.push_back(boost::asio::ip::make_address(address));
  return a;
}

LookupAnswer failure(LookupStatus status) {
  LookupAnswer a;
  a.status = status;
  a.detail = std::string(to_string(status));
  return a;
}

ResolverCache::Limits limits() {
  ResolverCache::Limits l;
  l.max_entries = 3;
  l.min_ttl = 10s;
  l.max_ttl = 100s;
  l.not_found_ttl = 7s;
  l.failure_ttl = 2s;
  return l;
}

const Clock::time_point t0{};

TEST(ResolverCache, KeepsAnAnswerForItsTtl) {
  ResolverCache cache(limits());
  cache.store("agent01.corp", found("10.0.0.1"), 30s, t0);
  const LookupAnswer* hit = cache.find("agent01.corp", t0 + 29s);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->status, LookupStatus::ok);
  EXPECT_EQ(hit->addresses.at(0).to_string(), "10.0.0.1");
  EXPECT_EQ(cache.find("agent01.corp", t0 + 30s), nullptr);
  EXPECT_EQ(cache.size(), 0u) << "an expired entry is removed when met";
}

TEST(ResolverCache, TtlIsClampedBetweenTheFloorAndTheCeiling) {
  ResolverCache cache(limits());
  cache.store("zero.corp", found("10.0.0.1"), 0s, t0);
  cache.store("long.corp", found("10.0.0.2"), 86400s, t0);
  cache.store("unknown.corp", found("10.0.0.3"), std::nullopt, t0);
  EXPECT_NE(cache.find("zero.corp", t0 + 9s), nullptr) << "a TTL of 0 is kept for the floor";
  EXPECT_EQ(cache.find("zero.corp", t0 + 10s), nullptr);
  EXPECT_NE(cache.find("long.corp", t0 + 99s), nullptr);
  EXPECT_EQ(cache.find("long.corp", t0 + 100s), nullptr) << "a day's TTL stops at the ceiling";
  EXPECT_NE(cache.find("unknown.corp", t0 + 9s), nullptr) << "no TTL (getaddrinfo): the floor";
  EXPECT_EQ(cache.find("unknown.corp", t0 + 10s), nullptr);
}

TEST(ResolverCache, FailuresAreKeptBrieflyAndNotFoundLongerThanServerFailures) {
  ResolverCache cache(limits());
  cache.store("nx.corp", failure(LookupStatus::not_found), 3600s, t0);
  cache.store("servfail.corp", failure(LookupStatus::failed), 3600s, t0);
  cache.store("silent.corp", failure(LookupStatus::timeout), std::nullopt, t0);
  ASSERT_NE(cache.find("nx.corp", t0 + 6s), nullptr);
  EXPECT_EQ(cache.find("nx.corp", t0 + 6s)->status, LookupStatus::not_found);
  EXPECT_EQ(cache.find("nx.corp", t0 + 7s), nullptr) << "the server's TTL is not used";
  EXPECT_NE(cache.find("servfail.corp", t0 + 1s), nullptr);
  EXPECT_EQ(cache.find("servfail.corp", t0 + 2s), nullptr);
  EXPECT_NE(cache.find("silent.corp", t0 + 1s), nullptr);
  EXPECT_EQ(cache.find("silent.corp", t0 + 2s), nullptr);
}

TEST(ResolverCache, OwnLimitsAndCancelledLookupsAreNeverKept) {
  ResolverCache cache(limits());
  cache.store("a.corp", failure(LookupStatus::queue_full), 60s, t0);
  cache.store("b.corp", failure(LookupStatus::cancelled), 60s, t0);
  EXPECT_EQ(cache.find("a.corp", t0), nullptr);
  EXPECT_EQ(cache.find("b.corp", t0), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ResolverCache, NamesAreComparedWithoutCase) {
  ResolverCache cache(limits());
  cache.store("Agent01.CORP", found("10.0.0.1"), 30s, t0);
  EXPECT_NE(cache.find("agent01.corp", t0 + 1s), nullptr);
  EXPECT_NE(cache.find("AGENT01.corp", t0 + 1s), nullptr);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ResolverCache, ANewAnswerReplacesTheOld) {
  ResolverCache cache(limits());
  cache.store("a.corp", found("10.0.0.1"), 30s, t0);
  cache.store("a.corp", found("10.0.0.9"), 30s, t0 + 20s);
  const LookupAnswer* hit = cache.find("a.corp", t0 + 45s);
  ASSERT_NE(hit, nullptr) << "the new answer's TTL runs from its own store";
  EXPECT_EQ(hit->addresses.at(0).to_string(), "10.0.0.9");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ResolverCache, AtMostMaxEntriesTheLeastRecentlyUsedGoes) {
  ResolverCache cache(limits());
  cache.store("a.corp", found("10.0.0.1"), 60s, t0);
  cache.store("b.corp", found("10.0.0.2"), 60s, t0);
  cache.store("c.corp", found("10.0.0.3"), 60s, t0);
  ASSERT_NE(cache.find("a.corp", t0 + 1s), nullptr);  // a is now the most recent
  cache.store("d.corp", found("10.0.0.4"), 60s, t0 + 2s);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.find("b.corp", t0 + 3s), nullptr) << "b was the least recently used";
  EXPECT_NE(cache.find("a.corp", t0 + 3s), nullptr);
  EXPECT_NE(cache.find("c.corp", t0 + 3s), nullptr);
  EXPECT_NE(cache.find("d.corp", t0 + 3s), nullptr);
}

TEST(ResolverCache, ThousandsOfNamesStayWithinTheBound) {
  ResolverCache::Limits l = limits();
  l.max_entries = 1000;
  ResolverCache cache(l);
  for (int i = 0; i < 5000; ++i) {
    cache.store("n" + std::to_string(i) + ".corp", found("10.0.0.1"), 60s, t0);
  }
  EXPECT_EQ(cache.size(), 1000u);
  EXPECT_NE(cache.find("n4999.corp", t0), nullptr);
  EXPECT_EQ(cache.find("n0.corp", t0), nullptr);
}

}  // namespace
}  // namespace kscprobe
