// The textfile and Pushgateway outputs, against a real prometheus-pushgateway on loopback.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <filesystem>
#include <regex>

#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/peers.hpp"

namespace support = kscprobe::test;

using namespace std::chrono_literals;

namespace {}  // namespace

TEST(OutputsE2E, TextfileIsWrittenAtomicallyAndPushgatewayReceivesTheMetrics) {
  std::string dir = support::temp_dir();
  unsigned pgw_port = 0;
  std::unique_ptr<support::ChildProcess> pgw;
  for (int attempt = 0; attempt < 3 && !pgw; ++attempt) {
    pgw_port = support::closed_tcp_port();
    auto p = std::make_unique<support::ChildProcess>(
        std::vector<std::string>{"/usr/bin/prometheus-pushgateway",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(pgw_port)},
        dir + "/pgw.out", dir + "/pgw.err");
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
      auto r = support::http_request(pgw_port, "GET", "/-/ready");
      up = r && r->status == 200;
      if (!up) {
        if (p->wait(50ms)) break;  // exited: port taken, try another
      }
    }
    if (up) pgw = std::move(p);
  }
  ASSERT_TRUE(pgw) << support::read_file(dir + "/pgw.err");

  std::string config = dir + "/k.toml";
  support::write_file(
      config,
      "[daemon]\ninterval = \"1s\"\ntimeout = \"500ms\"\n[[target]]\nname = \"lost\"\n"
      "role = \"agent\"\naddress = \"127.83.0.1\"\n");
  std::string textfile = dir + "/kscprobe.prom";
  support::ChildProcess daemon(
      {KSCPROBE_BIN, "--config.file=" + config, "--web.listen-address=127.0.0.1:0",
       "--write-textfile=" + textfile, "--write-textfile.interval=200ms",
       "--push.url=http://127.0.0.1:" + std::to_string(pgw_port), "--push.job=kscprobe-test",
       "--push.instance=host-a", "--push.interval=300ms"},
      dir + "/d.out", dir + "/d.err");
  // The textfile appears and is always a complete exposition: read it many times meanwhile.
  // "lost" refuses: an agent at its default detail (aggregate) is named by its failure.
  bool probed = false;
  int reads = 0;
  for (int i = 0; i < 200 && !probed; ++i) {
    std::string text = support::read_file(textfile);
    if (!text.empty()) {
      ++reads;
      ASSERT_EQ(text.back(), '\n');
      ASSERT_NE(text.find("kscprobe_build_info"), std::string::npos);
      ASSERT_NE(text.find("kscprobe_scheduler_skipped_total"), std::string::npos);  // the end
      probed = text.find("kscprobe_probe_failure_info{target=\"lost\"") != std::string::npos;
    }
    if (!probed) std::this_thread::sleep_for(25ms);
  }
  ASSERT_TRUE(probed) << daemon.err();
  EXPECT_GT(reads, 0);
  std::string out;
  EXPECT_EQ(support::run({"promtool", "check", "metrics"}, &out, 30s, support::read_file(textfile)),
            0)
      << out;

  // The Pushgateway holds the same series under the job and instance we named.
  bool pushed = false;
  for (int i = 0; i < 100 && !pushed; ++i) {
    auto r = support::http_request(pgw_port, "GET", "/metrics");
    pushed = r && support::sample(r->body, "kscprobe_probe_failure_info",
                                  {{"job", "kscprobe-test"},
                                   {"instance", "host-a"},
                                   {"target", "lost"},
                                   {"check", "signal_udp"}})
                      .has_value();
    if (!pushed) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(pushed) << daemon.err();

  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(3s), 0);
  // No temporary files left behind next to the textfile.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("kscprobe.prom", 0) == 0) ++files;
  EXPECT_EQ(files, 1);
  pgw->signal(SIGTERM);
  pgw->wait(3s);
}

TEST(OutputsE2E, BadOutputSettingsAreRefusedAtStart) {
  std::string dir = support::temp_dir();
  std::string config = dir + "/k.toml";
  support::write_file(config,
                      "[[target]]\nname = \"a\"\nrole = \"agent\"\naddress = \"127.0.0.1\"\n");
  std::string out;
  int rc =
      support::run({KSCPROBE_BIN, "--config.file=" + config, "--web.listen-address=127.0.0.1:0",
                    "--write-textfile=/nonexistent-dir/k.prom"},
                   &out, 10s);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
  rc = support::run({KSCPROBE_BIN, "--config.file=" + config, "--web.listen-address=127.0.0.1:0",
                     "--push.url=https://pgw:9091"},
                    &out, 10s);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("http://"), std::string::npos) << out;
}
