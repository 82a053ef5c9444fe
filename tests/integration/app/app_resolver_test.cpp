// The name resolver's figures in /metrics: a target named by host name is looked up once per TTL
// whatever its checks, and the lookups are counted by how they were answered.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>

#include "daemon/app.hpp"

using namespace kscprobe;
using namespace std::chrono_literals;

namespace {

double sample(const std::string& text, const std::string& series) {
  const std::string head = "\n" + series + " ";
  const auto at = text.find(head);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + head.size()));
}

}  // namespace

TEST(AppResolver, LookupsAreCountedByHowTheyWereAnswered) {
  boost::asio::io_context io;
  AppOptions options;
  // "localhost" comes from /etc/hosts: no DNS server is asked, and no traffic leaves loopback.
  options.config_text =
      "[daemon]\ninterval = \"1s\"\ntimeout = \"500ms\"\n"
      "[[target]]\nname = \"ksc01\"\nrole = \"server\"\naddress = \"localhost\"\n";
  options.listen_address = "127.0.0.1:0";
  App app(io, options);
  ASSERT_TRUE(app.start());
  std::string text = app.render_metrics();
  EXPECT_EQ(sample(text, "kscprobe_resolver_lookups_total{outcome=\"queue_full\"}"), 0) << text;
  EXPECT_EQ(sample(text, "kscprobe_resolver_queued"), 0);
  // The server role has several checks on the one name: after a round, one query, the rest
  // joined it or came from the cache.
  const auto end = std::chrono::steady_clock::now() + 10s;
  double query = 0, shared = 0;
  while (std::chrono::steady_clock::now() < end) {
    io.run_for(200ms);
    text = app.render_metrics();
    query = sample(text, "kscprobe_resolver_lookups_total{outcome=\"query\"}");
    shared = sample(text, "kscprobe_resolver_lookups_total{outcome=\"cache\"}") +
             sample(text, "kscprobe_resolver_lookups_total{outcome=\"joined\"}");
    if (query >= 1 && shared >= 2) break;
  }
  EXPECT_EQ(query, 1) << text;
  EXPECT_GE(shared, 2) << text;
  app.stop();
  io.run_for(2s);
}
