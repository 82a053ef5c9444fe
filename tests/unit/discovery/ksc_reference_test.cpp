// What kscprobe asks of a KSC server and takes from it, against the public reference: the search
// filter it sends, the addresses it accepts, the server text it prints, the secrets it reads.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "config/ksc.hpp"
#include "daemon/discovery/ksc_inventory.hpp"
#include "daemon/discovery/ksc_json.hpp"

namespace kscprobe::ksc {
namespace {

TEST(KscSearchFilter, LeavesOutUnassignedDevicesByTheirAttributeNotByAGroupId) {
  KscSource s;
  // KLHST_WKS_FROM_UNASSIGNED: true in "Unassigned devices" or below, whatever the group ids
  // of this server are; a bool compares as an integer in KSC's filter grammar.
  EXPECT_EQ(host_search_filter(s, {}), "(KLHST_WKS_FROM_UNASSIGNED = 0)");
  EXPECT_EQ(host_search_filter(s, {}).find("GROUPID"), std::string::npos);
  s.include_unassigned = true;
  EXPECT_EQ(host_search_filter(s, {}), "");
}

TEST(KscSearchFilter, GroupsWithTheirSubgroupsAndTheUsersFilter) {
  KscSource s;
  EXPECT_EQ(host_search_filter(s, {7}),
            "(&(KLHST_WKS_FROM_UNASSIGNED = 0)(KLHST_WKS_GROUPID_GP = 7))");
  EXPECT_EQ(host_search_filter(s, {7, 12}),
            "(&(KLHST_WKS_FROM_UNASSIGNED = 0)(|(KLHST_WKS_GROUPID_GP = 7)"
            "(KLHST_WKS_GROUPID_GP = 12)))");
  s.host_filter = "KLHST_WKS_STATUS & 0x00000004 <> 0";
  EXPECT_EQ(host_search_filter(s, {}),
            "(&(KLHST_WKS_FROM_UNASSIGNED = 0)(KLHST_WKS_STATUS & 0x00000004 <> 0))");
  s.include_unassigned = true;
  s.host_filter = "(KLHST_WKS_DN = \"pc-*\")";
  EXPECT_EQ(host_search_filter(s, {}), "(KLHST_WKS_DN = \"pc-*\")");
}

TEST(KscGroups, PathsBelowManagedDevices) {
  Inventory inv;
  inv.root_group = 0;
  inv.groups = {{0, {"Managed devices", -1}},    {4, {"Lyon", 0}},      {9, {"Branch 2", 4}},
                {1, {"Unassigned devices", -1}}, {5, {"WORKGROUP", 1}}, {6, {"Cycle", 6}}};
  EXPECT_EQ(inv.group_path(4), "Lyon");
  EXPECT_EQ(inv.group_path(9), "Lyon/Branch 2");
  EXPECT_EQ(inv.group_path(0), "");
  EXPECT_EQ(inv.group_path(5), "");  // not below "Managed devices"
  EXPECT_EQ(inv.group_path(6), "");  // a loop ends
  EXPECT_EQ(inv.group_path(42), "");
}

Host host_at(std::string id, std::uint32_t ip, std::string fqdn = {}, std::string dns = {}) {
  Host h;
  h.id = std::move(id);
  h.display_name = h.id;
  h.ipv4 = ip;
  h.fqdn = std::move(fqdn);
  h.dns_name = std::move(dns);
  return h;
}

TEST(KscTargets, OnlyAddressesThatCanBeADevicesAreProbed) {
  Inventory inv;
  inv.hosts.push_back(host_at("broadcast", 0xFFFFFFFFu));
  inv.hosts.push_back(host_at("multicast", 0xE0000001u));
  inv.hosts.push_back(host_at("this-network", 0x00000005u));
  inv.hosts.push_back(host_at("option", 0, "-rf"));
  inv.hosts.push_back(host_at("spaces", 0, "a b.corp.example", "$(reboot)"));
  inv.hosts.push_back(host_at("fallback", 0xFFFFFFFFu, "pc-1.corp.example"));
  inv.hosts.push_back(host_at("dns", 0, "", "pc-2"));
  inv.hosts.push_back(host_at("nothing", 0));
  inv.hosts.push_back(host_at("fine", 0x0A000001u));
  KscSource s;
  s.name = "ksc01";
  TargetStats stats;
  auto targets = to_targets(inv, s, &stats);
  std::map<std::string, std::string> address;
  for (const auto& t : targets) address[t.name] = t.address;
  EXPECT_EQ(address,
            (std::map<std::string, std::string>{
                {"dns", "pc-2"}, {"fallback", "pc-1.corp.example"}, {"fine", "10.0.0.1"}}));
  EXPECT_EQ(stats.skipped["bad_address"], 5u);
  EXPECT_EQ(stats.skipped["no_address"], 1u);
}

TEST(KscTargets, AConnectionGatewayIsMarked) {
  Inventory inv;
  Host gw = host_at("gw", 0x0A000001u);
  gw.distribution_point = true;
  gw.connection_gateway = true;
  Host dp = host_at("dp", 0x0A000002u);
  dp.distribution_point = true;
  inv.hosts = {gw, dp};
  KscSource s;
  s.name = "ksc01";
  s.labels = {{"ksc_connection_gateway", "forged"}};
  auto targets = to_targets(inv, s);
  ASSERT_EQ(targets.size(), 2u);
  auto label = [](const DiscoveredTarget& t) {
    for (const auto& [k, v] : t.labels)
      if (k == "ksc_connection_gateway") return v;
    return std::string("<none>");
  };
  EXPECT_EQ(targets[1].name, "gw");
  EXPECT_EQ(targets[1].role, Role::distribution_point);
  EXPECT_EQ(label(targets[1]), "true");
  EXPECT_EQ(label(targets[0]), "<none>");
  // Only the distribution point role makes a gateway: as an agent target it is not marked.
  s.roles = {Role::agent};
  for (const auto& t : to_targets(inv, s)) EXPECT_EQ(label(t), "<none>") << t.name;
}

std::string repeat_text(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(KscServerText, IsPrintableBoundedAndKeepsWholeCharacters) {
  EXPECT_EQ(printable("Access denied"), "Access denied");
  EXPECT_EQ(printable("line\nnext\x1b[31m"), "line\\x0anext\\x1b[31m");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
  EXPECT_EQ(printable("\xd0\x9f\xd1\x80\xd0\xb8"), "\xd0\x9f\xd1\x80\xd0\xb8");  // Cyrillic
  EXPECT_EQ(printable("\xd0"), "\\xd0");                                         // cut in two
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");                                // overlong
  // Never longer than asked, the "..." included, and never a character or an escape cut.
  EXPECT_EQ(printable(std::string(600, 'x'), 512), std::string(509, 'x') + "...");
  EXPECT_EQ(printable(std::string(512, 'x'), 512), std::string(512, 'x'));
  EXPECT_EQ(printable(std::string(300, '\n'), 512).size(), 511u);  // 127 escapes + "..."
  const std::string cyrillic = repeat_text("\xd0\x96", 300);
  const std::string cut = printable(cyrillic, 101);
  EXPECT_LE(cut.size(), 101u);
  EXPECT_EQ(cut, repeat_text("\xd0\x96", 49) + "...");
}

TEST(KscPxgError, CarriesCodeSubcodeModuleAndAPrintableMessage) {
  boost::json::value v;
  std::string error;
  // KlAkOAPI's Error.py / go-ksc's Helper.go: code, subcode, module, file, line, message, locdata.
  ASSERT_TRUE(parse_answer(R"({"PxgError": {"code": 1281, "subcode": 3, "module": "KLSTD",
      "file": "srv.cpp", "line": 42, "message": "Access denied\n\u001b[2J",
      "locdata": {"type": "params", "value": {"format": "%1", "args": ["x"]}}}})",
                           &v, &error))
      << error;
  auto pxg = pxg_error(v);
  ASSERT_TRUE(pxg);
  EXPECT_EQ(pxg->code, 1281);
  EXPECT_EQ(pxg->subcode, 3);
  EXPECT_EQ(pxg->module, "KLSTD");
  EXPECT_EQ(pxg->file, "srv.cpp");
  EXPECT_EQ(pxg->line, 42);
  EXPECT_EQ(pxg->message, "Access denied\\x0a\\x1b[2J");
}

TEST(KscSource, AUrlWithAPasswordIsNeverQuotedWhole) {
  EXPECT_EQ(redact_url("https://user:secret@ksc01:13299"), "https://***@ksc01:13299");
  EXPECT_EQ(redact_url("https://ksc01:13299"), "https://ksc01:13299");
  EXPECT_EQ(redact_url("https://ksc01/a@b"), "https://ksc01/a@b");
}

std::string temp_path(const char* what) {
  return ::testing::TempDir() + "kscprobe_ksc_reference_" + what + "_" + std::to_string(::getpid());
}

TEST(KscSource, APasswordFifoIsRefusedAtOnce) {
  const std::string path = temp_path("fifo");
  ::unlink(path.c_str());
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  KscSource s;
  s.password_file = path;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(read_ksc_password(s, &error));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
  ::unlink(path.c_str());
}

TEST(KscSource, WarnsOfAPasswordOthersCanReadAndOfUncheckedCertificates) {
  const std::string path = temp_path("perm");
  {
    std::ofstream out(path);
    out << "secret\n";
  }
  KscSource s;
  s.password_file = path;
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(ksc_security_warnings(s).empty());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto warnings = ksc_security_warnings(s);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("readable by every user"), std::string::npos);
  s.insecure_skip_verify = true;
  warnings = ksc_security_warnings(s);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[1].find("insecure_skip_verify"), std::string::npos);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace kscprobe::ksc
