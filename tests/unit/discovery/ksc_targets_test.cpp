#include <gtest/gtest.h>

#include <algorithm>

#include "config/catalog.hpp"
#include "daemon/discovery/ksc_inventory.hpp"

namespace kscprobe::ksc {
namespace {

Host host(std::string id, std::string name, std::uint32_t ip, std::int64_t group = 1) {
  Host h;
  h.id = std::move(id);
  h.display_name = std::move(name);
  h.ipv4 = ip;
  h.group_id = group;
  return h;
}

KscSource section() {
  KscSource s;
  s.name = "ksc01";
  s.labels = {{"site", "paris"}};
  s.features = kFeatureIcmp;
  return s;
}

const DiscoveredTarget* find(const std::vector<DiscoveredTarget>& targets, std::string_view name) {
  auto it = std::find_if(targets.begin(), targets.end(),
                         [&](const DiscoveredTarget& t) { return t.name == name; });
  return it == targets.end() ? nullptr : &*it;
}

std::string label(const DiscoveredTarget& t, std::string_view name) {
  for (const auto& [k, v] : t.labels)
    if (k == name) return v;
  return "<none>";
}

TEST(KscTargets, NamesAddressesRolesAndLabels) {
  Inventory inv;
  inv.groups = {{1, {"Paris", 0}}, {2, {"Lyon", 0}}};
  inv.hosts.push_back(host("id-1", "PC-1", 0x0A000001));
  Host dp = host("id-2", "DP-1", 0x0A000002, 2);
  dp.distribution_point = true;
  inv.hosts.push_back(dp);
  Host fqdn_only = host("id-3", "PC-3", 0, 9);  // group 9 has no known name
  fqdn_only.fqdn = "pc-3.corp.example";
  fqdn_only.dns_name = "pc-3";
  inv.hosts.push_back(fqdn_only);
  Host dns_only = host("id-4", "", 0);
  dns_only.dns_name = "pc-4";
  inv.hosts.push_back(dns_only);

  TargetStats stats;
  auto targets = to_targets(inv, section(), &stats);
  ASSERT_EQ(targets.size(), 4u);
  EXPECT_TRUE(std::is_sorted(targets.begin(), targets.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));

  const DiscoveredTarget* pc1 = find(targets, "PC-1");
  ASSERT_NE(pc1, nullptr);
  EXPECT_EQ(pc1->address, "10.0.0.1");
  EXPECT_EQ(pc1->role, Role::agent);
  EXPECT_EQ(pc1->labels, (std::vector<std::pair<std::string, std::string>>{{"ksc_group", "Paris"},
                                                                           {"ksc_host_id", "id-1"},
                                                                           {"ksc_server", "ksc01"},
                                                                           {"site", "paris"}}));

  const DiscoveredTarget* dp1 = find(targets, "DP-1");
  ASSERT_NE(dp1, nullptr);
  EXPECT_EQ(dp1->role, Role::distribution_point);
  EXPECT_EQ(label(*dp1, "ksc_group"), "Lyon");

  const DiscoveredTarget* pc3 = find(targets, "PC-3");
  ASSERT_NE(pc3, nullptr);
  EXPECT_EQ(pc3->address, "pc-3.corp.example");   // no IPv4: the FQDN
  EXPECT_EQ(label(*pc3, "ksc_group"), "<none>");  // KSC did not name its group

  // No display name: named after the DNS name, which is also its address.
  const DiscoveredTarget* pc4 = find(targets, "pc-4");
  ASSERT_NE(pc4, nullptr);
  EXPECT_EQ(pc4->address, "pc-4");

  EXPECT_TRUE(stats.skipped.empty());
  EXPECT_EQ(stats.by_role[static_cast<int>(Role::agent)], 3u);
  EXPECT_EQ(stats.by_role[static_cast<int>(Role::distribution_point)], 1u);
}

TEST(KscTargets, DuplicateDisplayNamesGetTheHostId) {
  Inventory inv;
  inv.hosts.push_back(host("id-a", "PC", 0x0A000001));
  inv.hosts.push_back(host("id-b", "PC", 0x0A000002));
  inv.hosts.push_back(host("id-c", "Other", 0x0A000003));
  auto targets = to_targets(inv, section());
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_NE(find(targets, "PC (id-a)"), nullptr);
  EXPECT_NE(find(targets, "PC (id-b)"), nullptr);
  EXPECT_NE(find(targets, "Other"), nullptr);
  EXPECT_EQ(find(targets, "PC"), nullptr);
}

TEST(KscTargets, ASuffixedNameThatExistsAlreadyIsKeptOnce) {
  Inventory inv;
  inv.hosts.push_back(host("id-a", "PC", 0x0A000001));
  inv.hosts.push_back(host("id-b", "PC", 0x0A000002));
  inv.hosts.push_back(host("id-c", "PC (id-a)", 0x0A000003));
  TargetStats stats;
  auto targets = to_targets(inv, section(), &stats);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(stats.skipped["duplicate_name"], 1u);
  // The first in KSC's order keeps the name.
  const DiscoveredTarget* kept = find(targets, "PC (id-a)");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(label(*kept, "ksc_host_id"), "id-a");
}

TEST(KscTargets, TheServersViewOfEachTargetInTheSameOrder) {
  Inventory inv;
  Host stopped = host("id-1", "PC-1", 0x0A000001);
  stopped.last_agent_connected = 1'700'000'000;
  stopped.last_visible = 1'700'000'600;
  stopped.status = kStatusVisible | kStatusAgentInstalled;
  inv.hosts.push_back(stopped);
  Host running = host("id-2", "A-PC", 0x0A000002);
  running.status = kStatusVisible | kStatusAgentInstalled | kStatusAgentRunning;
  inv.hosts.push_back(running);
  inv.hosts.push_back(host("id-3", "No-Address", 0));
  inv.hosts.push_back(host("id-4", "A-PC", 0x0A000004));  // a second A-PC: both get suffixes
  std::vector<AgentView> agents;
  auto targets = to_targets(inv, section(), nullptr, &agents);
  ASSERT_EQ(targets.size(), 3u);
  ASSERT_EQ(agents.size(), targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) EXPECT_EQ(agents[i].target, targets[i].name);
  EXPECT_EQ(agents[0].target, "A-PC (id-2)");
  EXPECT_TRUE(agents[0].agent_running);
  EXPECT_FALSE(agents[0].last_agent_connected);  // KSC has none
  EXPECT_FALSE(agents[0].last_visible);
  EXPECT_EQ(agents[2].target, "PC-1");
  EXPECT_FALSE(agents[2].agent_running);
  EXPECT_EQ(agents[2].last_agent_connected, 1'700'000'000);
  EXPECT_EQ(agents[2].last_visible, 1'700'000'600);
}

TEST(KscTargets, HostsWithoutAddressAreSkippedAndCounted) {
  Inventory inv;
  inv.hosts.push_back(host("id-1", "PC-1", 0));
  Host bad = host("id-2", "PC-2", 0);
  bad.fqdn = "has space.example";  // not a usable address
  inv.hosts.push_back(bad);
  inv.hosts.push_back(host("id-3", "PC-3", 0x0A000003));
  TargetStats stats;
  auto targets = to_targets(inv, section(), &stats);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].name, "PC-3");
  EXPECT_EQ(stats.skipped["no_address"], 1u);   // none given
  EXPECT_EQ(stats.skipped["bad_address"], 1u);  // one given that cannot be a device's
}

TEST(KscTargets, OnlyTheListedRoles) {
  Inventory inv;
  inv.hosts.push_back(host("id-1", "PC-1", 0x0A000001));
  Host dp = host("id-2", "DP-1", 0x0A000002);
  dp.distribution_point = true;
  inv.hosts.push_back(dp);

  KscSource only_dp = section();
  only_dp.roles = {Role::distribution_point};
  auto dps = to_targets(inv, only_dp);
  ASSERT_EQ(dps.size(), 1u);
  EXPECT_EQ(dps[0].name, "DP-1");
  EXPECT_EQ(dps[0].role, Role::distribution_point);

  // A distribution point is an agent too: with agents only, it is probed as one.
  KscSource only_agents = section();
  only_agents.roles = {Role::agent};
  auto agents = to_targets(inv, only_agents);
  ASSERT_EQ(agents.size(), 2u);
  for (const auto& t : agents) EXPECT_EQ(t.role, Role::agent) << t.name;

  KscSource none = section();
  none.roles.clear();
  TargetStats stats;
  EXPECT_TRUE(to_targets(inv, none, &stats).empty());
  EXPECT_TRUE(stats.skipped.empty());  // left out on purpose, not skipped
}

TEST(KscTargets, SectionLabelsCannotOverrideTheKscOnes) {
  Inventory inv;
  inv.groups = {{1, {"Paris", 0}}};
  inv.hosts.push_back(host("id-1", "PC-1", 0x0A000001));
  KscSource s = section();
  s.labels = {{"ksc_group", "forged"}, {"ksc_server", "forged"}, {"zone", "dmz"}};
  auto targets = to_targets(inv, s);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(label(targets[0], "ksc_group"), "Paris");
  EXPECT_EQ(label(targets[0], "ksc_server"), "ksc01");
  EXPECT_EQ(label(targets[0], "zone"), "dmz");
  EXPECT_TRUE(std::is_sorted(targets[0].labels.begin(), targets[0].labels.end()));
}

TEST(KscTargets, ScalesToAHundredThousandHosts) {
  Inventory inv;
  inv.hosts.reserve(100000);
  for (std::uint32_t i = 0; i < 100000; ++i) {
    // Every tenth name is shared by two hosts.
    const std::uint32_t n = i % 10 == 1 ? i - 1 : i;
    inv.hosts.push_back(
        host("id-" + std::to_string(i), "pc-" + std::to_string(n), 0x0A000000 + i + 1));
  }
  TargetStats stats;
  auto targets = to_targets(inv, section(), &stats);
  ASSERT_EQ(targets.size(), 100000u);
  EXPECT_NE(find(targets, "pc-0 (id-0)"), nullptr);
  EXPECT_NE(find(targets, "pc-0 (id-1)"), nullptr);
  EXPECT_NE(find(targets, "pc-2"), nullptr);
  for (std::size_t i = 1; i < targets.size(); ++i) ASSERT_LT(targets[i - 1].name, targets[i].name);
}

}  // namespace
}  // namespace kscprobe::ksc
