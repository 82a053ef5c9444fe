// End-to-end with the real Prometheus server: kscprobe probes the simulated estate, a private
// Prometheus (its own loopback port and temporary data dir, never a system instance) scrapes it
// and evaluates monitoring/prometheus/kscprobe-alerts.yml with the `for:` durations shortened,
// and the test reads the results back through Prometheus's HTTP API.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>

#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/peers.hpp"

namespace support = kscprobe::test;

using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;
using Labels = std::map<std::string, std::string>;

/// The repository root, from this file's path (CMake compiles it by absolute path).
fs::path source_root() {
  if (const char* env = std::getenv("KSCPROBE_SOURCE_DIR")) return env;
  return fs::path(KSCPROBE_SOURCE_DIR);
}

/// `prometheus` from PATH, or the Debian package's path.
std::string find_prometheus() {
  if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      fs::path p = fs::path(dir) / "prometheus";
      if (!dir.empty() && access(p.c_str(), X_OK) == 0) return p;
    }
  }
  return access("/usr/bin/prometheus", X_OK) == 0 ? "/usr/bin/prometheus" : "";
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// The `"name":"value"` pairs of one flat JSON object body (label values hold no braces).
Labels parse_labels(const std::string& body) {
  Labels out;
  static const std::regex pair("\"([^\"]+)\":\"((?:[^\"\\\\]|\\\\.)*)\"");
  for (std::sregex_iterator it(body.begin(), body.end(), pair), end; it != end; ++it)
    out[(*it)[1].str()] = (*it)[2].str();
  return out;
}

bool has_labels(const Labels& have, const Labels& want) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

struct Sample {
  Labels labels;
  double value = 0;
};

struct Alert {
  Labels labels;
  std::string state;
  std::string description;
};

struct Expect {
  std::string target, check;
  bool success;
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
    e.success = ok == "1";
    out.push_back(e);
  }
  return out;
}

/// A Prometheus server of its own: loopback port, temporary data dir, killed at the end.
class Prometheus {
 public:
  Prometheus(const std::string& binary, const std::string& dir) : dir_(dir) {
    // Another process may grab the free port between the probe and the bind: retry once.
    for (int attempt = 0; attempt < 2 && !port_; ++attempt) {
      unsigned port = support::closed_tcp_port();
      if (!port) continue;
      auto p = std::make_unique<support::ChildProcess>(
          std::vector<std::string>{binary, "--config.file=" + dir + "/prometheus.yml",
                                   "--storage.tsdb.path=" + dir + "/data",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port)},
          dir + "/prometheus.out", dir + "/prometheus.err");
      bool ready = false;
      bool exited = false;
      auto end = std::chrono::steady_clock::now() + 10s;
      while (!ready && !exited && std::chrono::steady_clock::now() < end) {
        exited = p->wait(20ms).has_value();  // port taken, or a bad configuration
        auto r = support::http_request(port, "GET", "/-/ready");
        ready = !exited && r && r->status == 200;
        if (!ready) std::this_thread::sleep_for(100ms);
      }
      if (ready) {
        process_ = std::move(p);
        port_ = port;
        break;
      }
      log_ = p->err();
      if (!exited) break;  // running but never ready: a second try would not help
    }
  }

  ~Prometheus() {
    if (process_) {
      process_->signal(SIGTERM);
      if (!process_->wait(5s)) process_->signal(SIGKILL);
    }
  }

  bool running() const { return port_ != 0; }
  std::string log() const { return process_ ? process_->err() : log_; }

  /// GET of an API path; the body when Prometheus answered 200 with status "success".
  std::string api(const std::string& path_and_query) const {
    auto r = support::http_request(port_, "GET", path_and_query);
    if (!r || r->status != 200 || r->body.find("\"status\":\"success\"") == std::string::npos)
      return {};
    return r->body;
  }

  /// An instant query returning a vector.
  std::vector<Sample> query(const std::string& promql) const {
    std::string body = api("/api/v1/query?query=" + url_encode(promql));
    std::vector<Sample> out;
    static const std::regex item(R"re(\{"metric":\{([^}]*)\},"value":\[[^,\]]+,"([^"]*)"\]\})re");
    for (std::sregex_iterator it(body.begin(), body.end(), item), end; it != end; ++it)
      out.push_back({parse_labels((*it)[1].str()), std::strtod((*it)[2].str().c_str(), nullptr)});
    return out;
  }

  /// Every alert from /api/v1/alerts, pending and firing.
  std::vector<Alert> alerts() const {
    std::string body = api("/api/v1/alerts");
    std::vector<Alert> out;
    const std::string marker = "{\"labels\":{";
    for (auto pos = body.find(marker); pos != std::string::npos;) {
      auto next = body.find(marker, pos + 1);
      std::string chunk = body.substr(pos, next == std::string::npos ? next : next - pos);
      Alert a;
      a.labels = parse_labels(chunk.substr(marker.size(), chunk.find('}') - marker.size()));
      std::smatch m;
      if (std::regex_search(chunk, m, std::regex("\"state\":\"([a-z]+)\""))) a.state = m[1];
      if (std::regex_search(chunk, m, std::regex("\"description\":\"((?:[^\"\\\\]|\\\\.)*)\"")))
        a.description = m[1];
      out.push_back(a);
      pos = next;
    }
    return out;
  }

 private:
  std::string dir_;
  std::unique_ptr<support::ChildProcess> process_;
  unsigned port_ = 0;
  std::string log_;
};

/// The alert rules shipped in monitoring/, with every `for:` cut to 1 s so a test run is short.
std::string fast_rules(const std::string& rules) {
  return std::regex_replace(rules, std::regex("for: [0-9]+[smh]"), "for: 1s");
}

/// The simulator's configuration, probing every 2 s, plus a server at an address where nothing
/// listens: its agent ports are refused, the case the headline alert is for.
std::string fast_config(std::string toml, const std::string& lost_server_address) {
  toml = std::regex_replace(toml, std::regex("interval = \"[^\"]*\""), "interval = \"2s\"",
                            std::regex_constants::format_first_only);
  toml = std::regex_replace(toml, std::regex("timeout = \"[^\"]*\""), "timeout = \"1s\"",
                            std::regex_constants::format_first_only);
  return toml + "\n[[target]]\nname = \"ksc-lost\"\nrole = \"server\"\naddress = \"" +
         lost_server_address + "\"\nlabels = { site = \"hq\" }\n";
}

/// Removes a temporary directory when the test passed; keeps it (logs, data) when it failed.
struct RemoveUnlessFailed {
  std::string dir;
  ~RemoveUnlessFailed() {
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(dir, ec);
  }
};

bool firing(const std::vector<Alert>& alerts, const Labels& want) {
  for (const auto& a : alerts)
    if (a.state == "firing" && has_labels(a.labels, want)) return true;
  return false;
}

std::string describe(const std::vector<Alert>& alerts) {
  std::string out;
  for (const auto& a : alerts) {
    out += a.state;
    for (const auto& [k, v] : a.labels) out += " " + k + "=" + v;
    out += "\n";
  }
  return out;
}

}  // namespace

TEST(PrometheusE2E, ScrapesKscprobeAndFiresAlertsForBrokenPorts) {
  const auto started = std::chrono::steady_clock::now();
  const std::string prometheus_bin = find_prometheus();
  ASSERT_FALSE(prometheus_bin.empty())
      << "prometheus not found: install the Debian package `prometheus` (scripts/test.sh does)";
  const fs::path rules_src = source_root() / "monitoring/prometheus/kscprobe-alerts.yml";
  ASSERT_TRUE(fs::exists(rules_src)) << rules_src;

  // The simulated estate on 127.82.x.x, and kscprobe probing it every 2 s.
  const std::string dir = support::temp_dir();
  RemoveUnlessFailed cleanup{dir};
  support::ChildProcess sim(
      {KSCPROBE_SIM_BIN, "--address-prefix", "127.82", "--ephemeral-ports", "--write-config",
       dir + "/sim.toml", "--write-expectations", dir + "/expect.tsv"},
      dir + "/sim.out", dir + "/sim.err");
  ASSERT_TRUE(sim.wait_output(
      [](const std::string& o, const std::string&) {
        return o.find("kscprobe-sim ready") != std::string::npos;
      },
      10s))
      << sim.err();
  const auto expectations = parse_expectations(support::read_file(dir + "/expect.tsv"));
  ASSERT_GE(expectations.size(), 20u);
  support::write_file(dir + "/kscprobe.toml",
                      fast_config(support::read_file(dir + "/sim.toml"), "127.82.9.1"));

  support::ChildProcess daemon(
      {KSCPROBE_BIN, "--config.file=" + dir + "/kscprobe.toml", "--web.listen-address=127.0.0.1:0"},
      dir + "/daemon.out", dir + "/daemon.err");
  std::smatch m;
  const std::regex listen_re("listen_address=127\\.0\\.0\\.1:([0-9]+)");
  ASSERT_TRUE(daemon.wait_output(
      [&](const std::string&, const std::string& err) {
        return std::regex_search(err, m, listen_re);
      },
      10s))
      << daemon.err();
  std::string daemon_log = daemon.err();
  std::regex_search(daemon_log, m, listen_re);
  const std::string kscprobe_port = m[1].str();

  // Prometheus: scrape every second, evaluate the shipped rules (shortened) every second.
  support::write_file(dir + "/kscprobe-alerts.yml", fast_rules(support::read_file(rules_src)));
  std::string prometheus_yml = R"(global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - @DIR@/kscprobe-alerts.yml
scrape_configs:
  - job_name: kscprobe
    static_configs:
      - targets: ['127.0.0.1:@PORT@']
)";
  prometheus_yml = std::regex_replace(prometheus_yml, std::regex("@DIR@"), dir);
  prometheus_yml = std::regex_replace(prometheus_yml, std::regex("@PORT@"), kscprobe_port);
  support::write_file(dir + "/prometheus.yml", prometheus_yml);
  Prometheus prometheus(prometheus_bin, dir);
  ASSERT_TRUE(prometheus.running()) << prometheus.log();

  // Every check the simulator knows reaches Prometheus with the value it should have.
  std::map<std::pair<std::string, std::string>, double> seen;
  for (auto end = std::chrono::steady_clock::now() + 12s; std::chrono::steady_clock::now() < end;) {
    seen.clear();
    for (const auto& s : prometheus.query("kscprobe_probe_success{job=\"kscprobe\"}"))
      seen[{s.labels.at("target"), s.labels.at("check")}] = s.value;
    bool all = true;
    for (const auto& e : expectations) all = all && seen.count({e.target, e.check});
    if (all && seen.count({"ksc-lost", "agents_tls"})) break;
    std::this_thread::sleep_for(250ms);
  }
  for (const auto& e : expectations) {
    SCOPED_TRACE(e.target + "/" + e.check);
    auto it = seen.find({e.target, e.check});
    ASSERT_NE(it, seen.end()) << "not in Prometheus\n" << prometheus.log();
    EXPECT_EQ(it->second, e.success ? 1.0 : 0.0);
  }
  // The known broken ports, by name, so a wrong expectations file cannot hide them.
  EXPECT_EQ((seen[{"pc-005", "signal_udp"}]), 0.0);
  EXPECT_EQ((seen[{"ksc-dmz", "console_tls"}]), 0.0);
  EXPECT_EQ((seen[{"dp-lyon", "gateway_tls"}]), 0.0);
  EXPECT_EQ((seen[{"ksc-demo", "agents_tls"}]), 1.0);
  EXPECT_EQ((seen[{"ksc-lost", "agents_tls"}]), 0.0);
  auto up = prometheus.query("up{job=\"kscprobe\"}");
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].value, 1.0);

  // The dashboard's counts come from series every detail level keeps (the per-group sums, the
  // failing checks' reasons), so they hold at the agents' default, aggregate, where a healthy
  // agent's check is not named. Each of them answers, and "Checks up" and "Checks down" count
  // the same checks as the series named one by one here (this estate shows every role per
  // check), each in one query so that both sides read the same scrape.
  {
    const std::string dashboard =
        support::read_file((source_root() / "monitoring/grafana/kscprobe-overview.json").string());
    std::vector<std::string> exprs;
    const std::regex expr_re(R"re("expr": "((?:[^"\\]|\\.)*)")re");
    for (std::sregex_iterator it(dashboard.begin(), dashboard.end(), expr_re), end; it != end;
         ++it) {
      std::string e = std::regex_replace((*it)[1].str(), std::regex(R"(\\")"), "\"");
      exprs.push_back(std::regex_replace(e, std::regex(R"(\$(site|role|target))"), ".*"));
    }
    int sums = 0;
    for (const auto& e : exprs) {
      if (e.find("kscprobe_aggregate_checks") == std::string::npos) continue;
      ++sums;
      EXPECT_FALSE(prometheus.query(e).empty()) << e;
    }
    EXPECT_GE(sums, 3) << "the dashboard counts checks from kscprobe_aggregate_checks";
    const std::pair<std::string, std::string> same[] = {
        {"sum(kscprobe_aggregate_checks{site=~\".*\", role=~\".*\", state=\"up\"}) or vector(0)",
         "count(kscprobe_probe_success == 1)"},
        {"count(kscprobe_probe_failure_info{site=~\".*\", role=~\".*\", target=~\".*\"}) or "
         "vector(0)",
         "count(kscprobe_probe_success == 0)"},
    };
    for (const auto& [panel, named] : same) {
      SCOPED_TRACE(panel);
      ASSERT_NE(std::find(exprs.begin(), exprs.end(), panel), exprs.end());
      const auto diff = prometheus.query("(" + panel + ") - scalar(" + named + ")");
      ASSERT_EQ(diff.size(), 1u);
      EXPECT_EQ(diff[0].value, 0.0);
    }
  }

  // The alerts a KSC administrator must get for this estate fire; healthy parts stay quiet.
  const std::vector<Labels> must_fire = {
      // Server whose agent ports are refused: agents cannot reach it.
      {{"alertname", "KscAgentsCannotReachServer"}, {"target", "ksc-lost"}, {"reason", "refused"}},
      // pc-005 refuses UDP 15000: 1 of the 3 agents of site paris.
      {{"alertname", "KscAgentsNotListeningAtSite"}, {"site", "paris"}, {"reason", "refused"}},
      {{"alertname", "KscServerPortDown"}, {"target", "ksc-dmz"}, {"check", "console_tls"}},
      {{"alertname", "KscDistributionPointGatewayDown"}, {"target", "dp-lyon"}},
      // The simulated Web Console's certificate expires in 10 days.
      {{"alertname", "KscTlsCertificateExpiresSoon"}, {"target", "webcon"}},
  };
  std::vector<Alert> alerts;
  for (auto end = std::chrono::steady_clock::now() + 12s; std::chrono::steady_clock::now() < end;) {
    alerts = prometheus.alerts();
    bool all = true;
    for (const auto& want : must_fire) all = all && firing(alerts, want);
    if (all) break;
    std::this_thread::sleep_for(250ms);
  }
  for (const auto& want : must_fire)
    EXPECT_TRUE(firing(alerts, want)) << want.at("alertname") << " not firing; alerts:\n"
                                      << describe(alerts);
  for (const auto& a : alerts) {
    if (has_labels(a.labels, {{"alertname", "KscAgentsCannotReachServer"}})) {
      // Only the lost server: the simulated servers' agent ports answer.
      EXPECT_EQ(a.labels.at("target"), "ksc-lost");
      EXPECT_EQ(a.labels.at("severity"), "critical");
      // The reason is a label (from kscprobe_probe_failure_info), and the text says what it
      // means for KSC.
      EXPECT_EQ(a.labels.at("reason"), "refused");
      EXPECT_NE(a.description.find("reason: refused"), std::string::npos) << a.description;
    }
    EXPECT_NE(a.labels.at("alertname"), "KscprobeDown");
    EXPECT_NE(a.labels.at("alertname"), "KscprobeAbsent");
    EXPECT_NE(a.labels.at("alertname"), "KscprobeConfigReloadFailed");
    EXPECT_FALSE(has_labels(a.labels, {{"target", "ksc-demo"}, {"check", "agents_tls"}}));
    EXPECT_FALSE(has_labels(a.labels, {{"target", "dp-paris"}}));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
}
