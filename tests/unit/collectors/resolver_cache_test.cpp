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
  auto hit = cache.find("agent01.corp", t0 + 29s);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->status, LookupStatus::ok);
  EXPECT_EQ(hit->addresses.at(0).to_string(), "10.0.0.1");
  EXPECT_FALSE(cache.find("agent01.corp", t0 + 30s));
  EXPECT_EQ(cache.size(), 0u) << "an expired entry is removed when met";
}

TEST(ResolverCache, TtlIsClampedBetweenTheFloorAndTheCeiling) {
  ResolverCache cache(limits());
  cache.store("zero.corp", found("10.0.0.1"), 0s, t0);
  cache.store("long.corp", found("10.0.0.2"), 86400s, t0);
  cache.store("unknown.corp", found("10.0.0.3"), std::nullopt, t0);
  EXPECT_TRUE(cache.find("zero.corp", t0 + 9s)) << "a TTL of 0 is kept for the floor";
  EXPECT_FALSE(cache.find("zero.corp", t0 + 10s));
  EXPECT_TRUE(cache.find("long.corp", t0 + 99s));
  EXPECT_FALSE(cache.find("long.corp", t0 + 100s)) << "a day's TTL stops at the ceiling";
  EXPECT_TRUE(cache.find("unknown.corp", t0 + 9s)) << "no TTL (getaddrinfo): the floor";
  EXPECT_FALSE(cache.find("unknown.corp", t0 + 10s));
}

TEST(ResolverCache, FailuresAreKeptBrieflyAndNotFoundLongerThanServerFailures) {
  ResolverCache cache(limits());
  cache.store("nx.corp", failure(LookupStatus::not_found), 3600s, t0);
  cache.store("servfail.corp", failure(LookupStatus::failed), 3600s, t0);
  cache.store("silent.corp", failure(LookupStatus::timeout), std::nullopt, t0);
  ASSERT_TRUE(cache.find("nx.corp", t0 + 6s));
  EXPECT_EQ(cache.find("nx.corp", t0 + 6s)->status, LookupStatus::not_found);
  EXPECT_FALSE(cache.find("nx.corp", t0 + 7s)) << "the server's TTL is not used";
  EXPECT_TRUE(cache.find("servfail.corp", t0 + 1s));
  EXPECT_FALSE(cache.find("servfail.corp", t0 + 2s));
  EXPECT_TRUE(cache.find("silent.corp", t0 + 1s));
  EXPECT_FALSE(cache.find("silent.corp", t0 + 2s));
}

TEST(ResolverCache, OwnLimitsAndCancelledLookupsAreNeverKept) {
  ResolverCache cache(limits());
  cache.store("a.corp", failure(LookupStatus::queue_full), 60s, t0);
  cache.store("b.corp", failure(LookupStatus::cancelled), 60s, t0);
  EXPECT_FALSE(cache.find("a.corp", t0));
  EXPECT_FALSE(cache.find("b.corp", t0));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ResolverCache, NamesAreComparedWithoutCase) {
  ResolverCache cache(limits());
  cache.store("Agent01.CORP", found("10.0.0.1"), 30s, t0);
  EXPECT_TRUE(cache.find("agent01.corp", t0 + 1s));
  EXPECT_TRUE(cache.find("AGENT01.corp", t0 + 1s));
  EXPECT_FALSE(cache.find("agent01.corp.", t0 + 1s));
  EXPECT_FALSE(cache.find("agent02.corp", t0 + 1s));
  // Written another way, the same name replaces its answer.
  cache.store("AGENT01.corp", found("10.0.0.2"), 30s, t0 + 2s);
  EXPECT_EQ(cache.size(), 1u);
  auto hit = cache.find("agent01.CORP", t0 + 3s);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->addresses.front().to_string(), "10.0.0.2");
}

TEST(ResolverCache, ANewAnswerReplacesTheOld) {
  ResolverCache cache(limits());
  cache.store("a.corp", found("10.0.0.1"), 30s, t0);
  cache.store("a.corp", found("10.0.0.9"), 30s, t0 + 20s);
  auto hit = cache.find("a.corp", t0 + 45s);
  ASSERT_TRUE(hit) << "the new answer's TTL runs from its own store";
  EXPECT_EQ(hit->addresses.at(0).to_string(), "10.0.0.9");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ResolverCache, AtMostMaxEntriesTheLeastRecentlyUsedGoes) {
  ResolverCache cache(limits());
  cache.store("a.corp", found("10.0.0.1"), 60s, t0);
  cache.store("b.corp", found("10.0.0.2"), 60s, t0);
  cache.store("c.corp", found("10.0.0.3"), 60s, t0);
  ASSERT_TRUE(cache.find("a.corp", t0 + 1s));  // a is now the most recent
  cache.store("d.corp", found("10.0.0.4"), 60s, t0 + 2s);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("b.corp", t0 + 3s)) << "b was the least recently used";
  EXPECT_TRUE(cache.find("a.corp", t0 + 3s));
  EXPECT_TRUE(cache.find("c.corp", t0 + 3s));
  EXPECT_TRUE(cache.find("d.corp", t0 + 3s));
}

TEST(ResolverCache, EveryAddressInOrderAndAFailuresDetailComeBack) {
  ResolverCache cache(limits());
  LookupAnswer three = found("2001:db8::7");
  three.addresses.push_back(boost::asio::ip::make_address("10.0.0.2"));
  three.addresses.push_back(boost::asio::ip::make_address("10.0.0.3"));
  cache.store("three.corp", three, 30s, t0);
  cache.store("nx.corp", failure(LookupStatus::not_found), 30s, t0);
  auto hit = cache.find("three.corp", t0 + 1s);
  ASSERT_TRUE(hit);
  ASSERT_EQ(hit->addresses.size(), 3u);
  EXPECT_EQ(hit->addresses[0].to_string(), "2001:db8::7");
  EXPECT_EQ(hit->addresses[2].to_string(), "10.0.0.3");
  EXPECT_EQ(hit->detail, "");
  EXPECT_EQ(cache.find_first("three.corp", t0 + 1s)->to_string(), "2001:db8::7");
  auto nx = cache.find("nx.corp", t0 + 1s);
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->status, LookupStatus::not_found);
  EXPECT_TRUE(nx->addresses.empty());
  EXPECT_EQ(nx->detail, "not_found");
  EXPECT_FALSE(cache.find_first("nx.corp", t0 + 1s)) << "a failure has no address to use";
  // A name answered again with one address keeps no trace of the three.
  cache.store("three.corp", found("10.0.0.9"), 30s, t0 + 2s);
  EXPECT_EQ(cache.find("three.corp", t0 + 3s)->addresses.size(), 1u);
}

TEST(ResolverCache, OrderOfUseSurvivesEntriesThatExpireInTheMiddle) {
  ResolverCache cache(limits());
  cache.store("a.corp", found("10.0.0.1"), 60s, t0);
  cache.store("short.corp", failure(LookupStatus::failed), 60s, t0);  // kept 2 s
  cache.store("c.corp", found("10.0.0.3"), 60s, t0);
  EXPECT_FALSE(cache.find("short.corp", t0 + 5s)) << "expired, removed from the middle";
  EXPECT_EQ(cache.size(), 2u);
  ASSERT_TRUE(cache.find_first("a.corp", t0 + 6s));  // a is now the most recent
  cache.store("d.corp", found("10.0.0.4"), 60s, t0 + 7s);
  cache.store("e.corp", found("10.0.0.5"), 60s, t0 + 8s);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("c.corp", t0 + 9s)) << "c was the least recently used";
  EXPECT_TRUE(cache.find("a.corp", t0 + 9s));
  EXPECT_TRUE(cache.find("d.corp", t0 + 9s));
  EXPECT_TRUE(cache.find("e.corp", t0 + 9s));
}

TEST(ResolverCache, ThousandsOfNamesStayWithinTheBound) {
  ResolverCache::Limits l = limits();
  l.max_entries = 1000;
  ResolverCache cache(l);
  for (int i = 0; i < 5000; ++i) {
    cache.store("n" + std::to_string(i) + ".corp", found("10.0.0.1"), 60s, t0);
  }
  EXPECT_EQ(cache.size(), 1000u);
  EXPECT_TRUE(cache.find("n4999.corp", t0));
  EXPECT_FALSE(cache.find("n0.corp", t0));
}

}  // namespace
}  // namespace kscprobe
