// Discovery against the fake KSC OpenAPI server (simulator/ksc_openapi.hpp): both session styles,
// paging, renewed sessions, every failure a real server can produce, and certificate trust.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "config/base64.hpp"
#include "daemon/discovery/ksc_client.hpp"
#include "daemon/discovery/ksc_inventory.hpp"
#include "simulator/ksc_openapi.hpp"
#include "tests/support/files.hpp"

namespace kscprobe::ksc {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr char kPassword[] = "ksc-secret";

struct Outcome {
  Error error;
  Inventory inventory;
  ClientStats stats;
  KscSessionMode mode = KscSessionMode::connection;
  std::chrono::steady_clock::duration took{};
};

asio::awaitable<Error> discover_and_close(Client& client, const KscSource& source,
                                          Inventory* inventory) {
  Error e = co_await discover(client, source, inventory);
  co_await client.close();
  co_return e;
}

// The fake lists 1200 devices, one in 20 of them under "Unassigned devices" (generate_hosts):
// those are left out, as they are on a real server.
constexpr std::size_t kListed = 1200;
const std::size_t kManaged = kListed - sim::KscOpenApiServer::generated_unassigned(kListed);

class KscDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override { start_server({}); }
  void TearDown() override {
    server_->stop();
    drain();
  }

  void start_server(sim::KscOpenApiOptions options) {
    if (server_) {
      server_->stop();
      drain();
    }
    server_ = std::make_unique<sim::KscOpenApiServer>(io_, std::move(options));
    server_->start();
    server_->set_hosts(sim::KscOpenApiServer::generate_hosts(1200, 1773937133));
    ca_file_ = file("ca.pem", server_->ca().cert_pem);
  }

  // A file that lasts as long as the test.
  std::string file(const std::string& name, const std::string& content) {
    files_.push_back(std::make_unique<test::TempFile>(name, content));
    return files_.back()->path();
  }

  // Lets the server's coroutines see the closed sockets and end.
  void drain() {
    io_.restart();
    io_.run_for(50ms);
  }

  KscSource source() const {
    KscSource s;
    s.name = "ksc01";
    s.url = server_->url();
    s.user = "kscprobe";
    s.ca_file = ca_file_;
    s.limits.request_timeout = 2s;
    s.limits.page_size = 500;
    return s;
  }

  Outcome discover_once(const KscSource& s, std::string password = kPassword) {
    Client client(io_.get_executor(), s, std::move(password));
    Outcome run;
    std::optional<Error> result;
    std::exception_ptr failure;
    const auto start = std::chrono::steady_clock::now();
    asio::co_spawn(io_, discover_and_close(client, s, &run.inventory),
                   [&](std::exception_ptr e, Error error) {
                     failure = e;
                     result = std::move(error);
                   });
    io_.restart();
    // Bounded: the server's accept loop keeps the context busy, so run until the result.
    while (!result && std::chrono::steady_clock::now() - start < 60s) io_.run_one_for(100ms);
    if (failure) std::rethrow_exception(failure);
    EXPECT_TRUE(result) << "discovery did not finish within 60 s";
    run.took = std::chrono::steady_clock::now() - start;
    if (result) run.error = std::move(*result);
    run.stats = client.stats();
    run.mode = client.session_mode();
    return run;
  }

  std::set<std::string> ids(const Inventory& inventory) const {
    std::set<std::string> out;
    for (const Host& h : inventory.hosts) out.insert(h.id);
    return out;
  }

  asio::io_context io_;
  std::unique_ptr<sim::KscOpenApiServer> server_;
  std::string ca_file_;
  std::vector<std::unique_ptr<test::TempFile>> files_;
};

TEST_F(KscDiscoveryTest, ConnectionSessionReadsEveryPageOverOneConnection) {
  auto hosts = sim::KscOpenApiServer::generate_hosts(1200, 1773937133);
  server_->set_update_agents({hosts[4].id, "not-a-listed-host"});
  Outcome run = discover_once(source());
  ASSERT_FALSE(run.error) << run.error.message;

  const Inventory& inv = run.inventory;
  EXPECT_EQ(inv.listed, kManaged);
  ASSERT_EQ(inv.hosts.size(), kManaged);
  EXPECT_TRUE(inv.skipped.empty());
  const Host& h = inv.hosts[4];
  EXPECT_EQ(h.id, hosts[4].id);
  EXPECT_EQ(h.display_name, "pc-00005");
  EXPECT_EQ(h.fqdn, "pc-00005.corp.example");
  EXPECT_EQ(h.ipv4, (10u << 24) + (1u << 16) + 5u);
  EXPECT_EQ(h.last_visible, 1773937133);
  EXPECT_EQ(h.last_agent_connected, hosts[4].last_agent_connected);
  EXPECT_EQ(h.status, hosts[4].status);
  EXPECT_TRUE(h.distribution_point);
  EXPECT_EQ(std::count_if(inv.hosts.begin(), inv.hosts.end(),
                          [](const Host& x) { return x.distribution_point; }),
            1);
  // The fake's groups, ids in no convenient order (Lyon is 4, as "WORKGROUP" is in public
  // samples): every one is listed with its parent.
  const std::map<std::int64_t, std::string> names = {
      {0, "Managed devices"},    {7, "Paris"},     {4, "Lyon"}, {9, "Branch 2"}, {3, "Servers"},
      {1, "Unassigned devices"}, {12, "WORKGROUP"}};
  EXPECT_EQ(inv.group_name(h.group_id), names.at(h.group_id));
  EXPECT_EQ(inv.groups.size(), names.size());
  EXPECT_EQ(inv.groups.at(9).parent, 4);
  for (const Host& x : inv.hosts) EXPECT_NE(x.group_id, 12) << x.id << " is unassigned";

  // The fake's instance statistics under their real names: every value read, every one known
  // (ksc_statistics.cpp's table), the wrapped, nested and datetime ones decoded.
  ASSERT_EQ(inv.statistics.size(), 50u);
  for (const auto& s : inv.statistics) EXPECT_NE(s.info, nullptr) << s.record << " " << s.name;
  auto value = [&](std::string_view record, std::string_view name) {
    for (const auto& s : inv.statistics)
      if (s.record == record && s.name == name) return s.value;
    return -1.0;
  };
  EXPECT_EQ(value("", "KLSRV_ST_ALL_CONS_CNT"), 12);
  EXPECT_EQ(value("", "KLSRV_ST_CPU_USER"), 31.25);
  EXPECT_EQ(value("", "KLTR_ST_SENT_BYTES"), 7340032000.0);
  EXPECT_EQ(value("", "KLSRV_ST_NETWORK_SCANNED"), 1);
  EXPECT_EQ(value("", "KLSRV_ST_LAST_FULLNETSCAN_TIME"), 1773885611);
  EXPECT_EQ(value("KLSRV_ST_CON_EVENTS", "KLSRV_ST_CON_EV_SUBS_COUNT"), 11);
  EXPECT_EQ(value("KLASYNCACT_COUNTERS", "KLASYNCACT_DURATION_MSEC"), 1.5);
  EXPECT_TRUE(inv.statistics_error.empty());

  const sim::KscCounters& c = server_->counters();
  EXPECT_EQ(c.connections, 1u);  // one kept-alive connection
  EXPECT_EQ(c.logins, 1u);
  EXPECT_EQ(c.tokens_issued, 0u);
  // Chunks of at most 100 (the fake caps them below the 500 asked): 12 of hosts, 1 of groups.
  EXPECT_EQ(c.calls.at("ChunkAccessor.GetItemsChunk"), 13u);
  EXPECT_EQ(c.largest_chunk, 100u);
  EXPECT_EQ(c.accessors_created, 2u);
  EXPECT_EQ(c.accessors_released, 2u);
  EXPECT_EQ(c.open_accessors, 0u);
  EXPECT_EQ(run.stats.connections, 1u);
  EXPECT_EQ(run.stats.logins, 1u);

  TargetStats stats;
  auto targets = to_targets(inv, source(), &stats);
  EXPECT_EQ(targets.size(), kManaged);
  EXPECT_EQ(stats.by_role[static_cast<int>(Role::distribution_point)], 1u);
}

TEST_F(KscDiscoveryTest, TokenSession) {
  KscSource s = source();
  s.session = KscSessionMode::token;
  Outcome run = discover_once(s);
  ASSERT_FALSE(run.error) << run.error.message;
  EXPECT_EQ(run.inventory.hosts.size(), kManaged);
  const sim::KscCounters& c = server_->counters();
  EXPECT_EQ(c.tokens_issued, 1u);
  EXPECT_EQ(c.logins, 0u);
  EXPECT_EQ(c.connections, 1u);
  EXPECT_EQ(c.sessions_ended, 1u);  // close() ends the token's session
  EXPECT_EQ(c.open_accessors, 0u);
}

TEST_F(KscDiscoveryTest, AServerWithoutLoginIsAskedForATokenInstead) {
  sim::KscOpenApiOptions options;
  options.login_endpoint = false;
  start_server(options);
  Outcome run = discover_once(source());
  ASSERT_FALSE(run.error) << run.error.message;
  EXPECT_EQ(run.inventory.hosts.size(), kManaged);
  EXPECT_EQ(run.mode, KscSessionMode::token);
  EXPECT_EQ(server_->counters().tokens_issued, 1u);
}

TEST_F(KscDiscoveryTest, DomainUserAndVirtualServerAreSent) {
  sim::KscOpenApiOptions options;
  options.user = "svc-kscprobe";
  options.domain = "CORP";
  options.internal = false;
  options.vserver = "tenant-a";
  start_server(options);
  KscSource s = source();
  s.user = "svc-kscprobe";
  s.domain = "CORP";
  s.internal = false;
  s.vserver = "tenant-a";
  Outcome run = discover_once(s);
  ASSERT_FALSE(run.error) << run.error.message;
  // The same account on the main server is refused: the vserver is part of the login.
  s.vserver = "";
  EXPECT_EQ(discover_once(s).error.kind, ErrorKind::unauthorized);
}

// A session that ends during the device listing (KSC answers 403 to every call of an ended
// session): the client logs in again, and the listing starts over in the same run (its accessor
// belonged to the old session). The device listing takes 15 calls (chunks of at most 100): the
// first session ends in its middle, the second has room for all of it.
TEST_F(KscDiscoveryTest, ExpiredSessionLogsInAgain) {
  sim::KscFaults faults;
  faults.expire_after_calls = 16;
  ASSERT_EQ(faults.expired_status, 403);
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  ASSERT_FALSE(run.error) << run.error.message;
  EXPECT_EQ(run.inventory.hosts.size(), kManaged);
  EXPECT_EQ(ids(run.inventory).size(), kManaged);
  const sim::KscCounters& c = server_->counters();
  EXPECT_GE(c.logins, 2u);
  EXPECT_GE(c.forbidden, 1u);
  EXPECT_EQ(c.connections, 1u);  // the same connection
  EXPECT_EQ(c.calls.at("HostGroup.FindHosts"), 2u);
}

// The same with the 401 an expired session may answer instead.
TEST_F(KscDiscoveryTest, A401ToAnEstablishedSessionIsRenewedToo) {
  sim::KscFaults faults;
  faults.expire_after_calls = 16;
  faults.expired_status = 401;
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  ASSERT_FALSE(run.error) << run.error.message;
  EXPECT_EQ(run.inventory.hosts.size(), kManaged);
  EXPECT_EQ(server_->counters().calls.at("HostGroup.FindHosts"), 2u);
}

// A server whose sessions end sooner than a listing takes fails the run, after one new try, and
// says why; the last good list is kept by the caller.
TEST_F(KscDiscoveryTest, SessionsThatEndSoonerThanAListingFailTheRunOnce) {
  sim::KscFaults faults;
  faults.expire_after_calls = 9;
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  EXPECT_EQ(run.error.kind, ErrorKind::unauthorized);
  EXPECT_NE(run.error.message.find("session ended twice"), std::string::npos) << run.error.message;
  EXPECT_EQ(server_->counters().calls.at("HostGroup.FindHosts"), 2u);
}

TEST_F(KscDiscoveryTest, AConnectionClosedAfterLoginIsReopenedWithANewLogin) {
  sim::KscFaults faults;
  faults.expire_after_calls = 16;
  faults.expire_by_closing = true;
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  ASSERT_FALSE(run.error) << run.error.message;
  EXPECT_EQ(run.inventory.hosts.size(), kManaged);
  const sim::KscCounters& c = server_->counters();
  EXPECT_GE(c.connections, 2u);
  EXPECT_GE(c.logins, 2u);
}

TEST_F(KscDiscoveryTest, ExpiredTokenIsRenewed) {
  sim::KscFaults faults;
  faults.expire_after_calls = 16;
  server_->set_faults(faults);
  KscSource s = source();
  s.session = KscSessionMode::token;
  Outcome run = discover_once(s);
  ASSERT_FALSE(run.error) << run.error.message;
  EXPECT_EQ(run.inventory.hosts.size(), kManaged);
  EXPECT_GE(server_->counters().tokens_issued, 2u);
}

TEST_F(KscDiscoveryTest, RefusedLoginIsAnErrorWithoutThePassword) {
  for (bool fault : {true, false}) {
    sim::KscFaults faults;
    faults.refuse_login = fault;
    server_->set_faults(faults);
    Outcome run = discover_once(source(), fault ? kPassword : "wrong-password");
    EXPECT_EQ(run.error.kind, ErrorKind::unauthorized);
    EXPECT_EQ(run.error.http_status, 401);
    EXPECT_NE(run.error.message.find("kscprobe"), std::string::npos) << run.error.message;
    for (std::string secret : {std::string(kPassword), std::string("wrong-password"),
                               base64_encode(kPassword), base64_encode("wrong-password")}) {
      EXPECT_EQ(run.error.message.find(secret), std::string::npos) << run.error.message;
    }
  }
  KscSource s = source();
  s.session = KscSessionMode::token;
  Outcome token = discover_once(s, "wrong-password");
  EXPECT_EQ(token.error.kind, ErrorKind::unauthorized);
  EXPECT_EQ(server_->counters().calls.count("HostGroup.FindGroups"), 0u);
}

TEST_F(KscDiscoveryTest, PxgErrorCarriesCodeAndMessage) {
  sim::KscFaults faults;
  faults.pxg_method = "HostGroup.FindHosts";
  faults.pxg_code = 1950;
  faults.pxg_message = "Invalid search filter";
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  EXPECT_EQ(run.error.kind, ErrorKind::pxg);
  EXPECT_EQ(run.error.pxg_code, 1950);
  EXPECT_NE(run.error.message.find("HostGroup.FindHosts"), std::string::npos);
  EXPECT_NE(run.error.message.find("1950"), std::string::npos);
  EXPECT_NE(run.error.message.find("Invalid search filter"), std::string::npos)
      << run.error.message;
}

TEST_F(KscDiscoveryTest, AnAccessDeniedErrorHasAReasonOfItsOwn) {
  sim::KscFaults faults;
  faults.pxg_method = "HostGroup.FindHosts";
  faults.pxg_message = "Access denied";
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  EXPECT_EQ(run.error.kind, ErrorKind::access_denied);
  EXPECT_EQ(to_string(run.error.kind), "access_denied");
  EXPECT_NE(run.error.message.find("lacks a right"), std::string::npos) << run.error.message;
}

TEST_F(KscDiscoveryTest, AccessorIsReleasedWhenAPageFails) {
  sim::KscFaults faults;
  faults.pxg_method = "ChunkAccessor.GetItemsChunk";
  faults.pxg_message = "Accessor not found";
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  EXPECT_EQ(run.error.kind, ErrorKind::pxg);
  const sim::KscCounters& c = server_->counters();
  EXPECT_EQ(c.accessors_created, 1u);
  EXPECT_EQ(c.accessors_released, 1u);
  EXPECT_EQ(c.open_accessors, 0u);
}

TEST_F(KscDiscoveryTest, MalformedJsonIsAnError) {
  sim::KscFaults faults;
  faults.malformed_method = "ChunkAccessor.GetItemsCount";
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  EXPECT_EQ(run.error.kind, ErrorKind::malformed);
  EXPECT_NE(run.error.message.find("ChunkAccessor.GetItemsCount"), std::string::npos);
  EXPECT_EQ(server_->counters().open_accessors, 0u);
}

TEST_F(KscDiscoveryTest, AStallingServerTimesOut) {
  sim::KscFaults faults;
  faults.stall_method = "HostGroup.FindHosts";
  server_->set_faults(faults);
  KscSource s = source();
  s.limits.request_timeout = 1s;
  Outcome run = discover_once(s);
  EXPECT_EQ(run.error.kind, ErrorKind::timeout) << run.error.message;
  EXPECT_GE(run.took, 1s);
  EXPECT_LT(run.took, 5s);
}

TEST_F(KscDiscoveryTest, AnOversizedBodyIsRefused) {
  sim::KscFaults faults;
  faults.oversize_method = "UaControl.GetUpdateAgentsList";
  faults.oversize_bytes = 2 * 1024 * 1024;
  server_->set_faults(faults);
  KscSource s = source();
  s.limits.max_body_bytes = 1024 * 1024;
  Outcome run = discover_once(s);
  EXPECT_EQ(run.error.kind, ErrorKind::too_large) << run.error.message;
  // Under the limit the same answer is read (and is no update agent list).
  s.limits.max_body_bytes = 4 * 1024 * 1024;
  EXPECT_FALSE(discover_once(s).error);
}

TEST_F(KscDiscoveryTest, FailedStatisticsDoNotFailTheRun) {
  sim::KscFaults faults;
  faults.pxg_method = "HostGroup.GetInstanceStatistics";
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  ASSERT_FALSE(run.error) << run.error.message;
  EXPECT_EQ(run.inventory.hosts.size(), kManaged);
  EXPECT_TRUE(run.inventory.statistics.empty());
  EXPECT_NE(run.inventory.statistics_error.find("PxgError"), std::string::npos);
}

TEST_F(KscDiscoveryTest, HostsAddedAndRemovedBetweenTwoRuns) {
  auto hosts = sim::KscOpenApiServer::generate_hosts(3, 1773937133);
  server_->set_hosts(hosts);
  Outcome first = discover_once(source());
  ASSERT_FALSE(first.error) << first.error.message;
  EXPECT_EQ(ids(first.inventory), (std::set<std::string>{hosts[0].id, hosts[1].id, hosts[2].id}));

  ASSERT_TRUE(server_->remove_host(hosts[1].id));
  EXPECT_FALSE(server_->remove_host("no-such-host"));
  sim::KscHostDef added;
  added.id = "added-host";
  added.display_name = "NEW-PC";
  added.ipv4 = 0xC0A80001;
  server_->add_host(added);
  Outcome second = discover_once(source());
  ASSERT_FALSE(second.error) << second.error.message;
  EXPECT_EQ(ids(second.inventory), (std::set<std::string>{hosts[0].id, hosts[2].id, "added-host"}));
  auto targets = to_targets(second.inventory, source());
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].name, "NEW-PC");
  EXPECT_EQ(targets[0].address, "192.168.0.1");
}

TEST_F(KscDiscoveryTest, AnUntrustedCertificateIsRefusedBeforeLoggingIn) {
  sim::CertOptions other;
  other.common_name = "Other CA";
  KscSource s = source();
  s.ca_file = file("other-ca.pem", sim::make_ca(other).cert_pem);
  Outcome wrong_ca = discover_once(s);
  EXPECT_EQ(wrong_ca.error.kind, ErrorKind::tls);
  EXPECT_NE(wrong_ca.error.message.find("not trusted"), std::string::npos)
      << wrong_ca.error.message;

  // The right CA, but the certificate does not name the server.
  s = source();
  s.server_name = "ksc01.corp.example";
  EXPECT_EQ(discover_once(s).error.kind, ErrorKind::tls);

  s = source();
  s.ca_file.clear();
  s.fingerprint_sha256 = std::string(64, '0');
  Outcome wrong_pin = discover_once(s);
  EXPECT_EQ(wrong_pin.error.kind, ErrorKind::tls);
  EXPECT_NE(wrong_pin.error.message.find("fingerprint"), std::string::npos);

  EXPECT_EQ(server_->counters().calls.count("login"), 0u);
}

TEST_F(KscDiscoveryTest, APinnedCertificateIsTrusted) {
  KscSource s = source();
  s.ca_file.clear();
  std::string pin;
  const std::string& hex = server_->certificate().fingerprint_sha256;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (i) pin += ':';
    pin += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
    pin += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i + 1])));
  }
  s.fingerprint_sha256 = pin;  // "AB:CD:..." is the same pin
  Outcome run = discover_once(s);
  EXPECT_FALSE(run.error) << run.error.message;
}

TEST_F(KscDiscoveryTest, NoTrustIsAConfigurationErrorUnlessSkippedExplicitly) {
  KscSource s = source();
  s.ca_file.clear();
  Outcome none = discover_once(s);
  EXPECT_EQ(none.error.kind, ErrorKind::config);
  EXPECT_EQ(server_->counters().connections, 0u);
  s.insecure_skip_verify = true;
  EXPECT_FALSE(discover_once(s).error);
}

TEST_F(KscDiscoveryTest, AnUnreachableServerIsAConnectError) {
  KscSource s = source();
  server_->stop();
  drain();
  Outcome run = discover_once(s);
  EXPECT_EQ(run.error.kind, ErrorKind::connect) << run.error.message;
}

TEST_F(KscDiscoveryTest, TheDeviceLimitIsCounted) {
  KscSource s = source();
  s.limits.max_devices = 700;
  Outcome run = discover_once(s);
  ASSERT_FALSE(run.error) << run.error.message;
  EXPECT_EQ(run.inventory.hosts.size(), 700u);
  EXPECT_EQ(run.inventory.skipped.at("over_limit"), kManaged - 700);
  EXPECT_EQ(server_->counters().open_accessors, 0u);
}

// --- Against the strict fake: what a server that behaves as documented does ---

// ChunkAccessor.GetItemsChunk "returns the actual number of returned elements (less or equal to
// nCount)": a server that caps its chunks at 25 still has every device read.
TEST_F(KscDiscoveryTest, ChunksShorterThanAskedAreAllRead) {
  sim::KscOpenApiOptions options;
  options.max_chunk_items = 25;
  start_server(options);
  server_->set_hosts(sim::KscOpenApiServer::generate_hosts(60, 1773937133, 0));
  Outcome run = discover_once(source());
  ASSERT_FALSE(run.error) << run.error.message;
  EXPECT_EQ(run.inventory.hosts.size(), 60u);
  EXPECT_EQ(ids(run.inventory).size(), 60u);
  EXPECT_EQ(run.inventory.skipped.count("listing_short"), 0u);
  EXPECT_EQ(server_->counters().largest_chunk, 25u);
}

// "Unassigned devices" is not group 4: its id is the server's own, and a managed group may have
// id 4 (the fake's Lyon). The devices below it are left out by KLHST_WKS_FROM_UNASSIGNED.
TEST_F(KscDiscoveryTest, UnassignedDevicesAreLeftOutWhateverTheGroupIds) {
  Outcome run = discover_once(source());
  ASSERT_FALSE(run.error) << run.error.message;
  std::map<std::int64_t, std::size_t> per_group;
  for (const Host& h : run.inventory.hosts) ++per_group[h.group_id];
  EXPECT_GT(per_group[sim::KscOpenApiServer::kGroupLyon], 0u);
  EXPECT_GT(per_group[sim::KscOpenApiServer::kGroupLyonBranch2], 0u);
  EXPECT_EQ(per_group.count(sim::KscOpenApiServer::kGroupWorkgroup), 0u);
  EXPECT_EQ(run.inventory.hosts.size(), kManaged);
  EXPECT_NE(server_->counters().last_host_filter.find("KLHST_WKS_FROM_UNASSIGNED"),
            std::string::npos);

  KscSource all = source();
  all.include_unassigned = true;
  Outcome everything = discover_once(all);
  ASSERT_FALSE(everything.error) << everything.error.message;
  EXPECT_EQ(everything.inventory.hosts.size(), kListed);
}

// One kscprobe per site: the devices of the named groups and their subgroups only, the names
// resolved to the server's ids at each run.
TEST_F(KscDiscoveryTest, GroupsListTheirDevicesAndSubgroupsOnly) {
  auto in = [](const Outcome& run, std::set<std::int64_t> allowed) {
    if (run.inventory.hosts.empty()) return false;
    for (const Host& h : run.inventory.hosts)
      if (!allowed.count(h.group_id)) return false;
    return true;
  };
  KscSource s = source();
  s.groups = {"Lyon"};
  Outcome lyon = discover_once(s);
  ASSERT_FALSE(lyon.error) << lyon.error.message;
  EXPECT_TRUE(
      in(lyon, {sim::KscOpenApiServer::kGroupLyon, sim::KscOpenApiServer::kGroupLyonBranch2}));
  std::set<std::int64_t> seen;
  for (const Host& h : lyon.inventory.hosts) seen.insert(h.group_id);
  EXPECT_EQ(seen.size(), 2u);  // Lyon's own devices and Branch 2's

  s.groups = {"Paris", "Lyon/Branch 2"};
  Outcome two = discover_once(s);
  ASSERT_FALSE(two.error) << two.error.message;
  EXPECT_TRUE(
      in(two, {sim::KscOpenApiServer::kGroupParis, sim::KscOpenApiServer::kGroupLyonBranch2}));

  s.groups = {"Marseille"};
  Outcome unknown = discover_once(s);
  EXPECT_EQ(unknown.error.kind, ErrorKind::config);
  EXPECT_NE(unknown.error.message.find("\"Marseille\""), std::string::npos)
      << unknown.error.message;
  EXPECT_NE(unknown.error.message.find("\"Lyon\""), std::string::npos) << unknown.error.message;
}

// A PxgError with HTTP 200 (as public clients expect it) is an error, reported with its module.
TEST_F(KscDiscoveryTest, APxgErrorWith200IsAnErrorWithItsModule) {
  sim::KscFaults faults;
  faults.pxg_method = "HostGroup.FindHosts";
  faults.pxg_message = "Invalid search filter";
  ASSERT_EQ(faults.pxg_http_status, 200);
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  EXPECT_EQ(run.error.kind, ErrorKind::pxg);
  EXPECT_EQ(run.error.pxg_module, "KLSTD");
  EXPECT_NE(run.error.message.find("(KLSTD"), std::string::npos) << run.error.message;
}

TEST_F(KscDiscoveryTest, AMethodTheAccountMayNotCallIsAccessDenied) {
  sim::KscFaults faults;
  faults.denied_methods = {"UaControl.GetUpdateAgentsList"};
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  EXPECT_EQ(run.error.kind, ErrorKind::access_denied) << run.error.message;
  EXPECT_EQ(run.error.pxg_code, 1184);
}

// An account under two-step verification: 401 with WWW-Authenticate naming KSCMFA.
TEST_F(KscDiscoveryTest, AnAccountThatNeedsTwoStepVerificationIsSaidSo) {
  sim::KscOpenApiOptions options;
  options.mfa_required = true;
  start_server(options);
  for (KscSessionMode mode : {KscSessionMode::connection, KscSessionMode::token}) {
    KscSource s = source();
    s.session = mode;
    Outcome run = discover_once(s);
    EXPECT_EQ(run.error.kind, ErrorKind::mfa_required) << run.error.message;
    EXPECT_NE(run.error.message.find("two-step verification"), std::string::npos)
        << run.error.message;
  }
}

TEST_F(KscDiscoveryTest, ARefusedLoginSaysWhichKindOfAccountItWas) {
  Outcome run = discover_once(source(), "wrong-password");
  EXPECT_EQ(run.error.kind, ErrorKind::unauthorized);
  EXPECT_NE(run.error.message.find("KSC internal user \"kscprobe\""), std::string::npos)
      << run.error.message;
  EXPECT_NE(run.error.message.find("internal = false"), std::string::npos) << run.error.message;
}

TEST_F(KscDiscoveryTest, ConnectionGatewaysAreMarked) {
  auto hosts = sim::KscOpenApiServer::generate_hosts(kListed, 1773937133);
  server_->set_update_agents({hosts[4].id, hosts[5].id});
  server_->set_connection_gateways({hosts[5].id});
  Outcome run = discover_once(source());
  ASSERT_FALSE(run.error) << run.error.message;
  std::map<std::string, bool> gateway;
  for (const Host& h : run.inventory.hosts)
    if (h.distribution_point) gateway[h.id] = h.connection_gateway;
  EXPECT_EQ(gateway, (std::map<std::string, bool>{{hosts[4].id, false}, {hosts[5].id, true}}));
}

// A listing whose devices are all unusable must not replace a good list with nothing.
TEST_F(KscDiscoveryTest, AListingOfNothingUsableIsMalformed) {
  auto hosts = sim::KscOpenApiServer::generate_hosts(50, 1773937133, 0);
  for (auto& h : hosts) h.id.clear();  // no KLHST_WKS_HOSTNAME: no device
  server_->set_hosts(hosts);
  Outcome run = discover_once(source());
  EXPECT_EQ(run.error.kind, ErrorKind::malformed);
  EXPECT_NE(run.error.message.find("none of the 50 devices"), std::string::npos)
      << run.error.message;
}

// A server that hands out a device per chunk ends at the request bound: truncated, with what
// was not read counted in the message.
TEST_F(KscDiscoveryTest, AListingThatEndsAtTheRequestBoundIsTruncated) {
  sim::KscOpenApiOptions options;
  options.max_chunk_items = 1;
  start_server(options);
  server_->set_hosts(sim::KscOpenApiServer::generate_hosts(200, 1773937133, 0));
  Outcome run = discover_once(source());
  EXPECT_EQ(run.error.kind, ErrorKind::truncated);
  EXPECT_EQ(to_string(run.error.kind), "truncated");
  EXPECT_NE(run.error.message.find("of the 200 devices"), std::string::npos) << run.error.message;
  EXPECT_LT(server_->counters().calls.at("ChunkAccessor.GetItemsChunk"), 40u);
}

// Server text reaches logs and the terminal escaped, and never with the password or the
// Authorization header the server may echo.
TEST_F(KscDiscoveryTest, ServerTextIsEscapedAndNeverCarriesThePassword) {
  sim::KscFaults faults;
  faults.pxg_method = "HostGroup.FindHosts";
  faults.pxg_message = std::string(
                           "bad request\n\x1b[2Jheader: KSCBasic user=\"a3NjcHJvYmU=\", "
                           "pass=\"") +
                       base64_encode(kPassword) + "\" raw " + kPassword;
  server_->set_faults(faults);
  Outcome run = discover_once(source());
  ASSERT_EQ(run.error.kind, ErrorKind::pxg);
  const std::string& m = run.error.message;
  for (char c : m) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << m;
  EXPECT_EQ(m.find(base64_encode(kPassword)), std::string::npos) << m;
  EXPECT_EQ(m.find(kPassword), std::string::npos) << m;
  EXPECT_NE(m.find("\\x1b[2J"), std::string::npos) << m;
  EXPECT_NE(m.find("<redacted>"), std::string::npos) << m;
}

}  // namespace
}  // namespace kscprobe::ksc
