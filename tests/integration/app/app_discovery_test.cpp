// The daemon learns its agents from a KSC Administration Server ([[ksc]], against the fake
// OpenAPI server): discovered devices become checks with their KSC labels, leave when KSC no
// longer lists them, and the discovery reports its health; --once discovers once, and a server
// that refuses the login fails it.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <set>

#include "config/utf8.hpp"
#include "daemon/app.hpp"
#include "simulator/ksc_openapi.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"

using namespace kscprobe;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPassword = "ksc-secret";  // the fake server's default account

// Three devices on loopback addresses (probing sends nothing off this host).
std::vector<sim::KscHostDef> loopback_hosts() {
  auto hosts = sim::KscOpenApiServer::generate_hosts(3, 1773937133);
  for (std::size_t i = 0; i < hosts.size(); ++i)
    hosts[i].ipv4 = (127u << 24) | (93u << 16) | static_cast<std::uint32_t>(i + 1);
  return hosts;
}

struct AppDiscovery : ::testing::Test {
  boost::asio::io_context io;
  sim::KscOpenApiServer server{io};
  test::TempDir dir{"app-discovery"};
  std::vector<sim::KscHostDef> hosts = loopback_hosts();

  void SetUp() override {
    server.start();
    server.set_hosts(hosts);
  }

  std::string config() const {
    return "[daemon]\ninterval = \"2s\"\n"
           "[metrics]\ndetail = { agent = \"full\" }\n"
           "[[target]]\nname = \"ksc01-itself\"\nrole = \"server\"\naddress = \"127.93.1.1\"\n"
           "[[ksc]]\nname = \"ksc01\"\nurl = \"" +
           server.url() + "\"\nuser = \"kscprobe\"\npassword_file = \"" +
           dir.write("ksc01.password", std::string(kPassword) + "\n") + "\"\nca_file = \"" +
           dir.write("ksc01-ca.pem", server.ca().cert_pem) +
           "\"\nrefresh = \"1s\"\nroles = [\"agent\"]\nlabels = { site = \"paris\" }\n";
  }

  // Runs the loop until `done` (checked every 50 ms), at most 20 s.
  bool run_until(const std::function<bool()>& done) {
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (!done() && std::chrono::steady_clock::now() < end) {
      io.restart();
      io.run_for(50ms);
    }
    return done();
  }
};

TEST_F(AppDiscovery, DiscoveredAgentsBecomeChecksAndLeaveWhenKscDropsThem) {
  AppOptions options;
  options.config_text = config();
  options.config_name = "k.toml";
  options.listen_address = "127.0.0.1:0";
  App app(io, options);
  ASSERT_TRUE(app.start());
  // Probing starts with the configured target; the discovered ones join when KSC answers.
  EXPECT_EQ(app.plan()->targets.size(), 1u);
  const std::string first = "target=\"" + hosts[0].display_name + "\"";
  ASSERT_TRUE(run_until([&] { return app.plan()->targets.size() == 4; })) << app.render_metrics();
  std::string text;
  ASSERT_TRUE(run_until([&] {
    text = app.render_metrics();
    return text.find("kscprobe_probe_success{" + first) != std::string::npos;
  })) << text;
  EXPECT_NE(text.find("ksc_host_id=\"" + hosts[0].id + "\""), std::string::npos) << text;
  EXPECT_NE(text.find("ksc_server=\"ksc01\""), std::string::npos);
  EXPECT_NE(text.find("site=\"paris\""), std::string::npos);
  EXPECT_NE(text.find("kscprobe_discovery_success{ksc_server=\"ksc01\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("kscprobe_discovery_targets{ksc_server=\"ksc01\",role=\"agent\"} 3"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find(kPassword), std::string::npos);

  // KSC no longer lists the first device: it leaves at the next refresh; the others stay.
  ASSERT_TRUE(server.remove_host(hosts[0].id));
  ASSERT_TRUE(run_until([&] { return app.plan()->targets.size() == 3; }));
  text = app.render_metrics();
  EXPECT_EQ(text.find(first), std::string::npos) << text;
  EXPECT_NE(text.find("target=\"" + hosts[1].display_name + "\""), std::string::npos);

  // A refused login keeps the last good list, and says so.
  server.set_faults({.refuse_login = true});
  ASSERT_TRUE(run_until([&] {
    return app.render_metrics().find("kscprobe_discovery_success{ksc_server=\"ksc01\"} 0") !=
           std::string::npos;
  }));
  EXPECT_EQ(app.plan()->targets.size(), 3u);
  text = app.render_metrics();
  EXPECT_NE(
      text.find("kscprobe_discovery_failure_info{ksc_server=\"ksc01\",reason=\"unauthorized\"} 1"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("kscprobe_discovery_stale{ksc_server=\"ksc01\"} 0"), std::string::npos);
  app.stop();
  io.restart();
  io.run_for(2s);
}

// The server's view joined with the probes: a device whose agent last connected a day ago and
// whose agent ports are refused (nothing listens on 127.94.0.1) is agent_stopped; a device that
// connected a minute ago has no diagnosis. New timestamps at a refresh change the metrics, not
// the plan.
TEST_F(AppDiscovery, AStaleAgentWithRefusedPortsIsDiagnosedStopped) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  hosts.resize(2);
  hosts[0].display_name = "PC-STALE";
  hosts[0].ipv4 = (127u << 24) | (94u << 16) | 1;
  hosts[0].last_agent_connected = now - 86'400;
  hosts[0].last_visible = now - 3'600;
  hosts[0].status = 0x1 | 0x4;  // visible, agent installed, not running
  hosts[1].display_name = "PC-FRESH";
  hosts[1].ipv4 = (127u << 24) | (94u << 16) | 2;
  hosts[1].last_agent_connected = now - 60;
  server.set_hosts(hosts);

  AppOptions options;
  options.config_text = config();
  options.config_name = "k.toml";
  options.listen_address = "127.0.0.1:0";
  App app(io, options);
  ASSERT_TRUE(app.start());
  const test::Labels stale = {{"target", "PC-STALE"}, {"ksc_server", "ksc01"}};
  const test::Labels fresh = {{"target", "PC-FRESH"}, {"ksc_server", "ksc01"}};
  // Until its ports are probed the stale device is diagnosed unknown; then agent_stopped.
  std::string text;
  std::set<std::string> seen;
  ASSERT_TRUE(run_until([&] {
    text = app.render_metrics();
    for (const auto& d : test::samples_of(text, "kscprobe_agent_diagnosis", stale))
      seen.insert(d.label("diagnosis"));
    return seen.count("agent_stopped") != 0;
  })) << text;
  seen.erase("unknown");
  EXPECT_EQ(seen, (std::set<std::string>{"agent_stopped"}));  // never another diagnosis
  auto diagnosis = test::samples_of(text, "kscprobe_agent_diagnosis", stale);
  ASSERT_EQ(diagnosis.size(), 1u) << text;
  EXPECT_EQ(diagnosis[0].label("diagnosis"), "agent_stopped") << text;
  EXPECT_EQ(diagnosis[0].label("role"), "agent");
  EXPECT_EQ(diagnosis[0].label("ksc_host_id"), hosts[0].id);
  EXPECT_EQ(diagnosis[0].label("site"), "paris");
  EXPECT_EQ(diagnosis[0].value, 1.0);
  EXPECT_TRUE(test::samples_of(text, "kscprobe_agent_diagnosis", fresh).empty()) << text;
  EXPECT_EQ(test::sample(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds", stale),
            static_cast<double>(now - 86'400));
  EXPECT_EQ(test::sample(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds", fresh),
            static_cast<double>(now - 60));
  EXPECT_EQ(test::sample(text, "kscprobe_ksc_host_last_visible_timestamp_seconds", stale),
            static_cast<double>(now - 3'600));
  EXPECT_EQ(test::sample(text, "kscprobe_ksc_agent_running", stale), 0.0);
  EXPECT_EQ(test::sample(text, "kscprobe_ksc_agent_running", fresh), 1.0);

  // The stale agent connects again: the next refresh clears its diagnosis, and the plan stays
  // the one in use (only timestamps moved).
  const std::shared_ptr<const Plan> plan = app.plan();
  hosts[0].last_agent_connected = now;
  server.set_hosts(hosts);
  ASSERT_TRUE(run_until([&] {
    text = app.render_metrics();
    return test::samples_of(text, "kscprobe_agent_diagnosis", stale).empty();
  })) << text;
  EXPECT_EQ(test::sample(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds", stale),
            static_cast<double>(now));
  EXPECT_EQ(app.plan(), plan);
  app.stop();
  io.restart();
  io.run_for(2s);
}

// A display name of 129 Cyrillic letters after an ASCII one is 259 bytes; discovery keeps 256
// at most, and a cut in the middle of a letter made the whole scrape invalid UTF-8, which
// Prometheus rejects entirely. The names are cut on a character boundary, and promtool (when
// installed: scripts/install-deps.sh --test) accepts the scrape.
TEST_F(AppDiscovery, ALongCyrillicNameKeepsTheScrapeValid) {
  std::string letters;
  for (int i = 0; i < 129; ++i) letters += "\xD0\x96";  // Ж
  hosts[0].display_name = "X" + letters;
  hosts[0].group_id = 1;
  hosts[1].display_name = "PC-" + letters;
  server.set_hosts(hosts);
  server.set_groups({{1, "Y" + letters + letters}, {2, "Lyon"}, {3, "Servers"}});
  AppOptions options;
  options.config_text = config();
  options.config_name = "k.toml";
  options.listen_address = "127.0.0.1:0";
  App app(io, options);
  ASSERT_TRUE(app.start());
  // Cut before the split letter: "X" and 127 letters (255 bytes); "PC-" and 126 (255 bytes).
  const std::string x = "X" + letters.substr(0, 254), pc = "PC-" + letters.substr(0, 252);
  std::string text;
  ASSERT_TRUE(run_until([&] {
    text = app.render_metrics();
    return test::sample(text, "kscprobe_probe_success", {{"target", x}}) &&
           test::sample(text, "kscprobe_probe_success", {{"target", pc}});
  })) << text;
  app.stop();
  io.restart();
  io.run_for(2s);

  EXPECT_TRUE(valid_utf8(text));
  std::string malformed;
  test::parse_samples(text, &malformed);
  EXPECT_EQ(malformed, "");
  // The group name (257 letters) was cut on a boundary too.
  EXPECT_TRUE(test::sample(text, "kscprobe_probe_success",
                           {{"target", x}, {"ksc_group", "Y" + letters.substr(0, 254)}}))
      << text;
  std::string out;
  const bool have_promtool = test::run({"promtool", "--version"}, &out, 30s) == 0;
  if (have_promtool) {
    EXPECT_EQ(test::run({"promtool", "check", "metrics"}, &out, 60s, text), 0) << out;
  }
}

TEST_F(AppDiscovery, OnceDiscoversFirstAndFailsWhenKscRefuses) {
  AppOptions options;
  options.config_text = config();
  options.config_name = "k.toml";
  LoadedPlan loaded = load_plan(options, &io);
  ASSERT_TRUE(loaded.ok()) << loaded.errors.at(0).format();
  EXPECT_EQ(loaded.plan->targets.size(), 4u);

  server.set_faults({.refuse_login = true});
  loaded = load_plan(options, &io);
  EXPECT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.plan, nullptr);
  const std::vector<ConfigError>& errors = loaded.errors;
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].format().find("ksc \"ksc01\": discovery failed"), std::string::npos)
      << errors[0].format();
  EXPECT_EQ(errors[0].format().find(kPassword), std::string::npos);
}

}  // namespace
