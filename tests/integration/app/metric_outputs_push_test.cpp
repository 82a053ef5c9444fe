// The Pushgateway output looks its host up through a NameResolver, within the push's own
// deadline: a DNS server that never answers fails each push in time, and the pushes go on (the
// lookup had no deadline at all, so the first push waited for ever and no later one started).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "daemon/metric_outputs.hpp"
#include "tests/support/fake_dns.hpp"
#include "tests/support/peers.hpp"

namespace kscprobe::test {
namespace {

using namespace std::chrono_literals;

MetricOutputOptions push_options(const FakeDnsServer& dns, std::uint16_t port) {
  MetricOutputOptions o;
  o.push_url = "http://pgw.monitoring.test:" + std::to_string(port);
  o.push_interval = 100ms;
  o.push_timeout = 300ms;
  o.push_instance = "host-a";
  o.resolver.test_server = dns.server();
  return o;
}

TEST(PushResolve, ANeverAnsweringDnsServerFailsEachPushWithinItsDeadline) {
  FakeDnsServer dns({.answer = false});
  asio::io_context io;
  MetricOutputs outputs(io.get_executor(), push_options(dns, 9091), [] { return "up 1\n"; });
  std::string error;
  ASSERT_TRUE(outputs.start(&error)) << error;
  io.run_for(1500ms);
  outputs.stop();
  const PushStatus status = outputs.push_status();
  // A push every 100 ms, each given up after 300 ms: three or more have ended by 1.5 s.
  EXPECT_GE(status.attempts, 3u);
  EXPECT_EQ(status.failures, status.attempts);
  EXPECT_EQ(status.last_error, "resolve pgw.monitoring.test: no answer within 300ms");
  EXPECT_GE(dns.queries_for("pgw.monitoring.test"), 1u);
}

TEST(PushResolve, APushGoesToTheAddressTheNameResolvesTo) {
  FakeDnsServer dns({.ttl = 60});
  asio::io_context io;
  auto seen = std::make_shared<Seen>();
  std::uint16_t port = start_http_server(io, loopback_v4(), ServedReply{}, seen);
  MetricOutputs outputs(io.get_executor(), push_options(dns, port), [] { return "up 1\n"; });
  std::string error;
  ASSERT_TRUE(outputs.start(&error)) << error;
  io.run_for(1000ms);
  outputs.stop();
  const PushStatus status = outputs.push_status();
  EXPECT_GE(status.attempts, 2u);
  EXPECT_EQ(status.failures, 0u) << status.last_error;
  EXPECT_EQ(seen->method, "PUT");
  EXPECT_EQ(seen->target, "/metrics/job/kscprobe/instance/host-a");
  // Every push shares the answer while its TTL lasts.
  EXPECT_EQ(dns.queries_for("pgw.monitoring.test"), 1u);
}

TEST(PushResolve, APortAbove65535IsRefusedAtStart) {
  asio::io_context io;
  MetricOutputOptions o;
  o.push_url = "http://pgw:99999999999999999999";
  MetricOutputs outputs(io.get_executor(), o, [] { return ""; });
  std::string error;
  EXPECT_FALSE(outputs.start(&error));
  EXPECT_NE(error.find("65535"), std::string::npos) << error;
}

}  // namespace
}  // namespace kscprobe::test
