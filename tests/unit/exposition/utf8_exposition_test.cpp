// No text from elsewhere can make /metrics (or the status page) invalid UTF-8. Prometheus's
// parser rejects the whole scrape for one bad byte, so a single device whose long Cyrillic name
// was cut in the middle of a letter, or a certificate subject with stray bytes, would hide every
// other series. Every source of a label value is fed here: the configuration's targets, labels
// of a target file, KSC's display names, group names and host ids (through the decoding that
// cuts them at 256 bytes), the server's statistic names, failure details and certificate
// subjects; the whole rendered text must be valid UTF-8 and parse line by line.
#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <vector>

#include "config/compose.hpp"
#include "config/target_file.hpp"
#include "config/utf8.hpp"
#include "daemon/discovery/ksc_inventory.hpp"
#include "daemon/exposition/discovery_metrics.hpp"
#include "daemon/exposition/metrics_renderer.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/web/status_page.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"

namespace kscprobe {
namespace {

namespace json = boost::json;

constexpr double kNow = 1'800'000'000;

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// One ASCII letter, then 129 Cyrillic ones (two bytes each): 259 bytes, so a cut at 256 falls
// in the middle of the 128th letter.
const std::string kLongCyrillic = "X" + repeat("\xD0\x96", 129);
// Bytes that are no UTF-8: a lone byte, an overlong form, a surrogate, a cut character.
const std::string kInvalid = "bad\xFF\xFE|\xC0\xAF|\xED\xA0\x80|end\xD0";

struct Rendered {
  std::shared_ptr<const Plan> plan;
  std::unique_ptr<ResultTable> table;
  std::vector<ksc::AgentSection> agents;
  std::vector<ksc::DiscoveryStatus> statuses;
  std::vector<DiscoveredTarget> found;
  std::string metrics;
};

json::value host(std::string id, std::string name, std::int64_t ip, std::int64_t group) {
  json::object o;
  o["KLHST_WKS_HOSTNAME"] = id;
  o["KLHST_WKS_DN"] = name;
  json::object wrapped_ip;
  wrapped_ip["type"] = "long";
  wrapped_ip["value"] = ip;
  o["KLHST_WKS_IP_LONG"] = wrapped_ip;
  o["KLHST_WKS_GROUPID"] = group;
  json::object connected;
  connected["type"] = "datetime";
  connected["value"] = "2027-01-14T00:00:00Z";  // long before kNow: a stale agent
  o["KLHST_WKS_LAST_NAGENT_CONNECTED"] = connected;
  o["KLHST_WKS_STATUS"] = 0x5;
  json::object record;
  record["type"] = "params";
  record["value"] = o;
  return record;
}

// Targets from the configuration, a target file and a KSC server, probed once each (a failure
// whose detail and certificate carry the bad text), then /metrics as the daemon writes it.
Rendered render_everything(const test::TempDir& dir) {
  Rendered r;
  // KSC: the devices and groups as the server sends them, through the same decoding.
  ksc::Inventory inv;
  for (const json::value& item : {host(kLongCyrillic, kLongCyrillic, 0x0A000001, 7),
                                  host("id-\xFF\xFE" + kLongCyrillic, kInvalid, 0x0A000002, 8)}) {
    ksc::Host h;
    EXPECT_EQ(ksc::decode_host(item, &h), ksc::HostDecode::ok);
    inv.hosts.push_back(std::move(h));
  }
  for (auto [id, name] :
       {std::pair<std::int64_t, std::string>{7, "Y" + repeat("\xD0\x96", 200)}, {8, kInvalid}}) {
    json::object g;
    g["id"] = id;
    g["name"] = name;
    std::int64_t got_id = 0;
    std::string got_name;
    EXPECT_TRUE(ksc::decode_group(json::value(g), &got_id, &got_name));
    inv.groups[got_id] = ksc::Inventory::Group{got_name, 0};
  }
  KscSource section;
  section.name = "ksc01";
  section.labels = {{"site", "\xD0\x9F\xD0\xB0\xD1\x80\xD0\xB8\xD0\xB6"}};  // Париж
  std::vector<ksc::AgentView> views;
  r.found = ksc::to_targets(inv, section, nullptr, &views);
  EXPECT_EQ(r.found.size(), 2u);

  // A target file whose label value is not UTF-8.
  const std::string file = dir.write("t.yml",
                                     "- targets: [\"10.0.1.1\"]\n  labels:\n"
                                     "    role: agent\n    site: \"Lyon " +
                                         kInvalid + "\"\n");
  struct FileTargets : TargetSource {
    std::string path;
    std::vector<TargetConfig> read(const std::vector<std::string>&,
                                   std::vector<ConfigError>* errors) override {
      std::vector<TargetConfig> out;
      parse_target_file(path, &out, errors);
      return out;
    }
  } files;
  files.path = file;

  ConfigSources sources;
  sources.text =
      "target_files = [\"t.yml\"]\n"
      "[metrics]\ndetail = { agent = \"full\", server = \"full\", distribution_point = \"full\" }\n"
      "aggregate_labels = [\"site\"]\n"
      "[[target]]\nname = \"ksc-main\"\nrole = \"server\"\n"
      "address = \"10.0.2.1\"\nlabels = { site = "
      "\"\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0\" }\n";
  sources.text_name = "k.toml";
  Config base;
  std::vector<ConfigError> errors;
  EXPECT_TRUE(compose_base(sources, &base, &errors)) << (errors.empty() ? "" : errors[0].format());
  const DiscoveredTargets lists{DiscoveredList{r.found, 0, {}}};
  r.plan = compose_plan(base, &files, &errors, &lists);
  EXPECT_TRUE(errors.empty()) << errors[0].format();
  EXPECT_EQ(r.plan->targets.size(), 4u);

  // Every check failed once, with a detail and a certificate carrying the bad text.
  r.table = std::make_unique<ResultTable>(r.plan);
  for (std::uint32_t i = 0; i < r.plan->checks.size(); ++i) {
    ProbeResult res = ProbeResult::failure(Reason::tls, "handshake: " + kInvalid);
    TlsInfo tls;
    tls.version = "TLSv1.3";
    tls.fingerprint_sha256 = std::string(64, 'a');
    tls.subject = "CN=" + kLongCyrillic.substr(0, 100) + kInvalid;
    tls.not_after = 1'900'000'000;
    res.tls = tls;
    r.table->record(i, res, kNow - 10);
  }

  ksc::AgentSection agents;
  agents.name = "ksc01";
  agents.stale_after = std::chrono::hours(2);
  agents.agents = std::make_shared<const std::vector<ksc::AgentView>>(views);
  r.agents = {agents};

  // The server's statistics, with names it chose.
  json::object stats;
  stats["KLSRV_ST_ALL_CONS_CNT"] = 12;
  stats[kInvalid] = 3;
  stats["KLSRV_ST_" + repeat("\xD0\x96", 40)] = 4;
  json::object answer;
  answer["PxgRetVal"] = stats;
  ksc::DiscoveryStatus st;
  st.name = "ksc01";
  st.ran = true;
  st.success = true;
  st.statistics = ksc::decode_statistics(json::value(answer));
  st.skipped = {{"no_address", 0}, {kInvalid, 1}};
  r.statuses = {st};

  MetricsRenderer renderer;
  MetricsRenderer::Source src;
  src.table = r.table.get();
  src.agents = r.agents;
  src.now = kNow;
  renderer.render(src, r.metrics);
  exposition::write_discovery_metrics(r.metrics, r.statuses);
  return r;
}

TEST(Utf8Exposition, EveryLabelSourceStaysValidUtf8) {
  test::TempDir dir("utf8-exposition");
  const Rendered r = render_everything(dir);
  const std::string& text = r.metrics;
  EXPECT_TRUE(valid_utf8(text));
  std::string malformed;
  const auto samples = test::parse_samples(text, &malformed);
  EXPECT_EQ(malformed, "");
  EXPECT_GT(samples.size(), 20u);

  // The long display name was cut before the split letter: 1 + 127 letters, nothing replaced.
  const std::string cut = "X" + repeat("\xD0\x96", 127);
  EXPECT_TRUE(test::sample(text, "kscprobe_probe_success", {{"target", cut}})) << text;
  EXPECT_TRUE(test::sample(text, "kscprobe_ksc_agent_last_connected_timestamp_seconds",
                           {{"target", cut}, {"ksc_host_id", cut}}))
      << text;
  EXPECT_TRUE(test::sample(text, "kscprobe_agent_diagnosis", {{"target", cut}})) << text;
  // The group name was cut on a boundary too: 1 + 127 of its 200 letters.
  EXPECT_TRUE(test::sample(text, "kscprobe_probe_success",
                           {{"target", cut}, {"ksc_group", "Y" + repeat("\xD0\x96", 127)}}))
      << text;
  // Bad bytes became U+FFFD wherever they were: a target file's label, a KSC name, a statistic.
  const std::string repaired = utf8_repaired(kInvalid);
  EXPECT_TRUE(test::sample(text, "kscprobe_probe_success", {{"site", "Lyon " + repaired}})) << text;
  EXPECT_TRUE(test::sample(text, "kscprobe_tls_info", {{"target", "10.0.1.1"}})) << text;
  EXPECT_NE(text.find(repaired), std::string::npos);
  EXPECT_EQ(text.find(kInvalid), std::string::npos);
}

TEST(Utf8Exposition, TheStatusPageInEveryFormIsValidUtf8) {
  test::TempDir dir("utf8-status");
  const Rendered r = render_everything(dir);
  StatusPageInfo info{"1.0", "k.toml \xFF", true, kNow};
  for (StatusFormat f : {StatusFormat::html, StatusFormat::json, StatusFormat::text}) {
    StatusQuery q;
    q.format = f;
    const std::string page = render_status_page(*r.table, info, q);
    EXPECT_TRUE(valid_utf8(page)) << static_cast<int>(f);
    EXPECT_NE(page.find("X" + repeat("\xD0\x96", 127)), std::string::npos) << static_cast<int>(f);
  }
}

}  // namespace
}  // namespace kscprobe
