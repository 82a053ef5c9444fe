// [[ksc]] in the TOML file: what it takes, its defaults, and errors that name the file, line and
// key without ever showing a password.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "config/compose.hpp"
#include "config/loader.hpp"
#include "tests/support/files.hpp"

using namespace kscprobe;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "S3cr3t-never-shown";

struct KscSection : ::testing::Test {
  test::TempDir dir{"ksc-section"};
  std::string password_file = dir.write("ksc01.password", std::string(kSecret) + "\n");
  std::string ca_file = dir.write("ksc01-ca.pem", "-----BEGIN CERTIFICATE-----\n");

  // A valid section with `extra` lines added.
  std::string section(const std::string& extra = "") const {
    return "[[ksc]]\n"
           "name = \"ksc01\"\n"
           "url = \"https://ksc01.corp.example:13299\"\n"
           "user = \"kscprobe\"\n"
           "password_file = \"" +
           password_file +
           "\"\n"
           "ca_file = \"" +
           ca_file + "\"\n" + extra;
  }

  LoadResult load(const std::string& text) const { return load_config_string(text, "k.toml"); }

  // Exactly one error, which must contain `part` and never the password.
  void expect_one_error(const std::string& text, const std::string& part) const {
    auto r = load(text);
    ASSERT_EQ(r.errors.size(), 1u) << r.error_text();
    EXPECT_NE(r.errors[0].format().find(part), std::string::npos) << r.error_text();
    EXPECT_EQ(r.error_text().find(kSecret), std::string::npos) << r.error_text();
  }
};

TEST_F(KscSection, TakesEveryKeyOfTheExample) {
  auto r = load(
      section("domain = \"CORP\"\ninternal = false\nvserver = \"branch\"\nsession = \"token\"\n"
              "refresh = \"5m\"\nstale_after = \"3h\"\ntimeout = \"20s\"\npage_size = 200\n"
              "roles = [\"agent\"]\nlabels = { site = \"paris\" }\nfeatures = [\"icmp\"]\n"
              "server_name = \"ksc01\"\nhost_filter = \"(KLHST_WKS_GROUPID <> 0)\"\n"));
  ASSERT_TRUE(r.ok()) << r.error_text();
  ASSERT_EQ(r.config->ksc.size(), 1u);
  const KscSource& k = r.config->ksc[0];
  EXPECT_EQ(k.name, "ksc01");
  EXPECT_EQ(k.url, "https://ksc01.corp.example:13299");
  EXPECT_EQ(k.user, "kscprobe");
  EXPECT_EQ(k.password_file, password_file);
  EXPECT_EQ(k.ca_file, ca_file);
  EXPECT_EQ(k.domain, "CORP");
  EXPECT_FALSE(k.internal);
  EXPECT_EQ(k.vserver, "branch");
  EXPECT_EQ(k.session, KscSessionMode::token);
  EXPECT_EQ(k.refresh, Duration(5min));
  EXPECT_EQ(k.stale_after, Duration(3h));
  EXPECT_EQ(k.limits.request_timeout, Duration(20s));
  EXPECT_EQ(k.limits.page_size, 200u);
  EXPECT_EQ(k.roles, std::vector<Role>{Role::agent});
  EXPECT_EQ(k.labels, (std::vector<std::pair<std::string, std::string>>{{"site", "paris"}}));
  EXPECT_NE(k.features, 0u);
  EXPECT_EQ(k.server_name, "ksc01");
  EXPECT_EQ(k.host_filter, "(KLHST_WKS_GROUPID <> 0)");
  EXPECT_EQ(k.pos.line, 1);
}

TEST_F(KscSection, DefaultsFollowTheIssueOfTheSection) {
  auto r = load(section());
  ASSERT_TRUE(r.ok()) << r.error_text();
  const KscSource& k = r.config->ksc.at(0);
  EXPECT_TRUE(k.internal);
  EXPECT_EQ(k.session, KscSessionMode::connection);
  EXPECT_EQ(k.refresh, Duration(10min));
  EXPECT_EQ(k.stale_after, Duration(2h));
  EXPECT_EQ(k.roles, (std::vector<Role>{Role::agent, Role::distribution_point}));
  EXPECT_TRUE(k.labels.empty());
}

TEST_F(KscSection, APasswordWrittenInTheFileIsRefusedWithoutShowingIt) {
  auto r = load(
      "[[ksc]]\nname = \"ksc01\"\nurl = \"https://ksc01:13299\"\nuser = \"u\"\n"
      "password = \"" +
      std::string(kSecret) + "\"\ninsecure_skip_verify = true\n");
  ASSERT_EQ(r.errors.size(), 1u) << r.error_text();
  EXPECT_EQ(r.errors[0].pos.line, 5);
  EXPECT_NE(r.errors[0].message.find("password_file"), std::string::npos);
  EXPECT_EQ(r.error_text().find(kSecret), std::string::npos) << r.error_text();
}

TEST_F(KscSection, ThePasswordIsReadAtLoad) {
  expect_one_error(section("").replace(section("").find(password_file), password_file.size(),
                                       dir.file("missing.password")),
                   "k.toml:5:17: ksc \"ksc01\": password_file");
  std::string empty = dir.write("empty.password", "\n");
  std::string text = section();
  text.replace(text.find(password_file), password_file.size(), empty);
  expect_one_error(text, "is empty");
}

TEST_F(KscSection, ThePasswordMayComeFromTheEnvironment) {
  std::string text =
      "[[ksc]]\nname = \"ksc01\"\nurl = \"https://ksc01\"\nuser = \"u\"\n"
      "password_env = \"KSCPROBE_TEST_KSC_PASSWORD\"\ninsecure_skip_verify = true\n";
  ::unsetenv("KSCPROBE_TEST_KSC_PASSWORD");
  expect_one_error(text,
                   "k.toml:5:16: ksc \"ksc01\": environment variable "
                   "KSCPROBE_TEST_KSC_PASSWORD is not set");
  ::setenv("KSCPROBE_TEST_KSC_PASSWORD", kSecret, 1);
  auto r = load(text);
  ::unsetenv("KSCPROBE_TEST_KSC_PASSWORD");
  ASSERT_TRUE(r.ok()) << r.error_text();
  EXPECT_EQ(r.config->ksc.at(0).password_env, "KSCPROBE_TEST_KSC_PASSWORD");
  EXPECT_TRUE(r.config->ksc.at(0).insecure_skip_verify);
}

TEST_F(KscSection, TrustNeedsACaAPinOrAnExplicitSkip) {
  std::string text = section();
  text.erase(text.find("ca_file"));
  expect_one_error(text, "k.toml:1:1: ksc \"ksc01\": needs ca_file or fingerprint_sha256");
  auto pinned = load(text + "fingerprint_sha256 = \"" + std::string(64, 'A') + "\"\n");
  ASSERT_TRUE(pinned.ok()) << pinned.error_text();
  EXPECT_EQ(pinned.config->ksc.at(0).fingerprint_sha256, std::string(64, 'a'));
  expect_one_error(text + "fingerprint_sha256 = \"abc\"\n", "fingerprint_sha256 must be 64 hex");
  expect_one_error(section("insecure_skip_verify = true\n"), "contradicts ca_file");
}

TEST_F(KscSection, BadValuesNameTheirKeyAndLine) {
  expect_one_error(section("roles = [\"agnet\"]\n"), "k.toml:7:10: ksc \"ksc01\": role \"agnet\"");
  expect_one_error(section("roles = [\"server\"]\n"), "is not one KSC discovery finds");
  expect_one_error(section("session = \"cookie\"\n"), "k.toml:7:11: ksc \"ksc01\": session");
  expect_one_error(section("refresh = \"100ms\"\n"), "refresh must be at least 1s");
  expect_one_error(section("page_size = 5\n"), "page_size 5 is outside 10..10000");
  expect_one_error(section("labels = { ksc_group = \"x\" }\n"), "is set by discovery itself");
  expect_one_error(section("labels = { job = \"x\" }\n"), "reserved");
  expect_one_error(section("features = [\"icmpp\"]\n"), "unknown feature \"icmpp\"");
  expect_one_error(section("refrsh = \"5m\"\n"), "refrsh");
  std::string bad_url = section();
  bad_url.replace(bad_url.find("https://ksc01.corp.example:13299"), 32, "http://ksc01");
  expect_one_error(bad_url, "k.toml:3:7: ksc \"ksc01\": url \"http://ksc01\" must start with");
  expect_one_error(
      "[[ksc]]\nurl = \"https://ksc01\"\nuser = \"u\"\ninsecure_skip_verify = true\n"
      "password_env = \"HOME\"\n",
      "name is required");
}

TEST_F(KscSection, NamesAreUnique) {
  std::string two = section() + section();
  expect_one_error(two, "k.toml:8:8: ksc \"ksc01\": another [[ksc]] already has this name");
}

TEST_F(KscSection, TheConfigurationCheckCountsTheServersAndHidesThePassword) {
  std::string file = dir.write("k.toml", section() +
                                             "[[target]]\nname = \"pc-1\"\nrole = \"agent\"\n"
                                             "address = \"127.0.0.1\"\n");
  ConfigSources sources;
  sources.file = file;
  std::ostringstream out, err;
  EXPECT_EQ(check_config(sources, nullptr, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("valid, 1 targets"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("and the devices of 1 KSC server"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find(kSecret), std::string::npos);
}

TEST_F(KscSection, GroupsUnassignedDevicesAndTheDeviceLimit) {
  auto defaults = load(section());
  ASSERT_TRUE(defaults.ok()) << defaults.error_text();
  const KscSource& d = defaults.config->ksc[0];
  EXPECT_TRUE(d.groups.empty());
  EXPECT_FALSE(d.include_unassigned);
  EXPECT_EQ(d.host_filter, "");  // no group id is assumed
  EXPECT_EQ(d.limits.max_devices, 120000u);

  auto r =
      load(section("groups = [\"Paris\", \"Lyon/Branch 2\"]\ninclude_unassigned = true\n"
                   "max_devices = 5000\n"));
  ASSERT_TRUE(r.ok()) << r.error_text();
  const KscSource& k = r.config->ksc[0];
  EXPECT_EQ(k.groups, (std::vector<std::string>{"Paris", "Lyon/Branch 2"}));
  EXPECT_TRUE(k.include_unassigned);
  EXPECT_EQ(k.limits.max_devices, 5000u);

  expect_one_error(section("groups = \"Paris\"\n"), "k.toml:7:10: ksc \"ksc01\": groups must be");
  expect_one_error(section("groups = [\"Lyon//Branch\"]\n"), "has an empty name");
  expect_one_error(section("groups = [\"Paris\", \"Paris\"]\n"), "is listed twice");
  expect_one_error(section("include_unassigned = 1\n"), "include_unassigned must be a boolean");
  expect_one_error(section("max_devices = 0\n"), "max_devices");
  expect_one_error(section("labels = { ksc_connection_gateway = \"x\" }\n"),
                   "is set by discovery itself");
}

TEST_F(KscSection, AUrlWithAPasswordIsNotQuoted) {
  auto r = load(section("").replace(section("").find("https://ksc01.corp.example:13299"), 32,
                                    "https://kscprobe:hunter2-secret@ksc01:13299"));
  ASSERT_EQ(r.errors.size(), 1u) << r.error_text();
  EXPECT_EQ(r.error_text().find("hunter2"), std::string::npos) << r.error_text();
  EXPECT_NE(r.error_text().find("https://***@ksc01:13299"), std::string::npos) << r.error_text();
}

TEST_F(KscSection, TheConfigurationCheckSaysWhichLoginAndWarns) {
  std::string file = dir.write("k.toml", section("insecure_skip_verify = false\n"));
  ConfigSources sources;
  sources.file = file;
  std::ostringstream out, err;
  EXPECT_EQ(check_config(sources, nullptr, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("as a KSC internal user \"kscprobe\" (internal = true)"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("every managed device"), std::string::npos) << out.str();

  std::string domain = section("domain = \"CORP\"\ninternal = false\ngroups = [\"Paris\"]\n");
  domain.replace(domain.find("ca_file"),
                 domain.find('\n', domain.find("ca_file")) - domain.find("ca_file"),
                 "insecure_skip_verify = true");
  file = dir.write("k2.toml", domain);
  sources.file = file;
  std::ostringstream out2, err2;
  EXPECT_EQ(check_config(sources, nullptr, out2, err2), 0) << err2.str();
  EXPECT_NE(out2.str().find("as a domain user \"CORP\\kscprobe\" (internal = false)"),
            std::string::npos)
      << out2.str();
  EXPECT_NE(out2.str().find("the groups \"Paris\""), std::string::npos) << out2.str();
  EXPECT_NE(err2.str().find("warning: insecure_skip_verify = true"), std::string::npos)
      << err2.str();
}

}  // namespace
