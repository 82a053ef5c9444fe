// The refresh loops of discovery (daemon/discovery/discovery.hpp) against the fake KSC OpenAPI
// server: targets of a first run, hosts that leave, failures that keep the last good targets
// and recover, on_change, reloads of the sections, the password re-read at each run, stop.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/base64.hpp"
#include "daemon/discovery/discovery.hpp"
#include "simulator/ksc_openapi.hpp"
#include "tests/support/files.hpp"

namespace kscprobe::ksc {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr char kPassword[] = "ksc-secret";
constexpr std::int64_t kNow = 1773937133;

std::string label_of(const TargetConfig& t, const std::string& name) {
  for (const auto& [label, value] : t.labels)
    if (label == name) return value;
  return "<none>";
}

// Every section's targets in use, as the TargetConfigs they stand for (with each section's
// features and position), in the order the daemon composes them.
std::vector<TargetConfig> targets_of(const Discovery& d) {
  std::vector<TargetConfig> out;
  for (const DiscoveredList& list : d.target_lists())
    for (const DiscoveredTarget& t : list.targets)
      out.push_back(to_target_config(t, list.features, list.pos));
  return out;
}

std::set<std::string> names(const std::vector<TargetConfig>& targets) {
  std::set<std::string> out;
  for (const auto& t : targets) out.insert(t.name);
  return out;
}

class DiscoveryLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<sim::KscOpenApiServer>(io_);
    server_->start();
    hosts_ = sim::KscOpenApiServer::generate_hosts(40, kNow, 0);  // every one managed
    server_->set_hosts(hosts_);
    server_->set_update_agents({hosts_[2].id});
    ca_file_ = dir_.write("ca.pem", server_->ca().cert_pem);
    password_file_ = dir_.write("ksc01.password", std::string(kPassword) + "\n");
  }

  void TearDown() override {
    discovery_.reset();
    server_->stop();
    io_.restart();
    io_.run_for(50ms);
  }

  KscSource source(const std::string& name = "ksc01") const {
    KscSource s;
    s.name = name;
    s.url = server_->url();
    s.user = "kscprobe";
    s.password_file = password_file_;
    s.ca_file = ca_file_;
    s.refresh = 200ms;
    s.labels = {{"site", "paris"}};
    s.limits.request_timeout = 2s;
    s.limits.page_size = 16;
    return s;
  }

  Discovery& make(Discovery::Options options = {}) {
    if (options.first_retry == std::chrono::seconds(10)) options.first_retry = 50ms;
    options.log = [this](bool warning, const std::string& line) {
      logs_.push_back((warning ? "W " : "I ") + line);
    };
    discovery_ = std::make_unique<Discovery>(io_.get_executor(), std::move(options));
    discovery_->on_change = [this] { ++changes_; };
    discovery_->on_run = [this] { ++runs_; };
    return *discovery_;
  }

  // Runs the loop until `done` holds, at most `limit`; false if it never did.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    io_.restart();
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      io_.run_one_for(20ms);
    }
    return true;
  }
  bool run_for_runs(int more, std::chrono::milliseconds limit = 10s) {
    const int target = runs_ + more;
    return run_until([&] { return runs_ >= target; }, limit);
  }
  void run_for(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }

  unsigned calls(const std::string& method) const {
    const auto& c = server_->counters().calls;
    auto it = c.find(method);
    return it == c.end() ? 0 : it->second;
  }

  DiscoveryStatus status(std::size_t i = 0) const { return discovery_->status().at(i); }

  // No text the discovery wrote (logs, status) holds a password.
  void expect_no_secret(const std::vector<std::string>& secrets) const {
    std::vector<std::string> texts = logs_;
    for (const auto& st : discovery_->status()) texts.push_back(st.error);
    for (const auto& text : texts)
      for (const auto& secret : secrets) EXPECT_EQ(text.find(secret), std::string::npos) << text;
  }

  asio::io_context io_;
  test::TempDir dir_{"discovery"};
  std::unique_ptr<sim::KscOpenApiServer> server_;
  std::vector<sim::KscHostDef> hosts_;
  std::string ca_file_, password_file_;
  std::unique_ptr<Discovery> discovery_;
  std::vector<std::string> logs_;
  int changes_ = 0;
  int runs_ = 0;
};

TEST_F(DiscoveryLoopTest, FirstRefreshMakesLabelledTargets) {
  Discovery& d = make();
  KscSource with_icmp = source();
  with_icmp.features = kFeatureIcmp;
  EXPECT_FALSE(d.set_sources({with_icmp}));
  EXPECT_FALSE(d.settled());
  ASSERT_EQ(d.status().size(), 1u);
  EXPECT_FALSE(status().ran);
  ASSERT_TRUE(run_until([&] { return d.settled(); }));
  EXPECT_EQ(changes_, 1);

  std::vector<TargetConfig> targets = targets_of(d);
  ASSERT_EQ(targets.size(), 40u);
  EXPECT_EQ(d.target_count(), 40u);
  EXPECT_TRUE(std::is_sorted(targets.begin(), targets.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
  const TargetConfig& t = targets[2];
  EXPECT_EQ(t.name, "pc-00003");
  EXPECT_EQ(t.address, "10.1.0.3");
  EXPECT_EQ(t.role, Role::distribution_point);
  EXPECT_EQ(label_of(t, "ksc_server"), "ksc01");
  EXPECT_EQ(label_of(t, "ksc_host_id"), hosts_[2].id);
  EXPECT_NE(label_of(t, "ksc_group"), "<none>");
  EXPECT_EQ(label_of(t, "site"), "paris");
  EXPECT_EQ(t.features, kFeatureIcmp);  // the section's, on every target
  EXPECT_EQ(t.pos.line, with_icmp.pos.line);
  EXPECT_EQ(targets[0].role, Role::agent);

  // What the daemon composes with: the same list, viewed, with the section's features.
  const DiscoveredTargets lists = d.target_lists();
  ASSERT_EQ(lists.size(), 1u);
  ASSERT_EQ(lists[0].targets.size(), 40u);
  EXPECT_EQ(lists[0].features, kFeatureIcmp);
  EXPECT_EQ(lists[0].targets[2].name, "pc-00003");
  EXPECT_EQ(lists[0].targets[2].labels, t.labels);

  DiscoveryStatus st = status();
  EXPECT_EQ(st.name, "ksc01");
  EXPECT_TRUE(st.ran);
  EXPECT_TRUE(st.success);
  EXPECT_GT(st.duration_seconds, 0);
  ASSERT_TRUE(st.last_success_unix);
  EXPECT_GT(*st.last_success_unix, 1.7e9);
  EXPECT_EQ(st.targets, 40u);
  EXPECT_EQ(st.targets_by_role, (std::vector<std::pair<Role, std::size_t>>{
                                    {Role::agent, 39}, {Role::distribution_point, 1}}));
  EXPECT_EQ(st.skipped.at("no_address"), 0u);
  EXPECT_FALSE(st.statistics.empty());
  EXPECT_TRUE(st.error_kind.empty());
  EXPECT_FALSE(st.stale);
  ASSERT_FALSE(logs_.empty());
  EXPECT_EQ(logs_[0].rfind("I KSC ksc01: 40 targets from 40 devices", 0), 0u) << logs_[0];
}

TEST_F(DiscoveryLoopTest, AHostKscDropsLeavesAtTheNextRefreshAndOnChangeOnlyFiresOnAChange) {
  Discovery& d = make();
  d.set_sources({source()});
  ASSERT_TRUE(run_until([&] { return d.settled(); }));
  // Runs with the same estate change nothing.
  ASSERT_TRUE(run_for_runs(2));
  EXPECT_EQ(changes_, 1);
  EXPECT_EQ(targets_of(d).size(), 40u);

  ASSERT_TRUE(server_->remove_host(hosts_[5].id));
  ASSERT_TRUE(run_until([&] { return changes_ == 2; }));
  std::set<std::string> now = names(targets_of(d));
  EXPECT_EQ(now.size(), 39u);
  EXPECT_EQ(now.count("pc-00006"), 0u);

  // A host without any address is skipped and counted, which is a change too.
  sim::KscHostDef bare;
  bare.id = "bare-id";
  bare.display_name = "bare";
  server_->add_host(bare);
  ASSERT_TRUE(run_for_runs(2));
  EXPECT_EQ(changes_, 2);  // the same targets
  EXPECT_EQ(status().skipped.at("no_address"), 1u);
  EXPECT_EQ(targets_of(d).size(), 39u);
}

struct Fault {
  const char* name;
  std::function<void(sim::KscFaults*, KscSource*)> apply;
  const char* kind;
};

TEST_F(DiscoveryLoopTest, AFailedRefreshKeepsTheLastGoodTargetsThenRecovers) {
  const std::vector<Fault> faults = {
      {"401", [](sim::KscFaults* f, KscSource*) { f->refuse_login = true; }, "unauthorized"},
      {"stall",
       [](sim::KscFaults* f, KscSource* s) {
         f->stall_method = "HostGroup.FindHosts";
         s->limits.request_timeout = 300ms;
       },
       "timeout"},
      {"garbage",
       [](sim::KscFaults* f, KscSource*) { f->malformed_method = "HostGroup.FindHosts"; },
       "malformed"},
      {"pxg",
       [](sim::KscFaults* f, KscSource*) {
         f->pxg_method = "ChunkAccessor.GetItemsChunk";
         f->pxg_message = "Accessor not found";
       },
       "pxg"},
      {"access denied",
       [](sim::KscFaults* f, KscSource*) {
         f->pxg_method = "HostGroup.FindHosts";
         f->pxg_message = "Access denied";
       },
       "access_denied"},
  };
  for (const Fault& fault : faults) {
    SCOPED_TRACE(fault.name);
    runs_ = changes_ = 0;
    logs_.clear();
    server_->set_faults({});
    Discovery& d = make();
    sim::KscFaults f;
    KscSource s = source();
    fault.apply(&f, &s);
    d.set_sources({s});
    ASSERT_TRUE(run_until([&] { return d.settled(); }));
    ASSERT_TRUE(status().success);
    const double first_success = *status().last_success_unix;

    server_->set_faults(f);
    ASSERT_TRUE(run_until([&] { return !status().success; }));
    DiscoveryStatus st = status();
    EXPECT_EQ(st.error_kind, fault.kind) << st.error;
    EXPECT_FALSE(st.error.empty());
    EXPECT_EQ(targets_of(d).size(), 40u);  // the last good ones
    EXPECT_EQ(st.targets, 40u);
    EXPECT_TRUE(st.statistics.empty());
    EXPECT_EQ(*st.last_success_unix, first_success);
    EXPECT_EQ(changes_, 1);
    // It retries (with the short first retry) and keeps failing, logged once.
    ASSERT_TRUE(run_for_runs(2));
    EXPECT_FALSE(status().success);
    EXPECT_GE(status().failures, 3u);
    EXPECT_EQ(std::count_if(logs_.begin(), logs_.end(),
                            [](const std::string& l) { return l.rfind("W ", 0) == 0; }),
              1)
        << logs_.back();
    EXPECT_NE(logs_.back().find("keeping the 40 targets"), std::string::npos) << logs_.back();

    server_->set_faults({});
    ASSERT_TRUE(run_until([&] { return status().success; }));
    EXPECT_GT(*status().last_success_unix, first_success);
    EXPECT_EQ(changes_, 1);
    EXPECT_TRUE(status().error_kind.empty());
    EXPECT_FALSE(status().statistics.empty());
    EXPECT_NE(logs_.back().find("discovery recovered: 40 targets"), std::string::npos)
        << logs_.back();
    discovery_.reset();
  }
}

TEST_F(DiscoveryLoopTest, BackoffDoublesUpToTheRefresh) {
  Discovery::Options options;
  options.first_retry = 100ms;
  Discovery& d = make(options);
  KscSource s = source();
  s.refresh = 250ms;
  sim::KscFaults f;
  f.refuse_login = true;
  server_->set_faults(f);
  d.set_sources({s});
  // Retries after 100, 200, 250, 250 ms: 5 runs need at least 800 ms.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_for_runs(5));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 800ms);
  EXPECT_LT(took, 3s);
  EXPECT_NE(logs_[0].find("next attempt in 100ms"), std::string::npos) << logs_[0];
  EXPECT_TRUE(targets_of(d).empty());
  EXPECT_FALSE(status().last_success_unix);
}

TEST_F(DiscoveryLoopTest, SetSourcesKeepsAnUnchangedSectionAndDropsARemovedOne) {
  Discovery& d = make();
  d.set_sources({source("ksc01"), source("ksc02")});
  ASSERT_TRUE(run_until([&] { return d.settled(); }));
  ASSERT_TRUE(run_until([&] { return d.status()[0].runs >= 2; }));
  ASSERT_EQ(targets_of(d).size(), 80u);  // the same devices under two names (compose keeps one)
  EXPECT_EQ(label_of(targets_of(d)[0], "ksc_server"), "ksc01");
  EXPECT_EQ(label_of(targets_of(d)[40], "ksc_server"), "ksc02");
  const std::uint64_t runs_before = status(0).runs;

  // ksc02 removed: its targets leave at once; ksc01 keeps its loop and result.
  KscSource same = source("ksc01");
  same.pos = {"k.toml", 40, 1};  // moved in the file: still the same section
  EXPECT_TRUE(d.set_sources({same}));
  ASSERT_EQ(d.status().size(), 1u);
  EXPECT_TRUE(d.settled());
  EXPECT_GE(status().runs, runs_before);
  std::vector<TargetConfig> targets = targets_of(d);
  ASSERT_EQ(targets.size(), 40u);
  EXPECT_EQ(targets[0].pos.line, 40);
  for (const auto& t : targets) EXPECT_EQ(label_of(t, "ksc_server"), "ksc01");

  // Nothing changed: nothing to recompose.
  EXPECT_FALSE(d.set_sources({same}));

  // Changed settings: the section starts again, without targets until its run ends.
  KscSource changed = same;
  changed.labels = {{"site", "lyon"}};
  EXPECT_TRUE(d.set_sources({changed}));
  EXPECT_FALSE(d.settled());
  EXPECT_EQ(status().runs, 0u);
  EXPECT_TRUE(targets_of(d).empty());
  const int changes_before = changes_;
  ASSERT_TRUE(run_until([&] { return d.settled(); }));
  EXPECT_EQ(changes_, changes_before + 1);
  EXPECT_EQ(label_of(targets_of(d)[0], "site"), "lyon");

  // The runs of the removed section are gone for good.
  const unsigned logins = server_->counters().logins;
  ASSERT_TRUE(run_for_runs(2));
  EXPECT_LE(server_->counters().logins, logins + 3);  // ksc01 alone: one login per run
  EXPECT_TRUE(d.set_sources({}));
  EXPECT_TRUE(targets_of(d).empty());
  EXPECT_TRUE(d.status().empty());
}

TEST_F(DiscoveryLoopTest, ThePasswordIsReadAgainAtEachRunAndNeverWritten) {
  test::write_file(password_file_, "wrong-password\n");
  Discovery& d = make();
  d.set_sources({source()});
  ASSERT_TRUE(run_until([&] { return d.settled(); }));
  EXPECT_EQ(status().error_kind, "unauthorized");
  EXPECT_TRUE(targets_of(d).empty());

  // The file is fixed: the next run logs in with the new password.
  test::replace_file(password_file_, std::string(kPassword) + "\n");
  ASSERT_TRUE(run_until([&] { return status().success; }));
  EXPECT_EQ(targets_of(d).size(), 40u);

  // The file goes: the run fails naming the file, and the targets stay.
  const std::string path = password_file_;
  std::remove(path.c_str());
  ASSERT_TRUE(run_until([&] { return !status().success; }));
  EXPECT_EQ(status().error_kind, "password");
  EXPECT_NE(status().error.find(path), std::string::npos) << status().error;
  EXPECT_EQ(targets_of(d).size(), 40u);
  expect_no_secret(
      {kPassword, "wrong-password", base64_encode(kPassword), base64_encode("wrong-password")});
}

TEST_F(DiscoveryLoopTest, ListsGoStaleWhileRunsFailAndFreshAgainAtTheNextSuccess) {
  Discovery& d = make();
  KscSource s = source();
  s.stale_after = 400ms;
  d.set_sources({s});
  ASSERT_TRUE(run_until([&] { return status().success; }));
  EXPECT_FALSE(status().stale);
  ASSERT_EQ(d.agent_sections().size(), 1u);
  EXPECT_FALSE(d.agent_sections()[0].stale);

  // The server refuses every login: the list in use ages past stale_after.
  server_->set_faults({.refuse_login = true});
  ASSERT_TRUE(run_until([&] { return !status().success; }));
  ASSERT_TRUE(run_until([&] { return status().stale; }));
  EXPECT_TRUE(d.agent_sections()[0].stale);
  EXPECT_EQ(targets_of(d).size(), 40u);  // still probed

  // The server answers again: the next success makes the list fresh.
  server_->set_faults({});
  ASSERT_TRUE(run_until([&] { return status().success; }));
  EXPECT_FALSE(status().stale);
  EXPECT_FALSE(d.agent_sections()[0].stale);
}

TEST_F(DiscoveryLoopTest, AWholeRunIsBoundedAndStopCancelsItForGood) {
  sim::KscFaults f;
  f.stall_method = "HostGroup.FindHosts";
  server_->set_faults(f);
  Discovery::Options options;
  options.run_timeout = 300ms;
  Discovery& d = make(options);
  KscSource s = source();
  s.limits.request_timeout = 30s;  // the run's own limit hits first
  d.set_sources({s});
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return d.settled(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(status().error_kind, "timeout");
  EXPECT_NE(status().error.find("300ms"), std::string::npos) << status().error;

  // Stopped while a request stalls: the run ends without a new connection or login.
  ASSERT_TRUE(run_until([&] { return calls("HostGroup.FindHosts") >= 2; }));
  const unsigned logins = server_->counters().logins;
  const unsigned connections = server_->counters().connections;
  const int runs = runs_;
  d.stop();
  run_for(400ms);
  EXPECT_EQ(server_->counters().logins, logins);
  EXPECT_EQ(server_->counters().connections, connections);
  EXPECT_EQ(runs_, runs);
  EXPECT_FALSE(d.set_sources({s}));
}

TEST(DiscoverySettings, SameSettingsIgnoresOnlyThePosition) {
  KscSource a;
  a.name = "ksc01";
  a.url = "https://ksc01:13299";
  KscSource b = a;
  b.pos = {"k.toml", 12, 1};
  EXPECT_TRUE(same_settings(a, b));
  b.limits.page_size = 100;
  EXPECT_FALSE(same_settings(a, b));
  b = a;
  b.password_file = "/etc/other";
  EXPECT_FALSE(same_settings(a, b));
  b = a;
  b.roles = {Role::agent};
  EXPECT_FALSE(same_settings(a, b));
  b = a;
  b.refresh = std::chrono::minutes(5);
  EXPECT_FALSE(same_settings(a, b));
}

TEST(DiscoverySettings, SameTargetsComparesWhatDiscoverySets) {
  DiscoveredTarget t;
  t.name = "pc-1";
  t.address = "10.0.0.1";
  t.role = Role::agent;
  t.labels = {{"ksc_server", "ksc01"}};
  std::vector<DiscoveredTarget> a = {t};
  std::vector<DiscoveredTarget> b = a;
  EXPECT_TRUE(same_targets(a, b));
  b[0].role = Role::distribution_point;
  EXPECT_FALSE(same_targets(a, b));
  b = a;
  b[0].labels = {{"ksc_server", "ksc02"}};
  EXPECT_FALSE(same_targets(a, b));
  b = a;
  b[0].address = "10.0.0.2";
  EXPECT_FALSE(same_targets(a, b));
  b.push_back(t);
  EXPECT_FALSE(same_targets(a, b));
}

}  // namespace
}  // namespace kscprobe::ksc
