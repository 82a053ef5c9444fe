// End-to-end: the built kscprobe binary against the simulated estate (kscprobe-sim), both as
// real processes on loopback, scraped over HTTP and checked with promtool.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"

namespace support = kscprobe::test;

using namespace std::chrono_literals;

namespace {

struct Expect {
  std::string target, check;
  bool success;
  std::string reason;
};

std::vector<Expect> parse_expectations(const std::string& tsv) {
  std::vector<Expect> out;
  std::istringstream in(tsv);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    Expect e;
    std::string ok;
    std::getline(f, e.target, '\t');
    std::getline(f, e.check, '\t');
    std::getline(f, ok, '\t');
    std::getline(f, e.reason, '\t');
    e.success = ok == "1";
    out.push_back(e);
  }
  return out;
}

/// Shortens the simulator's [daemon] interval/timeout so a test round takes ~2 s.
std::string fast_config(std::string toml) {
  toml = std::regex_replace(toml, std::regex("interval = \"[^\"]*\""), "interval = \"2s\"",
                            std::regex_constants::format_first_only);
  toml = std::regex_replace(toml, std::regex("timeout = \"[^\"]*\""), "timeout = \"1s\"",
                            std::regex_constants::format_first_only);
  return toml;
}

/// A simulator and a daemon probing it, each a real process.
class Estate {
 public:
  explicit Estate(const std::string& prefix) : dir_(support::temp_dir()) {
    sim_ = std::make_unique<support::ChildProcess>(
        std::vector<std::string>{KSCPROBE_SIM_BIN, "--address-prefix", prefix, "--ephemeral-ports",
                                 "--write-config", dir_ + "/sim.toml", "--write-expectations",
                                 dir_ + "/expect.tsv"},
        dir_ + "/sim.out", dir_ + "/sim.err");
    if (!sim_->wait_output(
            [](const std::string& o, const std::string&) {
              return o.find("kscprobe-sim ready") != std::string::npos;
            },
            30s))
      throw std::runtime_error("simulator did not start: " + sim_->err());
    config_ = fast_config(support::read_file(dir_ + "/sim.toml"));
    support::write_file(config_path(), config_);
    expectations_ = parse_expectations(support::read_file(dir_ + "/expect.tsv"));
  }

  void start_daemon(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{KSCPROBE_BIN, "--config.file=" + config_path(),
                                  "--web.listen-address=127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    daemon_ =
        std::make_unique<support::ChildProcess>(argv, dir_ + "/daemon.out", dir_ + "/daemon.err");
    std::smatch m;
    std::regex re("listen_address=127\\.0\\.0\\.1:([0-9]+)");
    bool ok = daemon_->wait_output(
        [&](const std::string&, const std::string& err) { return std::regex_search(err, m, re); },
        20s);
    if (!ok) throw std::runtime_error("daemon did not start: " + daemon_->err());
    std::string err = daemon_->err();
    std::regex_search(err, m, re);
    port_ = static_cast<unsigned>(std::stoul(m[1].str()));
  }

  std::string metrics() {
    auto r = support::http_request(port_, "GET", "/metrics");
    return r && r->status == 200 ? r->body : std::string();
  }

  /// Scrapes until every expected check has a kscprobe_probe_success sample (bounded).
  std::string wait_all_probed(std::chrono::seconds limit = 30s) {
    auto end = std::chrono::steady_clock::now() + limit;
    std::string text;
    while (std::chrono::steady_clock::now() < end) {
      text = metrics();
      bool all = !text.empty();
      for (const auto& e : expectations_) {
        if (!support::sample(text, "kscprobe_probe_success",
                             {{"target", e.target}, {"check", e.check}})) {
          all = false;
          break;
        }
      }
      if (all) return text;
      std::this_thread::sleep_for(200ms);
    }
    return text;
  }

  std::string config_path() const { return dir_ + "/kscprobe.toml"; }
  const std::string& dir() const { return dir_; }
  const std::string& config() const { return config_; }
  const std::vector<Expect>& expectations() const { return expectations_; }
  support::ChildProcess& daemon() { return *daemon_; }
  unsigned port() const { return port_; }

 private:
  std::string dir_;
  std::string config_;
  std::vector<Expect> expectations_;
  std::unique_ptr<support::ChildProcess> sim_;
  std::unique_ptr<support::ChildProcess> daemon_;
  unsigned port_ = 0;
};

}  // namespace

TEST(E2E, MetricsMatchTheSimulatedEstateAndPassPromtool) {
  Estate estate("127.78");
  ASSERT_GE(estate.expectations().size(), 20u);
  estate.start_daemon();
  std::string text = estate.wait_all_probed();
  ASSERT_FALSE(text.empty());
  int failures_seen = 0;
  for (const auto& e : estate.expectations()) {
    SCOPED_TRACE(e.target + "/" + e.check);
    auto v =
        support::sample(text, "kscprobe_probe_success", {{"target", e.target}, {"check", e.check}});
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, e.success ? 1.0 : 0.0);
    if (!e.success) {
      ++failures_seen;
      auto f = support::sample(text, "kscprobe_probe_failures_total",
                               {{"target", e.target}, {"check", e.check}, {"reason", e.reason}});
      ASSERT_TRUE(f.has_value()) << "no failure counter with reason " << e.reason;
      EXPECT_GE(*f, 1.0);
    }
  }
  EXPECT_GE(failures_seen, 4);  // the estate has deliberately broken ports
  // Certificates: every successful TLS check reports an expiry in the future.
  auto expiry = support::sample(text, "kscprobe_tls_cert_not_after_timestamp_seconds",
                                {{"target", "ksc-demo"}, {"check", "agents_tls"}});
  ASSERT_TRUE(expiry.has_value());
  EXPECT_GT(*expiry, static_cast<double>(std::time(nullptr)));
  EXPECT_TRUE(
      support::sample(text, "kscprobe_tls_info", {{"target", "ksc-demo"}, {"version", "TLSv1.3"}}));
  EXPECT_TRUE(support::sample(text, "kscprobe_probe_latency_seconds_bucket",
                              {{"role", "server"}, {"check", "agents_tls"}, {"le", "+Inf"}}));
  EXPECT_EQ(support::sample(text, "kscprobe_config_last_reload_successful", {}), 1.0);
  EXPECT_TRUE(support::sample(text, "kscprobe_build_info", {}));
  EXPECT_TRUE(support::sample(text, "kscprobe_checks", {{"role", "agent"}}));

  std::string out;
  int rc = support::run({"promtool", "check", "metrics"}, &out, 60s, text);
  EXPECT_EQ(rc, 0) << out;

  auto healthy = support::http_request(estate.port(), "GET", "/-/healthy");
  ASSERT_TRUE(healthy);
  EXPECT_EQ(healthy->status, 200);
  auto ready = support::http_request(estate.port(), "GET", "/-/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto missing = support::http_request(estate.port(), "GET", "/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(E2E, ReloadKeepsCountersRejectsBadFilesAndSigtermStopsFast) {
  Estate estate("127.80");
  estate.start_daemon();
  std::string text = estate.wait_all_probed();
  auto before = support::sample(text, "kscprobe_probes_total",
                                {{"target", "ksc-demo"}, {"check", "agents_tls"}});
  ASSERT_TRUE(before);

  // A good file with one more target: it appears, and unchanged checks keep their counters.
  std::string good = estate.config() +
                     "\n[[target]]\nname = \"extra-agent\"\nrole = \"agent\"\naddress = "
                     "\"127.80.9.9\"\n";
  support::write_file(estate.config_path(), good);
  estate.daemon().signal(SIGHUP);
  bool appeared = false;
  for (int i = 0; i < 100 && !appeared; ++i) {
    text = estate.metrics();
    appeared = support::sample(text, "kscprobe_probe_success",
                               {{"target", "extra-agent"}, {"check", "signal_udp"}})
                   .has_value();
    if (!appeared) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(appeared) << estate.daemon().err();
  auto after = support::sample(text, "kscprobe_probes_total",
                               {{"target", "ksc-demo"}, {"check", "agents_tls"}});
  ASSERT_TRUE(after);
  EXPECT_GE(*after, *before);
  // Nothing listens on the extra agent's UDP ports: loopback answers ICMP port unreachable.
  EXPECT_EQ(support::sample(text, "kscprobe_probe_success",
                            {{"target", "extra-agent"}, {"check", "signal_udp"}}),
            0.0);

  // A bad file: logged with its position, the running plan stays, the gauge says so.
  support::write_file(estate.config_path(),
                      good + "\n[[target]]\nname = \"broken\"\nrole = \"sever\"\n");
  estate.daemon().signal(SIGHUP);
  bool rejected = false;
  for (int i = 0; i < 100 && !rejected; ++i) {
    text = estate.metrics();
    rejected = support::sample(text, "kscprobe_config_last_reload_successful", {}) == 0.0;
    if (!rejected) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(rejected);
  EXPECT_TRUE(support::sample(text, "kscprobe_probe_success",
                              {{"target", "extra-agent"}, {"check", "signal_udp"}}));
  EXPECT_FALSE(support::sample(text, "kscprobe_probe_success", {{"target", "broken"}}));
  std::string err = estate.daemon().err();
  EXPECT_NE(err.find("kscprobe.toml:"), std::string::npos) << err;
  EXPECT_NE(err.find("sever"), std::string::npos) << err;

  // The daemon keeps probing after the rejected reload.
  auto probes1 = support::sample(text, "kscprobe_probes_total",
                                 {{"target", "ksc-demo"}, {"check", "agents_tls"}});
  std::this_thread::sleep_for(2500ms);
  auto probes2 = support::sample(estate.metrics(), "kscprobe_probes_total",
                                 {{"target", "ksc-demo"}, {"check", "agents_tls"}});
  ASSERT_TRUE(probes1 && probes2);
  EXPECT_GT(*probes2, *probes1);

  // SIGTERM: exit 0 within a second, even with probes in flight.
  auto t0 = std::chrono::steady_clock::now();
  estate.daemon().signal(SIGTERM);
  auto rc = estate.daemon().wait(3s);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0);
  EXPECT_LT(took, 1500ms);
}

TEST(E2E, ConfigCheckListsEveryErrorWithItsPosition) {
  std::string dir = support::temp_dir();
  std::string bad = dir + "/bad.toml";
  support::write_file(bad,
                      "[daemon]\n"
                      "interval = \"10s\"\n"
                      "timeout = \"20s\"\n"
                      "\n"
                      "[[target]]\n"
                      "name = \"ksc01\"\n"
                      "role = \"server\"\n"
                      "adress = \"10.0.0.1\"\n");
  std::string out;
  int rc = support::run({KSCPROBE_BIN, "--config.check", "--config.file=" + bad}, &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find(bad + ":8:"), std::string::npos) << out;  // unknown key "adress"
  EXPECT_NE(out.find("adress"), std::string::npos) << out;
  EXPECT_NE(out.find(bad + ":3:"), std::string::npos) << out;  // timeout >= interval

  std::string good = dir + "/good.toml";
  support::write_file(good,
                      "[[target]]\nname = \"ksc01\"\nrole = \"server\"\naddress = \"127.0.0.1\"\n");
  rc = support::run({KSCPROBE_BIN, "--config.check", "--config.file=" + good}, &out);
  EXPECT_EQ(rc, 0) << out;
}

TEST(E2E, ShardFlagSplitsTheTargetsAndRejectsABadShard) {
  std::string dir = support::temp_dir();
  std::string file = dir + "/agents.toml";
  std::string toml;
  for (int i = 0; i < 90; ++i)
    toml += "[[target]]\nname = \"pc-" + std::to_string(i) +
            "\"\nrole = \"agent\"\naddress = \"127.0.3." + std::to_string(i + 1) + "\"\n";
  support::write_file(file, toml);
  // Three instances with one file: each checks a part, together all 90 targets.
  int total = 0;
  for (int i = 0; i < 3; ++i) {
    std::string out;
    std::string shard = std::to_string(i) + "/3";
    int rc = support::run(
        {KSCPROBE_BIN, "--config.check", "--config.file=" + file, "--shard=" + shard}, &out);
    ASSERT_EQ(rc, 0) << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m,
                                  std::regex("valid, ([0-9]+) targets, [0-9]+ checks in "
                                             "shard " +
                                             shard)))
        << out;
    int targets = std::stoi(m[1].str());
    EXPECT_GT(targets, 15) << out;
    total += targets;
  }
  EXPECT_EQ(total, 90);
  std::string out;
  int rc =
      support::run({KSCPROBE_BIN, "--config.check", "--config.file=" + file, "--shard=3/3"}, &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--shard: shard 3 does not exist with 3 shards"), std::string::npos) << out;
}

TEST(E2E, OncePrintsATableAndFailsOnBrokenPorts) {
  Estate estate("127.81");
  std::string out;
  int rc =
      support::run({KSCPROBE_BIN, "--once", "--config.file=" + estate.config_path()}, &out, 60s);
  EXPECT_EQ(rc, 1) << out;  // the estate has broken ports
  for (const auto& e : estate.expectations()) {
    SCOPED_TRACE(e.target + "/" + e.check);
    std::regex row("(^|\\n)" + e.target + " +[a-z_]+ +" + e.check + " .*(\\n|$)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, row)) << out;
    std::string line = m[0].str();
    if (e.success) {
      EXPECT_EQ(line.find("FAIL"), std::string::npos) << line;
    } else {
      EXPECT_NE(line.find("FAIL"), std::string::npos) << line;
      EXPECT_NE(line.find(" " + e.reason + " "), std::string::npos) << line;
    }
  }
  EXPECT_NE(out.find("open|filtered"), std::string::npos);

  // No file: --probe with a role. Nothing listens on 127.79.0.1, so both UDP checks are refused.
  rc =
      support::run({KSCPROBE_BIN, "--once", "--probe", "127.79.0.1", "--role", "agent"}, &out, 60s);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("signal_udp"), std::string::npos) << out;
  EXPECT_NE(out.find("refused"), std::string::npos) << out;
  rc = support::run({KSCPROBE_BIN, "--once", "--probe", "127.79.0.1", "--role", "nope"}, &out, 60s);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("nope"), std::string::npos) << out;
}

TEST(E2E, CatalogListsEveryCheck) {
  std::string out;
  ASSERT_EQ(support::run({KSCPROBE_BIN, "--catalog"}, &out), 0);
  for (const char* id :
       {"packages_http", "agents_tls", "shutdown_udp", "console_tls", "openapi_tls",
        "metrics_https", "gateway_tls", "signal_udp", "multicast_udp", "web_console_tls",
        "ios_mdm_tls", "database_tcp", "push_tls", "ksn_proxy_https"})
    EXPECT_NE(out.find(id), std::string::npos) << id;
  EXPECT_NE(out.find("13001"), std::string::npos);
}

// The daemon that gets installed carries no simulator: its --demo names the executable that does.
TEST(E2E, TheInstalledDaemonSendsDemoUsersToKscprobeDemo) {
  std::string out;
  int rc = support::run({KSCPROBE_BIN, "--demo"}, &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("run kscprobe-demo --demo"), std::string::npos) << out;
}

// Its --help lists only what it accepts: the demo flags are kscprobe-demo's.
TEST(E2E, OnlyTheDemoExecutableListsTheDemoFlags) {
  std::string installed, demo;
  ASSERT_EQ(support::run({KSCPROBE_BIN, "--help"}, &installed), 0) << installed;
  ASSERT_EQ(support::run({KSCPROBE_DEMO_BIN, "--help"}, &demo), 0) << demo;
  EXPECT_NE(installed.find("--config.file"), std::string::npos) << installed;
  EXPECT_EQ(installed.find("--demo"), std::string::npos) << installed;
  EXPECT_NE(demo.find("--demo.ephemeral-ports"), std::string::npos) << demo;
  std::string none;
  EXPECT_EQ(support::run({KSCPROBE_BIN}, &none), 2) << none;
  EXPECT_NE(none.find("kscprobe-demo --demo"), std::string::npos) << none;
}

TEST(E2E, DemoModePrintsItsMetricsUrlAndServesIt) {
  std::string dir = support::temp_dir();
  support::ChildProcess demo({KSCPROBE_DEMO_BIN, "--demo", "--demo.ephemeral-ports",
                              "--web.listen-address=127.0.0.1:0", "--log.format=json"},
                             dir + "/out", dir + "/err");
  std::smatch m;
  std::regex re("metrics: http://127\\.0\\.0\\.1:([0-9]+)/metrics");
  ASSERT_TRUE(demo.wait_output(
      [&](const std::string& o, const std::string&) { return std::regex_search(o, m, re); }, 30s))
      << demo.out() << demo.err();
  std::string o = demo.out();
  std::regex_search(o, m, re);
  unsigned port = static_cast<unsigned>(std::stoul(m[1].str()));
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    auto r = support::http_request(port, "GET", "/metrics");
    seen = r && r->body.find("kscprobe_probe_success{") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(seen);
  // The demo's Administration Server answers KSC's OpenAPI: its twelve devices join the checks.
  bool discovered = false;
  for (int i = 0; i < 100 && !discovered; ++i) {
    auto r = support::http_request(port, "GET", "/metrics");
    discovered =
        r &&
        r->body.find("kscprobe_discovery_targets{ksc_server=\"ksc-demo\",role=\"agent\"} 12") !=
            std::string::npos &&
        r->body.find("kscprobe_targets 23\n") != std::string::npos;
    if (!discovered) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(discovered);
  demo.signal(SIGINT);
  EXPECT_EQ(demo.wait(3s), 0);
  // JSON logs, one object per line; probes cut short by the shutdown are not logged as down.
  std::string err = demo.err();
  EXPECT_EQ(err.rfind("{\"ts\":", 0), 0u) << err;
  EXPECT_NE(err.find("\"msg\":\"kscprobe started\""), std::string::npos) << err;
  // The start line names every lane's budget, the datagram lane's (which follows the plan) too.
  EXPECT_NE(err.find("\"max_datagram_in_flight\":"), std::string::npos) << err;
  auto stopping = err.find("\"msg\":\"stopping\"");
  ASSERT_NE(stopping, std::string::npos) << err;
  EXPECT_EQ(err.find("check down", stopping), std::string::npos) << err.substr(stopping);
}
