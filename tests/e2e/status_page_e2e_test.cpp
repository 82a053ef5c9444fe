// The status page on `/` as a person sees it: rendered by headless Chromium.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

#include "daemon/runtime/result_table.hpp"
#include "daemon/web/status_page.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"

namespace support = kscprobe::test;

using namespace std::chrono_literals;

namespace {

/// Renders `html` in headless Chromium in a 1 280-pixel window with a script appended that
/// measures the layout: `m` (into `dom`) gets the document's scroll width, the window's client
/// width, the rows of the checks table and their distinct heights.
bool layout_at_1280(const std::string& dir, std::string html, std::string* dom, std::smatch* m) {
  auto body_end = html.rfind("</body>");
  EXPECT_NE(body_end, std::string::npos);
  if (body_end == std::string::npos) return false;
  html.insert(body_end,
              "<script>(function(){var d=document.documentElement,h={},n=0;"
              "document.querySelectorAll('#checks tbody tr').forEach(function(r){"
              "h[Math.round(r.getBoundingClientRect().height)]=1;n++;});"
              "var p=document.createElement('pre');p.id='layout';p.textContent="
              "'scroll='+d.scrollWidth+' client='+d.clientWidth+' rows='+n+' heights='+"
              "Object.keys(h).join(',')+' end';document.body.appendChild(p);})();</script>");
  support::write_file(dir + "/page.html", html);
  int rc = support::run(
      {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--user-data-dir=" + dir + "/chromium-layout", "--window-size=1280,1000",
       "--hide-scrollbars", "--dump-dom", "file://" + dir + "/page.html"},
      dom, std::chrono::seconds(60));
  static const std::regex re("scroll=([0-9]+) client=([0-9]+) rows=([0-9]+) heights=([0-9,]+) end");
  bool found = rc == 0 && std::regex_search(*dom, *m, re);
  EXPECT_TRUE(found) << dom->substr(0, 2000);
  if (found) {
    std::printf("status page layout at 1280 px: %s\n", (*m)[0].str().c_str());
    EXPECT_EQ((*m)[2].str(), "1280");
  }
  return found;
}

}  // namespace

TEST(StatusPageE2E, ChromiumShowsBrokenChecksFirst) {
  std::string dir = support::temp_dir();
  support::ChildProcess demo(
      {KSCPROBE_DEMO_BIN, "--demo", "--demo.ephemeral-ports", "--web.listen-address=127.0.0.1:0"},
      dir + "/out", dir + "/err");
  std::smatch m;
  std::regex re("metrics: http://127\\.0\\.0\\.1:([0-9]+)/metrics");
  ASSERT_TRUE(demo.wait_output(
      [&](const std::string& o, const std::string&) { return std::regex_search(o, m, re); }, 30s))
      << demo.err();
  std::string o = demo.out();
  std::regex_search(o, m, re);
  unsigned port = static_cast<unsigned>(std::stoul(m[1].str()));
  // Wait until the demo's KSC has been read (its twelve devices join the checks) and every
  // check has been probed once (the demo's timeout is 2 s, interval 5 s).
  bool complete = false;
  for (int i = 0; i < 120 && !complete; ++i) {
    auto metrics = support::http_request(port, "GET", "/metrics");
    auto r = support::http_request(port, "GET", "/");
    complete = metrics &&
               metrics->body.find("kscprobe_discovery_success{ksc_server=\"ksc-demo\"} 1") !=
                   std::string::npos &&
               r && r->status == 200 && r->body.find("PENDING</span>") == std::string::npos;
    if (!complete) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(complete);

  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::string dom;
  int rc = support::run(
      {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
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
  // 7 broken checks of the simulated hosts, and the 2 agent checks of each of the 12 discovered
  // devices, on which no agent listens (refused).
  EXPECT_NE(dom.find("31 down"), std::string::npos);
  EXPECT_NE(dom.find("OPEN|FILTERED"), std::string::npos);
  EXPECT_NE(dom.find("refused"), std::string::npos);
  // The Web Console certificate of the demo expires in 10 days: flagged.
  EXPECT_NE(dom.find("1 certificate expires within 30 days"), std::string::npos);
  // The demo's KSC: its discovery and the section on agents that stopped connecting, above the
  // checks (the layout check below covers their width too).
  EXPECT_NE(dom.find("<h2>KSC servers</h2>"), std::string::npos);
  EXPECT_NE(dom.find("<td>ksc-demo</td>"), std::string::npos) << dom.substr(0, 4000);
  EXPECT_LT(dom.find("<h2>Agents that stopped connecting</h2>"), dom.find("<h2>Checks</h2>"));
  auto ksc_json = support::http_request(port, "GET", "/?format=json");
  ASSERT_TRUE(ksc_json && ksc_json->status == 200);
  EXPECT_NE(ksc_json->body.find("\"ksc\":[\n{\"name\":\"ksc-demo\",\"ran\":true,\"success\":true"),
            std::string::npos)
      << ksc_json->body.substr(0, 2000);

  // At 1 280 pixels the page fits the window (no sideways scrolling) and every row of the
  // checks table has one height: the page as served, plus a script that measures the layout
  // Chromium made of it and writes the figures into the DOM it dumps.
  auto served = support::http_request(port, "GET", "/");
  ASSERT_TRUE(served && served->status == 200);
  std::smatch lm;
  std::string layout_dom;
  ASSERT_TRUE(layout_at_1280(dir, served->body, &layout_dom, &lm));
  EXPECT_LE(std::stoi(lm[1].str()), std::stoi(lm[2].str())) << "scrolls sideways: " << lm[0];
  EXPECT_GT(std::stoi(lm[3].str()), 10);
  EXPECT_EQ(lm[4].str().find(','), std::string::npos) << "rows of different heights: " << lm[0];

  // A screenshot at that width, kept next to the test's temporary files for a person to see.
  std::string shot;
  rc = support::run(
      {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--user-data-dir=" + dir + "/chromium2", "--window-size=1280,1000",
       "--screenshot=" + dir + "/status.png", url},
      &shot, 60s);
  EXPECT_EQ(rc, 0) << shot;
  EXPECT_GT(support::read_file(dir + "/status.png").size(), 10000u);
  std::printf("status page screenshot: %s/status.png\n", dir.c_str());

  // For scripts: JSON that parses, the text format's rows, filters, a 400 that says why.
  auto json = support::http_request(port, "GET", "/?format=json&state=down&limit=3");
  ASSERT_TRUE(json && json->status == 200);
  EXPECT_NE(json->headers.find("application/json"), std::string::npos) << json->headers;
  support::write_file(dir + "/page.json", json->body);
  std::string jq;
  rc = support::run({"jq", "-r",
                     "[.summary.total.down, .matched, (.checks|length), (.checks[0].state), "
                     "(.next != null)] | map(tostring) | join(\" \")",
                     dir + "/page.json"},
                    &jq, 30s);
  ASSERT_EQ(rc, 0) << jq << json->body.substr(0, 2000);
  EXPECT_EQ(jq, "31 31 3 down true\n");
  auto text = support::http_request(port, "GET", "/?format=text&role=agent&state=down");
  ASSERT_TRUE(text && text->status == 200);
  EXPECT_NE(text->body.find("down\tpc-005\tagent\t"), std::string::npos) << text->body;
  EXPECT_EQ(text->body.find("\nup\t"), std::string::npos) << text->body;
  auto bad = support::http_request(port, "GET", "/?role=laptop");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("unknown role 'laptop'"), std::string::npos) << bad->body;

  demo.signal(SIGTERM);
  EXPECT_EQ(demo.wait(3s), 0);
}

// Whatever the names, addresses and replies, a full page of rows stays one line each and within
// 1 280 pixels: long text is cut on screen and whole in the cell's title.
TEST(StatusPageE2E, LongTextFoldsInsteadOfWideningThePage) {
  using namespace kscprobe;
  const double now = 1'800'000'000;
  auto plan = std::make_shared<Plan>();
  plan->metrics.aggregate_labels = {"site", "building"};
  const std::string long_word(90, 'x');
  for (int i = 0; i < 300; ++i) {
    PlannedTarget t;
    t.name = "agent-" + std::to_string(i) + "-" + long_word + ".branch.example.internal";
    t.role = i % 2 ? Role::agent : Role::distribution_point;
    t.address = "fd00:1234:5678:9abc:def0:1234:5678:" + std::to_string(1000 + i);
    t.labels = {{"building", "building-with-a-very-long-name-" + long_word},
                {"site", "site-" + std::to_string(i % 60) + "-" + long_word}};
    plan->targets.push_back(t);
    CheckSpec c;
    c.target_index = static_cast<std::uint32_t>(i);
    c.check = "extra_check_with_a_long_name_" + long_word;
    c.address = t.address;
    c.port = 65000;
    c.transport = i % 3 ? Transport::https : Transport::udp;
    plan->checks.push_back(c);
  }
  ResultTable table(plan);
  const Reason reasons[] = {Reason::refused,     Reason::timeout, Reason::unreachable,
                            Reason::resolve,     Reason::reset,   Reason::tls,
                            Reason::http_status, Reason::protocol};
  for (std::uint32_t i = 0; i < table.size(); ++i) {
    if (i % 4 == 3) {
      ProbeResult r;
      r.success = true;
      r.duration = 1.5;
      TlsInfo tls;
      tls.not_after = static_cast<std::int64_t>(now + (i % 40) * 86400);
      r.tls = tls;
      r.detail = "ok " + long_word + " " + long_word;
      table.record(i, r, now);
    } else if (i % 4 != 2) {
      const std::string detail = "the peer said something long: " + long_word + " " + long_word +
                                 " <tag> & \"quotes\" " + long_word;
      for (unsigned k = 0; k < 1 + i % 1000; k += 100)
        table.record(i, ProbeResult::failure(reasons[i % 8], detail), now - 3 * 86400);
    }
  }
  std::string html = render_status_page(table, {"1.2.3", "k.toml", true, now});
  std::string dir = support::temp_dir();
  std::smatch lm;
  std::string dom;
  ASSERT_TRUE(layout_at_1280(dir, html, &dom, &lm));
  EXPECT_LE(std::stoi(lm[1].str()), std::stoi(lm[2].str())) << "scrolls sideways: " << lm[0];
  EXPECT_EQ(lm[3].str(), "200");
  EXPECT_EQ(lm[4].str().find(','), std::string::npos) << "rows of different heights: " << lm[0];
  // For a person to look at.
  std::string shot;
  support::run({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + dir + "/chromium-shot", "--window-size=1280,1000",
                "--screenshot=" + dir + "/long.png", "file://" + dir + "/page.html"},
               &shot, std::chrono::seconds(60));
  std::printf("long-text screenshot: %s/long.png\n", dir.c_str());
}
