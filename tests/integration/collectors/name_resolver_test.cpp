// The probers' name resolver against a DNS server of the test's own (tests/support/fake_dns):
// names asked at once rather than one after another, each name once within its TTL however
// many lookups want it, failures kept briefly, a server that never answers bounded by the
// caller's deadline, a full queue reported as the resolver's own limit, /etc/hosts and IP
// literals without a query.
#include "collectors/name_resolver.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "collectors/datagram_mux.hpp"
#include "collectors/error_mapping.hpp"
#include "collectors/tls_context_cache.hpp"
#include "collectors/udp_prober.hpp"
#include "tests/support/fake_dns.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

using Clock = NameResolver::Clock;

ResolverOptions options_for(const FakeDnsServer& dns) {
  ResolverOptions o;
  o.test_server = dns.server();
  return o;
}

// Looks every name up at once; returns the results in the order of `names`, and the wall time.
std::vector<LookupResult> lookup_all(asio::io_context& io, NameResolver& resolver,
                                     const std::vector<std::string>& names,
                                     std::chrono::milliseconds timeout, double* seconds = nullptr) {
  std::vector<LookupResult> out(names.size());
  std::size_t done = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < names.size(); ++i) {
    asio::co_spawn(io, resolver.lookup(names[i], start + timeout),
                   [&, i](std::exception_ptr e, LookupResult r) {
                     if (e) std::rethrow_exception(e);
                     out[i] = std::move(r);
                     ++done;
                   });
  }
  io.restart();
  while (done < names.size() && io.run_one_for(timeout + std::chrono::seconds(10)) > 0) {
  }
  EXPECT_EQ(done, names.size()) << "lookups left unfinished";
  if (seconds != nullptr) *seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

std::vector<std::string> numbered_names(int n, const std::string& suffix = ".estate.test") {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("agent" + std::to_string(i) + suffix);
  return names;
}

TEST(NameResolverDns, TwoThousandNamesResolveAtOnceNotOneAfterAnother) {
  FakeDnsServer dns({.delay = std::chrono::milliseconds(20), .ttl = 60});
  asio::io_context io;
  NameResolver resolver(io.get_executor(), options_for(dns));
  auto names = numbered_names(2000);
  double seconds = 0;
  auto results = lookup_all(io, resolver, names, std::chrono::seconds(30), &seconds);
  for (std::size_t i = 0; i < names.size(); ++i) {
    ASSERT_EQ(results[i].status, LookupStatus::ok) << names[i] << ": " << results[i].detail;
    EXPECT_EQ(results[i].addresses.front().to_string(), "127.0.0.1");
  }
  // One after another: 2000 x 20 ms = 40 s. At once (256 in flight): a few rounds of 20 ms.
  EXPECT_LT(seconds, 8.0) << "2000 names took " << seconds << " s";
  EXPECT_EQ(dns.names(), 2000u);
  EXPECT_EQ(dns.most_queries_of_one_name(), 1u);
  EXPECT_EQ(resolver.stats().queries, 2000u);
  std::printf("[ resolve ] 2000 names, server answering in 20 ms: %.2f s\n", seconds);
}

// The names benchmark's server: each name its own address, an unknown one NXDOMAIN, and the
// queries it received counted by the second.
TEST(NameResolverDns, EachNameGetsItsOwnAddressAndQueriesAreCountedBySecond) {
  FakeDnsServer dns(
      {.ttl = 60,
       .address_of = [](const std::string& name) -> std::optional<boost::asio::ip::address_v4> {
         if (name == "a1.estate.test") return boost::asio::ip::make_address_v4("127.1.0.1");
         if (name == "a2.estate.test") return boost::asio::ip::make_address_v4("127.1.0.2");
         return std::nullopt;
       }});
  asio::io_context io;
  NameResolver resolver(io.get_executor(), options_for(dns));
  auto results = lookup_all(io, resolver, {"a1.estate.test", "A2.Estate.Test", "a3.estate.test"},
                            std::chrono::seconds(5));
  ASSERT_EQ(results[0].status, LookupStatus::ok) << results[0].detail;
  EXPECT_EQ(results[0].addresses.front().to_string(), "127.1.0.1");
  ASSERT_EQ(results[1].status, LookupStatus::ok) << results[1].detail;
  EXPECT_EQ(results[1].addresses.front().to_string(), "127.1.0.2");
  EXPECT_EQ(results[2].status, LookupStatus::not_found) << results[2].detail;
  const auto by_second = dns.queries_by_second();
  std::uint64_t sum = 0;
  for (auto n : by_second) sum += n;
  EXPECT_FALSE(by_second.empty());
  EXPECT_EQ(sum, dns.queries());
  EXPECT_GE(sum, 3u);
}

TEST(NameResolverDns, EachNameIsAskedOnceWithinItsTtl) {
  FakeDnsServer dns({.delay = std::chrono::milliseconds(50), .ttl = 60});
  asio::io_context io;
  NameResolver resolver(io.get_executor(), options_for(dns));
  // 100 lookups of one name at once join one query...
  std::vector<std::string> same(100, "ksc01.corp.test");
  auto first = lookup_all(io, resolver, same, std::chrono::seconds(5));
  for (const auto& r : first) EXPECT_EQ(r.status, LookupStatus::ok) << r.detail;
  EXPECT_EQ(dns.queries_for("ksc01.corp.test"), 1u);
  EXPECT_EQ(resolver.stats().joined, 99u);
  // ...and later ones, in any case, come from the cache.
  for (const char* name : {"ksc01.corp.test", "KSC01.Corp.Test"}) {
    LookupResult again = run_lookup(io, resolver, name);
    EXPECT_EQ(again.status, LookupStatus::ok) << again.detail;
    EXPECT_TRUE(again.cached);
  }
  EXPECT_EQ(dns.queries_for("ksc01.corp.test"), 1u);
}

TEST(NameResolverDns, AnAnswerIsAskedAgainWhenItsTtlRunsOut) {
  FakeDnsServer dns({.ttl = 1});
  asio::io_context io;
  ResolverOptions o = options_for(dns);
  o.cache.min_ttl = std::chrono::seconds(1);
  NameResolver resolver(io.get_executor(), o);
  EXPECT_EQ(run_lookup(io, resolver, "short.corp.test").status, LookupStatus::ok);
  EXPECT_TRUE(run_lookup(io, resolver, "short.corp.test").cached);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  LookupResult later = run_lookup(io, resolver, "short.corp.test");
  EXPECT_EQ(later.status, LookupStatus::ok);
  EXPECT_FALSE(later.cached);
  EXPECT_EQ(dns.queries_for("short.corp.test"), 2u);
}

TEST(NameResolverDns, AFailureIsKeptBriefly) {
  FakeDnsServer dns({});
  asio::io_context io;
  ResolverOptions o = options_for(dns);
  o.cache.not_found_ttl = std::chrono::seconds(1);
  o.cache.failure_ttl = std::chrono::seconds(1);
  o.tries = 1;
  NameResolver resolver(io.get_executor(), o);
  LookupResult nx = run_lookup(io, resolver, "nx.corp.test");
  EXPECT_EQ(nx.status, LookupStatus::not_found) << nx.detail;
  LookupResult servfail = run_lookup(io, resolver, "servfail.corp.test");
  EXPECT_EQ(servfail.status, LookupStatus::failed) << servfail.detail;
  EXPECT_EQ(map_lookup_failure(nx, "nx.corp.test").reason, Reason::resolve);
  EXPECT_EQ(map_lookup_failure(servfail, "servfail.corp.test").reason, Reason::resolve);

  // Within the failure's time: from the cache, no new query.
  const auto asked = dns.queries_for("nx.corp.test");
  EXPECT_EQ(run_lookup(io, resolver, "nx.corp.test").status, LookupStatus::not_found);
  EXPECT_TRUE(run_lookup(io, resolver, "servfail.corp.test").cached);
  EXPECT_EQ(dns.queries_for("nx.corp.test"), asked);
  // After it: asked again (the name may exist by now).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_FALSE(run_lookup(io, resolver, "nx.corp.test").cached);
  EXPECT_GT(dns.queries_for("nx.corp.test"), asked);
}

TEST(NameResolverDns, AServerThatNeverAnswersEndsAtTheCallersDeadline) {
  FakeDnsServer dns({.answer = false});
  asio::io_context io;
  NameResolver resolver(io.get_executor(), options_for(dns));
  const auto start = Clock::now();
  LookupResult r = run_lookup(io, resolver, "silent.corp.test", std::chrono::milliseconds(300));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(r.status, LookupStatus::timeout) << r.detail;
  EXPECT_GE(seconds, 0.29);
  EXPECT_LT(seconds, 1.0);
  EXPECT_GE(dns.queries_for("silent.corp.test"), 1u);
}

TEST(NameResolverDns, AProbeOfANameTheServerNeverAnswersTimesOutWithinItsDeadline) {
  FakeDnsServer dns({.answer = false});
  asio::io_context io;
  TlsContextCache cache;
  NameResolver resolver(io.get_executor(), options_for(dns));
  ProbeEnv env{io.get_executor(), &cache, nullptr, nullptr, &resolver};
  for (Transport transport : {Transport::tcp, Transport::udp}) {
    Probed p = probe(io, make_spec(transport, "silent.corp.test", 9, Duration(400)), env);
    EXPECT_EQ(p.result.reason, Reason::timeout) << p.result.detail;
    EXPECT_EQ(p.result.detail, "no reply within 400ms during resolve");
    EXPECT_LT(p.wall_seconds, 1.0);
  }
}

TEST(NameResolverDns, AProbeOfANameUsesTheAnswer) {
  FakeDnsServer dns({.ttl = 60});
  asio::io_context io;
  TlsContextCache cache;
  NameResolver resolver(io.get_executor(), options_for(dns));
  ProbeEnv env{io.get_executor(), &cache, nullptr, nullptr, &resolver};
  std::uint16_t closed = closed_tcp_port();
  // Two checks of one target: one query, both refused by the address the server gave.
  for (int i = 0; i < 2; ++i) {
    Probed p = probe(io, make_spec(Transport::tcp, "agent7.estate.test", closed), env);
    EXPECT_EQ(p.result.reason, Reason::refused) << p.result.detail;
  }
  EXPECT_EQ(dns.queries_for("agent7.estate.test"), 1u);
  Probed nx = probe(io, make_spec(Transport::tcp, "nx.estate.test", closed), env);
  EXPECT_EQ(nx.result.reason, Reason::resolve);
  EXPECT_NE(nx.result.detail.find("cannot resolve nx.estate.test"), std::string::npos)
      << nx.result.detail;
}

// A UDP check of a name on the shared sockets starts as the scheduler starts an address's: a
// callback (start_udp_probe), with the name's cached answer at once or a lookup first, so no
// coroutine waits through the timeout of each of 100 000 agents' checks. The result is what the
// coroutine path says: refused by the address the server gave, a resolve phase measured, a
// lookup cut short by cancellation or the deadline said to be that.
TEST(NameResolverDns, AUdpCheckOfANameTakesTheCallbackPath) {
  FakeDnsServer dns({.delay = std::chrono::milliseconds(20), .ttl = 60});
  FakeDnsServer silent({.answer = false});
  asio::io_context io;
  TlsContextCache cache;
  DatagramMux mux(io.get_executor());
  NameResolver resolver(io.get_executor(), options_for(dns));
  NameResolver silent_resolver(io.get_executor(), options_for(silent));
  ProbeEnv env{io.get_executor(), &cache, &mux, nullptr, &resolver};
  ProbeEnv silent_env{io.get_executor(), &cache, &mux, nullptr, &silent_resolver};
  const std::uint16_t closed = closed_udp_port();

  auto start = [&](const CheckSpec& spec, ProbeEnv& e, asio::cancellation_slot slot,
                   std::optional<ProbeResult>* out) {
    std::function<void(ProbeResult)> done = [out](ProbeResult r) { *out = std::move(r); };
    const bool taken = start_udp_probe(spec, e, slot, done);
    io.restart();
    while (taken && !*out && io.run_one_for(std::chrono::seconds(5)) > 0) {
    }
    return taken;
  };

  // The first check asks the server; the second, of the same target, takes its answer.
  const CheckSpec spec = make_spec(Transport::udp, "agent7.estate.test", closed, Duration(1000));
  for (int i = 0; i < 2; ++i) {
    std::optional<ProbeResult> r;
    ASSERT_TRUE(start(spec, env, {}, &r)) << "a name left to the coroutine path";
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->reason, Reason::refused) << r->detail;
    if (i == 0) {
      EXPECT_GE(r->phase(Phase::resolve), 0.015) << "the lookup's 20 ms";
    }
  }
  EXPECT_EQ(dns.queries_for("agent7.estate.test"), 1u);
  EXPECT_EQ(resolver.stats().lookups, 2u);
  EXPECT_EQ(resolver.stats().cache_hits, 1u);

  // A name that does not exist fails as it does on the coroutine path.
  std::optional<ProbeResult> nx;
  ASSERT_TRUE(start(make_spec(Transport::udp, "nx.estate.test", closed), env, {}, &nx));
  ASSERT_TRUE(nx.has_value());
  EXPECT_EQ(nx->reason, Reason::resolve);
  EXPECT_NE(nx->detail.find("cannot resolve nx.estate.test"), std::string::npos) << nx->detail;

  // A server that never answers: the probe's deadline, during resolve.
  const auto t0 = Clock::now();
  std::optional<ProbeResult> late;
  ASSERT_TRUE(
      start(make_spec(Transport::udp, "quiet.corp.test", 9, Duration(300)), silent_env, {}, &late));
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->reason, Reason::timeout);
  EXPECT_EQ(late->detail, "no reply within 300ms during resolve");
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 1.0);

  // Cancelled while it resolves (a reload, a stop): at once, and said to be that.
  asio::cancellation_signal cancel;
  asio::steady_timer soon(io, std::chrono::milliseconds(50));
  soon.async_wait(
      [&](boost::system::error_code) { cancel.emit(asio::cancellation_type::terminal); });
  const auto t1 = Clock::now();
  std::optional<ProbeResult> cut;
  ASSERT_TRUE(start(make_spec(Transport::udp, "quiet2.corp.test", 9, Duration(5000)), silent_env,
                    cancel.slot(), &cut));
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->reason, Reason::timeout);
  EXPECT_EQ(cut->detail, "cancelled during resolve");
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t1).count(), 1.0);
}

TEST(NameResolverDns, AFullQueueIsTheResolversOwnLimitNotATimeout) {
  FakeDnsServer dns({.answer = false});
  asio::io_context io;
  ResolverOptions o = options_for(dns);
  o.max_in_flight = 2;
  o.max_queued = 3;
  NameResolver resolver(io.get_executor(), o);
  auto names = numbered_names(8);
  names.push_back("agent0.estate.test");  // joins its query: never refused
  auto results = lookup_all(io, resolver, names, std::chrono::milliseconds(300));
  int full = 0, waited = 0;
  for (const auto& r : results) {
    if (r.status == LookupStatus::queue_full) ++full;
    if (r.status == LookupStatus::timeout) ++waited;
  }
  EXPECT_EQ(full, 3);
  EXPECT_EQ(waited, 6);
  EXPECT_EQ(results.back().status, LookupStatus::timeout);
  EXPECT_EQ(resolver.stats().queue_full, 3u);
  MappedError m = map_lookup_failure(results[7], names[7]);
  // kscprobe's own fault: no reason about the target at all, and counted as resolver_queue.
  EXPECT_EQ(m.reason, Reason::none);
  EXPECT_EQ(m.local, LocalFault::resolver_queue);
  EXPECT_EQ(to_string(m.local), "resolver_queue");
  EXPECT_NE(m.detail.find("resolver queue full"), std::string::npos) << m.detail;
  // Names nobody waits for any more are dropped from the queue, not asked.
  EXPECT_EQ(dns.names(), 2u);
}

TEST(NameResolverDns, EtcHostsAndLiteralsNeedNoQuery) {
  FakeDnsServer dns({.answer = false});
  asio::io_context io;
  NameResolver resolver(io.get_executor(), options_for(dns));
  LookupResult local = run_lookup(io, resolver, "localhost");
  ASSERT_EQ(local.status, LookupStatus::ok) << local.detail;
  EXPECT_TRUE(local.addresses.front().is_loopback());
  for (const char* literal : {"127.0.0.5", "::1", "[::1]"}) {
    LookupResult r = run_lookup(io, resolver, literal);
    ASSERT_EQ(r.status, LookupStatus::ok) << literal;
    EXPECT_TRUE(r.addresses.front().is_loopback());
  }
  LookupResult invalid = run_lookup(io, resolver, "agent.corp.invalid.");
  EXPECT_EQ(invalid.status, LookupStatus::not_found);
  EXPECT_NE(invalid.detail.find("RFC 6761"), std::string::npos);
  EXPECT_EQ(dns.queries(), 0u);
  EXPECT_EQ(resolver.stats().lookups, 1u) << "only localhost was a name to look up";
}

TEST(NameResolverDns, NamesOfTheHostsFileAreAnsweredFromItAndItsChangesAreSeen) {
  FakeDnsServer dns({});
  const auto path = std::filesystem::temp_directory_path() /
                    ("kscprobe-resolver-hosts-" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::trunc) << "127.3.0.1 agent-h.corp.test agent-h\n";
  asio::io_context io;
  ResolverOptions o = options_for(dns);
  o.hosts_file = path.string();
  o.cache.min_ttl = std::chrono::seconds(0);  // a file's answer is not kept: the file is asked
  NameResolver resolver(io.get_executor(), o);
  for (const char* name : {"agent-h.corp.test", "AGENT-H"}) {
    LookupResult r = run_lookup(io, resolver, name);
    ASSERT_EQ(r.status, LookupStatus::ok) << name << ": " << r.detail;
    EXPECT_EQ(r.addresses.front().to_string(), "127.3.0.1") << name;
  }
  EXPECT_EQ(dns.queries(), 0u) << "a name of the hosts file is not asked of the DNS server";

  // Edited while running: seen within a second, still without a query.
  std::ofstream(path, std::ios::trunc) << "# moved\n127.3.0.2 agent-h.corp.test\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  LookupResult moved = run_lookup(io, resolver, "agent-h.corp.test");
  ASSERT_EQ(moved.status, LookupStatus::ok) << moved.detail;
  EXPECT_EQ(moved.addresses.front().to_string(), "127.3.0.2");
  EXPECT_EQ(dns.queries(), 0u);

  // A name the file does not hold is asked of the DNS server.
  EXPECT_EQ(run_lookup(io, resolver, "agent-dns.corp.test").status, LookupStatus::ok);
  EXPECT_EQ(dns.queries_for("agent-dns.corp.test"), 1u);
  std::filesystem::remove(path);
}

TEST(NameResolverDns, DestroyingTheResolverEndsItsLookupsAsCancelled) {
  FakeDnsServer dns({.answer = false});
  asio::io_context io;
  auto resolver = std::make_unique<NameResolver>(io.get_executor(), options_for(dns));
  LookupResult out;
  bool done = false;
  asio::co_spawn(io, resolver->lookup("silent.corp.test", Clock::now() + std::chrono::seconds(30)),
                 [&](std::exception_ptr, LookupResult r) {
                   out = std::move(r);
                   done = true;
                 });
  io.run_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(done);
  resolver.reset();
  io.restart();
  io.run_for(std::chrono::seconds(2));
  EXPECT_TRUE(done);
  EXPECT_EQ(out.status, LookupStatus::cancelled);
}

TEST(NameResolverSystem, GetaddrinfoBackendResolvesEtcHosts) {
  asio::io_context io;
  ResolverOptions o;
  o.backend = ResolverOptions::Backend::system;
  NameResolver resolver(io.get_executor(), o);
  LookupResult local = run_lookup(io, resolver, "localhost");
  ASSERT_EQ(local.status, LookupStatus::ok) << local.detail;
  EXPECT_TRUE(local.addresses.front().is_loopback());
  EXPECT_TRUE(run_lookup(io, resolver, "LOCALHOST").cached);
}

// AAAA records are asked only when the host has an IPv6 address to use them with (neither
// loopback nor link-local), as getaddrinfo's AI_ADDRCONFIG: in a namespace with loopback alone,
// A only; once an interface holds a routable IPv6 address, both.
TEST(NameResolverNetns, AaaaIsAskedOnlyWhenTheHostHasARoutableIpv6Address) {
  ScopedNetns ns;
  ASSERT_TRUE(ns.ok()) << ns.error();
  FakeDnsServer dns({});
  {
    asio::io_context io;
    NameResolver resolver(io.get_executor(), options_for(dns));
    EXPECT_EQ(run_lookup(io, resolver, "v4only.estate.test").status, LookupStatus::ok);
    EXPECT_EQ(dns.queries_for("v4only.estate.test", FakeDnsServer::kTypeA), 1u);
    EXPECT_EQ(dns.queries_for("v4only.estate.test", FakeDnsServer::kTypeAaaa), 0u)
        << "no IPv6 address but loopback: AAAA would be an answer nobody can use";
  }
  ASSERT_TRUE(
      ns.run("ip link add kp-v6 type veth peer name kp-v6b && ip link set kp-v6 up && "
             "ip -6 addr add 2001:db8:95::1/64 dev kp-v6 nodad"))
      << ns.error();
  {
    asio::io_context io;
    NameResolver resolver(io.get_executor(), options_for(dns));
    EXPECT_EQ(run_lookup(io, resolver, "dual.estate.test").status, LookupStatus::ok);
    EXPECT_EQ(dns.queries_for("dual.estate.test", FakeDnsServer::kTypeA), 1u);
    EXPECT_EQ(dns.queries_for("dual.estate.test", FakeDnsServer::kTypeAaaa), 1u);
  }
}

}  // namespace
}  // namespace kscprobe::test
