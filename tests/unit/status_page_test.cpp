#include "daemon/status_page.hpp"

#include <gtest/gtest.h>

#include "daemon/result_table.hpp"

using namespace kscprobe;

namespace {

std::shared_ptr<Plan> plan_with(std::vector<std::string> names) {
  auto p = std::make_shared<Plan>();
  for (std::size_t i = 0; i < names.size(); ++i) {
    p->targets.push_back({names[i], Role::server, "127.0.0.1", {}});
    CheckSpec c;
    c.target_index = static_cast<std::uint32_t>(i);
    c.check = "agents_tls";
    c.address = "127.0.0.1";
    c.port = 13000;
    c.transport = Transport::tls;
    p->checks.push_back(c);
  }
  return p;
}

ProbeResult ok(std::int64_t not_after) {
  ProbeResult r;
  r.success = true;
  r.duration = 0.002;
  TlsInfo t;
  t.not_after = not_after;
  r.tls = t;
  return r;
}

}  // namespace

TEST(StatusPage, WorstFirstThenPendingThenExpiringThenHealthy) {
  const double now = 1'800'000'000;
  ResultTable t(plan_with({"healthy", "down-long", "pending", "expiring", "down-new", "<b>x</b>"}));
  t.record(0, ok(static_cast<std::int64_t>(now + 300 * 86400)), now - 10);
  for (int i = 0; i < 5; ++i) t.record(1, ProbeResult::failure(Reason::refused, "refused"), now);
  t.record(3, ok(static_cast<std::int64_t>(now + 5 * 86400)), now - 10);
  t.record(4, ProbeResult::failure(Reason::timeout, "no reply within 5s"), now);
  t.record(5, ok(static_cast<std::int64_t>(now + 200 * 86400)), now - 10);
  std::string html = render_status_page(t, {"1.2.3", "k.toml", true, now});
  auto at = [&](const std::string& s) { return html.find("<td>" + s + "</td>"); };
  ASSERT_NE(at("down-long"), std::string::npos);
  EXPECT_LT(at("down-long"), at("down-new"));  // longest failing first
  EXPECT_LT(at("down-new"), at("pending"));
  EXPECT_LT(at("pending"), at("expiring"));
  EXPECT_LT(at("expiring"), at("healthy"));
  EXPECT_NE(html.find("refused (0s ago), 5 in a row"), std::string::npos);
  EXPECT_NE(html.find("(5 days)"), std::string::npos);
  EXPECT_NE(html.find("2 down"), std::string::npos);
  EXPECT_NE(html.find("1 pending"), std::string::npos);
  EXPECT_NE(html.find("1 certificate expires within 30 days"), std::string::npos);
  // Names are escaped: nothing a config or a peer says becomes markup.
  EXPECT_EQ(html.find("<b>x</b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;x&lt;/b&gt;"), std::string::npos);
}

TEST(StatusPage, ShowsAFailedReload) {
  ResultTable t(plan_with({"a"}));
  std::string html = render_status_page(t, {"1", "k.toml", false, 0});
  EXPECT_NE(html.find("last reload FAILED"), std::string::npos);
}
