// The status page on `/` as a person sees it: rendered by headless Chromium.
#include <gtest/gtest.h>

#include <cstdio>
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

  // At 1 280 pixels the page fits the window (no sideways scrolling) and every row of the
  // checks table has one height: the page as served, plus a script that measures the layout
  // Chromium made of it and writes the figures into the DOM it dumps.
  auto served = e2e::http_request(port, "GET", "/");
  ASSERT_TRUE(served && served->status == 200);
  std::string measured = served->body;
  auto body_end = measured.rfind("</body>");
  ASSERT_NE(body_end, std::string::npos);
  measured.insert(body_end,
                  "<script>(function(){var d=document.documentElement,h={},n=0;"
                  "document.querySelectorAll('#checks tbody tr').forEach(function(r){"
                  "h[Math.round(r.getBoundingClientRect().height)]=1;n++;});"
                  "var p=document.createElement('pre');p.id='layout';p.textContent="
                  "'scroll='+d.scrollWidth+' client='+d.clientWidth+' rows='+n+' heights='+"
                  "Object.keys(h).join(',')+' end';document.body.appendChild(p);})();</script>");
  e2e::write_file(dir + "/page.html", measured);
  std::string layout_dom;
  rc = e2e::run(
      {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--user-data-dir=" + dir + "/chromium3", "--window-size=1280,1000",
       "--hide-scrollbars", "--dump-dom", "file://" + dir + "/page.html"},
      &layout_dom, 60s);
  ASSERT_EQ(rc, 0) << layout_dom.substr(0, 2000);
  std::smatch lm;
  std::regex layout_re("scroll=([0-9]+) client=([0-9]+) rows=([0-9]+) heights=([0-9,]+) end");
  ASSERT_TRUE(std::regex_search(layout_dom, lm, layout_re)) << layout_dom.substr(0, 2000);
  std::printf("status page layout at 1280 px: %s\n", lm[0].str().c_str());
  EXPECT_EQ(lm[2].str(), "1280");
  EXPECT_LE(std::stoi(lm[1].str()), std::stoi(lm[2].str())) << "scrolls sideways: " << lm[0];
  EXPECT_GT(std::stoi(lm[3].str()), 10);
  EXPECT_EQ(lm[4].str().find(','), std::string::npos) << "rows of different heights: " << lm[0];

  // A screenshot at that width, kept next to the test's temporary files for a person to see.
  std::string shot;
  rc = e2e::run({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--user-data-dir=" + dir + "/chromium2",
                 "--window-size=1280,1000", "--screenshot=" + dir + "/status.png", url},
                &shot, 60s);
  EXPECT_EQ(rc, 0) << shot;
  EXPECT_GT(e2e::read_file(dir + "/status.png").size(), 10000u);
  std::printf("status page screenshot: %s/status.png\n", dir.c_str());

  // For scripts: JSON that parses, the text format's rows, filters, a 400 that says why.
  auto json = e2e::http_request(port, "GET", "/?format=json&state=down&limit=3");
  ASSERT_TRUE(json && json->status == 200);
  EXPECT_NE(json->headers.find("application/json"), std::string::npos) << json->headers;
  e2e::write_file(dir + "/page.json", json->body);
  std::string jq;
  rc = e2e::run({"jq", "-r",
                 "[.summary.total.down, .matched, (.checks|length), (.checks[0].state), "
                 "(.next != null)] | map(tostring) | join(\" \")",
                 dir + "/page.json"},
                &jq, 30s);
  ASSERT_EQ(rc, 0) << jq << json->body.substr(0, 2000);
  EXPECT_EQ(jq, "7 7 3 down true\n");
  auto text = e2e::http_request(port, "GET", "/?format=text&role=agent&state=down");
  ASSERT_TRUE(text && text->status == 200);
  EXPECT_NE(text->body.find("down\tpc-005\tagent\t"), std::string::npos) << text->body;
  EXPECT_EQ(text->body.find("\nup\t"), std::string::npos) << text->body;
  auto bad = e2e::http_request(port, "GET", "/?role=laptop");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("unknown role 'laptop'"), std::string::npos) << bad->body;

  demo.signal(SIGTERM);
  EXPECT_EQ(demo.wait(3s), 0);
}
