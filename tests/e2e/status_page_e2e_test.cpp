// The status page on `/` as a person sees it: rendered by headless Chromium.
#include <gtest/gtest.h>

#include <regex>

#include "tests/e2e/process.hpp"

using namespace std::chrono_literals;

TEST(StatusPageE2E, ChromiumShowsBrokenChecksFirst) {
  std::string dir = e2e::temp_dir();
  e2e::Process demo(
      {KSCPROBE_BIN, "--demo", "--demo.ephemeral-ports", "--web.listen-address=127.0.0.1:0"},
      dir + "/out", dir + "/err");
  std::smatch m;
  std::regex re("metrics: http://127\\.0\\.0\\.1:([0-9]+)/metrics");
  ASSERT_TRUE(demo.wait_output(
      [&](const std::string& o, const std::string&) { return std::regex_search(o, m, re); }, 30s))
      << demo.err();
  std::string o = demo.out();
  std::regex_search(o, m, re);
  unsigned port = static_cast<unsigned>(std::stoul(m[1].str()));
  // Wait until every check has been probed once (the demo's timeout is 2 s, interval 5 s).
  bool complete = false;
  for (int i = 0; i < 120 && !complete; ++i) {
    auto r = e2e::http_request(port, "GET", "/");
    complete = r && r->status == 200 && r->body.find("PENDING</span>") == std::string::npos;
    if (!complete) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(complete);

  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::string dom;
  int rc =
      e2e::run({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + dir + "/chromium", "--dump-dom", url},
               &dom, 60s);
  ASSERT_EQ(rc, 0) << dom.substr(0, 2000);
  // The DOM as Chromium parsed it: a table whose first rows are the broken checks.
  auto first_row = dom.find("<tr class=\"row-");
  ASSERT_NE(first_row, std::string::npos) << dom.substr(0, 2000);
  const std::string down_row = "<tr class=\"row-down\"";
  EXPECT_EQ(dom.compare(first_row, down_row.size(), down_row), 0) << dom.substr(first_row, 300);
  auto last_down = dom.rfind("<tr class=\"row-down");
  auto first_up = dom.find("<tr class=\"row-up");
  ASSERT_NE(first_up, std::string::npos);
  EXPECT_LT(last_down, first_up);
  for (const char* broken : {"pc-005", "ksc-dmz", "dp-lyon"})
    EXPECT_LT(dom.find(std::string("<td>") + broken + "</td>"), first_up) << broken;
  EXPECT_NE(dom.find("7 down"), std::string::npos);
  EXPECT_NE(dom.find("OPEN|FILTERED"), std::string::npos);
  EXPECT_NE(dom.find("refused"), std::string::npos);
  // The Web Console certificate of the demo expires in 10 days: flagged.
  EXPECT_NE(dom.find("1 certificate expires within 30 days"), std::string::npos);

  // A screenshot, kept next to the test's temporary files for a person to look at.
  std::string shot;
  rc = e2e::run({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--user-data-dir=" + dir + "/chromium2",
                 "--window-size=1600,1200", "--screenshot=" + dir + "/status.png", url},
                &shot, 60s);
  EXPECT_EQ(rc, 0) << shot;
  EXPECT_GT(e2e::read_file(dir + "/status.png").size(), 10000u);
  demo.signal(SIGTERM);
  EXPECT_EQ(demo.wait(3s), 0);
}
