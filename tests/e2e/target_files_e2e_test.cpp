// Targets from Prometheus file_sd files: picked up, changed and broken while the daemon runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"

namespace support = kscprobe::test;

using namespace std::chrono_literals;

namespace {}  // namespace

TEST(TargetFilesE2E, FilesAreFollowedWithoutRestartAndBadEditsKeepTheLastGoodContent) {
  std::string dir = support::temp_dir();
  std::filesystem::create_directory(dir + "/targets");
  support::write_file(
      dir + "/k.toml",
      "target_files = [\"targets/*.json\"]\n"
      "[daemon]\ninterval = \"1s\"\ntimeout = \"500ms\"\ntarget_files_refresh = \"200ms\"\n"
      // Every series per agent: the test follows each target's own probe counter.
      "[metrics]\ndetail = { agent = \"full\" }\n"
      "[[target]]\nname = \"pc-static\"\nrole = \"agent\"\naddress = \"127.84.0.1\"\n");
  support::replace_file(
      dir + "/targets/site-a.json",
      R"([{"targets": ["127.84.1.1", "127.84.1.2"], "labels": {"role": "agent", "site": "a"}}])");
  support::ChildProcess d(
      {KSCPROBE_BIN, "--config.file=" + dir + "/k.toml", "--web.listen-address=127.0.0.1:0"},
      dir + "/d.out", dir + "/d.err");
  std::smatch m;
  std::regex re("listen_address=127\\.0\\.0\\.1:([0-9]+)");
  ASSERT_TRUE(d.wait_output(
      [&](const std::string&, const std::string& e) { return std::regex_search(e, m, re); }, 20s))
      << d.err();
  std::string err = d.err();
  std::regex_search(err, m, re);
  unsigned port = static_cast<unsigned>(std::stoul(m[1].str()));
  auto metrics = [&] {
    auto r = support::http_request(port, "GET", "/metrics");
    return r ? r->body : std::string();
  };
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 100; ++i) {
      std::string text = metrics();
      if (pred(text)) return text;
      std::this_thread::sleep_for(100ms);
    }
    return std::string();
  };
  auto probed = [](const std::string& text, const std::string& target) {
    return support::sample(text, "kscprobe_probe_success",
                           {{"target", target}, {"check", "signal_udp"}})
        .has_value();
  };

  std::string text = wait_for([&](const std::string& t) {
    return probed(t, "127.84.1.1") && probed(t, "127.84.1.2") && probed(t, "pc-static");
  });
  ASSERT_FALSE(text.empty()) << d.err();
  EXPECT_TRUE(
      support::sample(text, "kscprobe_probes_total", {{"target", "127.84.1.1"}, {"site", "a"}}));

  // Edit: one target leaves, one arrives; the one that stays keeps its counters.
  auto before = support::sample(text, "kscprobe_probes_total",
                                {{"target", "127.84.1.1"}, {"check", "signal_udp"}});
  support::replace_file(
      dir + "/targets/site-a.json",
      R"([{"targets": ["127.84.1.1", "127.84.1.3"], "labels": {"role": "agent", "site": "a"}}])");
  text = wait_for([&](const std::string& t) {
    return probed(t, "127.84.1.3") &&
           !support::sample(t, "kscprobe_probes_total", {{"target", "127.84.1.2"}});
  });
  ASSERT_FALSE(text.empty()) << d.err();
  auto after = support::sample(text, "kscprobe_probes_total",
                               {{"target", "127.84.1.1"}, {"check", "signal_udp"}});
  ASSERT_TRUE(before && after);
  EXPECT_GE(*after, *before);

  // A broken edit: reported with its position; the last good targets keep being probed.
  support::replace_file(dir + "/targets/site-a.json",
                        R"([{"targets": ["127.84.1.9"], "labels": {"role": "agnet"}}])");
  ASSERT_TRUE(d.wait_output(
      [&](const std::string&, const std::string& e) {
        return e.find("site-a.json:1:") != std::string::npos &&
               e.find("agnet") != std::string::npos;
      },
      10s))
      << d.err();
  text = metrics();
  EXPECT_TRUE(probed(text, "127.84.1.3"));
  EXPECT_FALSE(probed(text, "127.84.1.9"));
  // A second file adds a site; deleting it removes it.
  support::replace_file(
      dir + "/targets/site-b.json",
      R"([{"targets": ["127.84.2.1"], "labels": {"role": "agent", "site": "b"}}])");
  ASSERT_FALSE(wait_for([&](const std::string& t) { return probed(t, "127.84.2.1"); }).empty());
  std::filesystem::remove(dir + "/targets/site-b.json");
  ASSERT_FALSE(wait_for([&](const std::string& t) {
                 return !t.empty() &&
                        !support::sample(t, "kscprobe_probes_total", {{"target", "127.84.2.1"}});
               }).empty());
  EXPECT_TRUE(probed(metrics(), "pc-static"));  // the file's own targets never moved
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait(3s), 0);
}
