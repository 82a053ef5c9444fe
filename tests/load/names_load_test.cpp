// Issue 22's estate by names, in miniature: 5 000 agents named by FQDN, two UDP checks each
// every 5 s (2 000 probes a second), against a DNS server that answers every query in 2 ms with
// a TTL of 5 s, and every port refusing. With lookups one at a time, most checks ended as
// `timeout` "during resolve"; with the resolver, none may. Prints what the DNS server saw (the
// lookups per second) for the README's sizing notes. scripts/test.d/60-load.sh runs it in a
// network namespace where ICMP errors are not rate limited, so every check is `refused`.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <map>

#include "collectors/probe_resources.hpp"
#include "tests/support/fake_dns.hpp"
#include "tests/support/peers.hpp"
#include "tests/support/probe_runner.hpp"

namespace kscprobe::test {
namespace {

TEST(NamesLoad, FiveThousandAgentsByNameTwoChecksEveryFiveSeconds) {
  constexpr int kAgents = 5000;
  constexpr int kRounds = 2;
  constexpr auto kInterval = std::chrono::seconds(5);
  FakeDnsServer dns({.delay = std::chrono::milliseconds(2), .ttl = 5});
  asio::io_context io;
  ProbeResources::Options options;
  options.resolver.test_server = dns.server();
  ProbeResources probes(io.get_executor(), options);

  const std::uint16_t ports[2] = {closed_udp_port(), closed_udp_port()};
  std::vector<CheckSpec> specs;
  for (int i = 0; i < kAgents; ++i) {
    for (std::uint16_t port : ports) {
      specs.push_back(make_spec(Transport::udp, "agent" + std::to_string(i) + ".estate.test", port,
                                Duration(2000)));
    }
  }
  const std::size_t total = specs.size() * kRounds;

  // Paced as the scheduler spreads checks over their interval: a batch every 10 ms.
  const std::size_t per_tick = specs.size() / (kInterval / std::chrono::milliseconds(10));
  std::map<std::string, int> outcomes;
  std::size_t launched = 0, done = 0;
  const auto start = std::chrono::steady_clock::now();
  asio::steady_timer pace(io, start);
  std::function<void()> tick = [&] {
    for (std::size_t n = 0; n < per_tick && launched < total; ++n, ++launched) {
      start_probe(specs[launched % specs.size()], probes.env(), {}, [&](ProbeResult r) {
        std::string key = r.success ? r.detail : std::string(to_string(r.reason));
        if (r.reason == Reason::timeout || r.reason == Reason::resolve) key += ": " + r.detail;
        ++outcomes[key];
        if (++done == total) io.stop();
      });
    }
    if (launched < total) {
      pace.expires_at(pace.expiry() + std::chrono::milliseconds(10));
      pace.async_wait([&](boost::system::error_code ec) {
        if (!ec) tick();
      });
    }
  };
  tick();
  io.run_for(kInterval * kRounds + std::chrono::seconds(20));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const ResolverStats stats = probes.resolver().stats();
  std::printf("[ names ] %zu checks of %d names in %.1f s:\n", done, kAgents, seconds);
  for (const auto& [what, n] : outcomes) std::printf("[ names ]   %6d  %s\n", n, what.c_str());
  std::printf(
      "[ names ] DNS server: %llu queries (A, and AAAA with a routable IPv6 address) for %zu "
      "names, %.0f queries/s, "
      "%.0f names/s; resolver: %llu lookups, %llu from the cache, %llu joined, %llu asked, "
      "%llu refused (queue full)\n",
      static_cast<unsigned long long>(dns.queries()), dns.names(),
      static_cast<double>(dns.queries()) / seconds, static_cast<double>(stats.queries) / seconds,
      static_cast<unsigned long long>(stats.lookups),
      static_cast<unsigned long long>(stats.cache_hits),
      static_cast<unsigned long long>(stats.joined), static_cast<unsigned long long>(stats.queries),
      static_cast<unsigned long long>(stats.queue_full));

  EXPECT_EQ(done, total);
  int blamed = 0;
  for (const auto& [what, n] : outcomes) {
    if (what.rfind("timeout", 0) == 0 || what.rfind("resolve", 0) == 0) blamed += n;
  }
  EXPECT_EQ(blamed, 0) << "checks blamed on their target for the resolver's pace";
  EXPECT_EQ(stats.queue_full, 0u);
  // Each name is asked about once per TTL, not once per check.
  EXPECT_LE(stats.queries, static_cast<std::uint64_t>(kAgents) * (kRounds + 1));
}

}  // namespace
}  // namespace kscprobe::test
