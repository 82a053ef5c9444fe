// The fake KSC OpenAPI server (simulator/ksc_openapi.hpp) by raw HTTP requests: each shape it
// serves as a real Administration Server does (chunks capped, search filters evaluated, the group
// tree, ended sessions, PxgError, gateways, two-step verification), so a client that reads them
// wrongly fails its own tests against it.
#include "simulator/ksc_openapi.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <exception>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/http_client.hpp"

namespace kscprobe::sim {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1773937133;

// KSCBasic credentials of the fake's default account (user and password in base64, an internal
// user, no domain).
const std::string kAuth =
    R"(KSCBasic user="a3NjcHJvYmU=", pass="a3NjLXNlY3JldA==", domain="", internal="1")";

struct Answer {
  int status = 0;
  std::string www_authenticate, session, content_type;
  std::string text;
  json::value body;  // null when the body is not JSON
  const json::object* object() const { return body.if_object(); }
};

class KscOpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void TearDown() override { stop(); }

  void start(KscOpenApiOptions options) {
    stop();
    server_ = std::make_unique<KscOpenApiServer>(io_, std::move(options));
    server_->start();
  }
  void stop() {
    if (!server_) return;
    server_->stop();
    io_.restart();
    io_.run_for(50ms);
    server_.reset();
  }

  // One POST /api/v1.0/<method> on a fresh connection, run on the server's loop.
  Answer post(const std::string& method, const std::string& body,
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    test::HttpRequest request;
    request.port = server_->port();
    request.method = "POST";
    request.target = "/api/v1.0/" + method;
    request.version = 11;
    headers.emplace_back("Connection", "close");
    headers.emplace_back("Content-Type", "application/json");
    request.headers = std::move(headers);
    request.body = body;
    request.tls = test::TlsClientOptions{};
    std::optional<test::HttpReply> reply;
    std::exception_ptr failure;
    asio::co_spawn(io_, test::async_fetch(std::move(request)),
                   [&](std::exception_ptr e, test::HttpReply r) {
                     failure = e;
                     reply = std::move(r);
                   });
    io_.restart();
    const auto start = std::chrono::steady_clock::now();
    while (!reply && std::chrono::steady_clock::now() - start < 10s) io_.run_one_for(100ms);
    if (failure) std::rethrow_exception(failure);
    EXPECT_TRUE(reply) << method << ": no answer within 10 s";
    Answer a;
    if (!reply) return a;
    a.status = reply->status;
    a.www_authenticate = reply->header("WWW-Authenticate");
    a.session = reply->header("X-KSC-Session");
    a.content_type = reply->header("Content-Type");
    a.text = reply->body;
    boost::system::error_code ec;
    json::value v = json::parse(reply->body, ec);
    if (!ec) a.body = std::move(v);
    return a;
  }

  // A token session (Session.StartSession), so every call may go on a connection of its own.
  std::string token() {
    Answer a = post("Session.StartSession", "{}", {{"Authorization", kAuth}});
    EXPECT_EQ(a.status, 200) << a.text;
    const json::object* o = a.object();
    if (o == nullptr || !o->contains("PxgRetVal")) return {};
    return std::string(o->at("PxgRetVal").as_string());
  }

  Answer call(const std::string& session, const std::string& method, const json::object& params) {
    return post(method, json::serialize(params), {{"X-KSC-Session", session}});
  }

  // FindHosts / FindGroups with `filter`; the accessor and PxgRetVal, or the error answer.
  struct Found {
    Answer answer;
    std::string accessor;
    std::int64_t count = -1;
  };
  Found find(const std::string& session, const std::string& method, const std::string& filter,
             std::vector<std::string> fields) {
    json::object p;
    p["wstrFilter"] = filter;
    json::array f;
    for (auto& s : fields) f.emplace_back(s);
    p["vecFieldsToReturn"] = std::move(f);
    p["lMaxLifeTime"] = 100;
    Found out;
    out.answer = call(session, method, p);
    if (const json::object* o = out.answer.object(); o != nullptr && o->contains("strAccessor")) {
      out.accessor = std::string(o->at("strAccessor").as_string());
      out.count = o->at("PxgRetVal").to_number<std::int64_t>();
    }
    return out;
  }

  Answer chunk(const std::string& session, const std::string& accessor, std::int64_t start,
               std::int64_t count) {
    json::object p;
    p["strAccessor"] = accessor;
    p["nStart"] = start;
    p["nCount"] = count;
    return call(session, "ChunkAccessor.GetItemsChunk", p);
  }

  // Every record of an accessor, chunk after chunk (advancing by what came back).
  std::vector<json::object> all_items(const std::string& session, const std::string& accessor,
                                      std::int64_t total) {
    std::vector<json::object> items;
    for (int guard = 0; guard < 1000 && static_cast<std::int64_t>(items.size()) < total; ++guard) {
      Answer a = chunk(session, accessor, static_cast<std::int64_t>(items.size()), 1000);
      const json::object* o = a.object();
      if (o == nullptr) break;
      const json::object& c = o->at("pChunk").as_object();
      if (!c.contains("KLCSP_ITERATOR_ARRAY")) break;
      for (const json::value& v : c.at("KLCSP_ITERATOR_ARRAY").as_array())
        items.push_back(v.as_object().at("value").as_object());
    }
    return items;
  }

  static const json::object* pxg_error(const Answer& a) {
    const json::object* o = a.object();
    if (o == nullptr || !o->contains("PxgError")) return nullptr;
    return o->at("PxgError").if_object();
  }

  asio::io_context io_;
  std::unique_ptr<KscOpenApiServer> server_;
};

std::size_t count_if_hosts(const std::vector<KscHostDef>& hosts, auto pred) {
  return static_cast<std::size_t>(std::count_if(hosts.begin(), hosts.end(), pred));
}

// --- 1. Chunks ----------------------------------------------------------------------------------

TEST_F(KscOpenApiTest, AChunkIsCappedAndPxgRetValIsWhatCameBack) {
  server_->set_hosts(KscOpenApiServer::generate_hosts(250, kNow));
  const std::string s = token();
  Found f = find(s, "HostGroup.FindHosts", "", {"KLHST_WKS_HOSTNAME"});
  ASSERT_EQ(f.count, 250);

  Answer a = chunk(s, f.accessor, 0, 500);  // asks for everything
  ASSERT_EQ(a.status, 200) << a.text;
  EXPECT_EQ(a.object()->at("PxgRetVal").to_number<std::int64_t>(), 100);  // the default cap
  EXPECT_EQ(a.object()->at("pChunk").at("KLCSP_ITERATOR_ARRAY").as_array().size(), 100u);

  a = chunk(s, f.accessor, 200, 100);  // the tail: fewer than asked
  EXPECT_EQ(a.object()->at("PxgRetVal").to_number<std::int64_t>(), 50);
  EXPECT_EQ(a.object()->at("pChunk").at("KLCSP_ITERATOR_ARRAY").as_array().size(), 50u);
  EXPECT_EQ(server_->counters().largest_chunk, 100u);
}

TEST_F(KscOpenApiTest, TheCapIsAnOption) {
  KscOpenApiOptions o;
  o.max_chunk_items = 25;
  start(o);
  server_->set_hosts(KscOpenApiServer::generate_hosts(60, kNow));
  const std::string s = token();
  Found f = find(s, "HostGroup.FindHosts", "", {});
  Answer a = chunk(s, f.accessor, 0, 60);
  EXPECT_EQ(a.object()->at("PxgRetVal").to_number<std::int64_t>(), 25);
  // Read by what came back, every device comes, in three chunks.
  EXPECT_EQ(all_items(s, f.accessor, 60).size(), 60u);
}

TEST_F(KscOpenApiTest, AnEmptyChunkHasNoItemArray) {
  server_->set_hosts(KscOpenApiServer::generate_hosts(10, kNow));
  const std::string s = token();
  Found f = find(s, "HostGroup.FindHosts", "", {});
  for (std::int64_t start : {10, 11, 5000}) {
    Answer a = chunk(s, f.accessor, start, 100);
    ASSERT_EQ(a.status, 200) << a.text;
    EXPECT_EQ(a.object()->at("PxgRetVal").to_number<std::int64_t>(), 0);
    ASSERT_TRUE(a.object()->at("pChunk").is_object());
    EXPECT_FALSE(a.object()->at("pChunk").as_object().contains("KLCSP_ITERATOR_ARRAY")) << a.text;
  }
  // A filter that keeps nothing: a count of 0 and an empty chunk.
  Found none = find(s, "HostGroup.FindHosts", R"((KLHST_WKS_DN = "nobody"))", {});
  EXPECT_EQ(none.count, 0);
  EXPECT_FALSE(chunk(s, none.accessor, 0, 10)
                   .object()
                   ->at("pChunk")
                   .as_object()
                   .contains("KLCSP_ITERATOR_ARRAY"));
}

TEST_F(KscOpenApiTest, ABadStartOrCountIsRefused) {
  server_->set_hosts(KscOpenApiServer::generate_hosts(10, kNow));
  const std::string s = token();
  Found f = find(s, "HostGroup.FindHosts", "", {});
  for (auto [start, count] : {std::pair<std::int64_t, std::int64_t>{0, 0}, {0, -5}, {-1, 10}}) {
    Answer a = chunk(s, f.accessor, start, count);
    const json::object* e = pxg_error(a);
    ASSERT_NE(e, nullptr) << start << "," << count << ": " << a.text;
    EXPECT_EQ(e->at("code").to_number<std::int64_t>(), 1187);
    EXPECT_EQ(e->at("module").as_string(), "KLSTD");
  }
  Answer missing =
      call(s, "ChunkAccessor.GetItemsChunk", json::object{{"strAccessor", f.accessor}});
  EXPECT_NE(pxg_error(missing), nullptr) << missing.text;
}

// --- 2. The search filter -----------------------------------------------------------------------

TEST_F(KscOpenApiTest, TheHostFilterIsEvaluated) {
  const auto hosts = KscOpenApiServer::generate_hosts(200, kNow);
  server_->set_hosts(hosts);
  const std::string s = token();
  auto in = [](std::int64_t g, std::initializer_list<std::int64_t> set) {
    return std::find(set.begin(), set.end(), g) != set.end();
  };
  const std::int64_t lyon = KscOpenApiServer::kGroupLyon;
  const std::int64_t branch = KscOpenApiServer::kGroupLyonBranch2;
  const std::int64_t wg = KscOpenApiServer::kGroupWorkgroup;
  const std::int64_t paris = KscOpenApiServer::kGroupParis;

  struct Case {
    std::string filter;
    std::size_t expected;
  };
  const std::vector<Case> cases = {
      {"", 200},
      {"  ", 200},
      {"(KLHST_WKS_FROM_UNASSIGNED = 0)", 190},
      {"(KLHST_WKS_FROM_UNASSIGNED=1)", 10},
      {R"((KLHST_WKS_FROM_UNASSIGNED = "False"))", 190},
      {R"((KLHST_WKS_FROM_UNASSIGNED <> "true"))", 190},
      {"(KLHST_WKS_GROUPID_GP = 4)",  // Lyon and Branch 2 below it
       count_if_hosts(hosts,
                      [&](const KscHostDef& h) {
                        return in(h.group_id, {lyon, branch});
                      })},
      {"(KLHST_WKS_GROUPID_GP <> 4)", count_if_hosts(hosts,
                                                     [&](const KscHostDef& h) {
                                                       return !in(h.group_id, {lyon, branch});
                                                     })},
      {"(KLHST_WKS_GROUPID_GP = 1)", 10},  // "Unassigned devices" and WORKGROUP below it
      {"(KLHST_WKS_GROUPID_GP = 0)", 190},
      {"(KLHST_WKS_GROUPID = 4)",
       count_if_hosts(hosts, [&](const KscHostDef& h) { return h.group_id == lyon; })},
      {"(KLHST_WKS_GROUPID > 8)",
       count_if_hosts(hosts, [&](const KscHostDef& h) { return h.group_id > 8; })},
      {"(&(KLHST_WKS_FROM_UNASSIGNED = 0)(KLHST_WKS_GROUPID_GP <> 4))",
       count_if_hosts(hosts,
                      [&](const KscHostDef& h) {
                        return !in(h.group_id, {lyon, branch, wg});
                      })},
      {"(| (KLHST_WKS_GROUPID = 7) (KLHST_WKS_GROUPID = 12) )",
       count_if_hosts(hosts,
                      [&](const KscHostDef& h) {
                        return in(h.group_id, {paris, wg});
                      })},
      {"(!(KLHST_WKS_GROUPID = 7))",
       count_if_hosts(hosts, [&](const KscHostDef& h) { return h.group_id != paris; })},
      {R"((!KLHST_WKS_DN = "pc-0000?"))", 191},  // the reference's own form of a negation
      {R"((KLHST_WKS_DN = "pc-0019*"))", 10},
      {R"((KLHST_WKS_DN = "pc-0010[0-4]"))", 5},
      {R"((KLHST_WKS_DN = "pc-0010[^0-4]"))", 5},
      {R"((KLHST_WKS_DN <> "pc-00001"))", 199},
      {R"((KLHST_WKS_HOSTNAME = ")" + hosts[41].id + R"("))", 1},
      {R"(KLHST_WKS_HOSTNAME = ")" + hosts[41].id + R"(")", 1},  // XSOAR's form, no parentheses
      {"(KLHST_WKS_STATUS & 4 <> 0)", 190},  // agent installed: the managed devices
      {"(KLHST_WKS_STATUS&0x00000004=0)", 10},
      {"(KLHST_WKS_DN)", 200},
      {"(!(KLHST_WKS_DN))", 0},
  };
  for (const Case& c : cases) {
    Found f = find(s, "HostGroup.FindHosts", c.filter, {"KLHST_WKS_HOSTNAME"});
    EXPECT_EQ(f.count, static_cast<std::int64_t>(c.expected)) << c.filter << ": " << f.answer.text;
    if (f.count > 0) {
      EXPECT_EQ(all_items(s, f.accessor, f.count).size(), c.expected) << c.filter;
    }
  }
  EXPECT_EQ(server_->counters().bad_filters, 0u);
}

TEST_F(KscOpenApiTest, TheUnassignedTreeIsLeftOutByFromUnassigned) {
  server_->set_hosts(KscOpenApiServer::generate_hosts(1200, kNow));
  const std::string s = token();
  Found f = find(s, "HostGroup.FindHosts", "(KLHST_WKS_FROM_UNASSIGNED = 0)",
                 {"KLHST_WKS_HOSTNAME", "KLHST_WKS_GROUPID", "KLHST_WKS_FROM_UNASSIGNED"});
  const std::size_t unassigned = KscOpenApiServer::generated_unassigned(1200);
  EXPECT_EQ(unassigned, 60u);
  ASSERT_EQ(f.count, static_cast<std::int64_t>(1200 - unassigned));
  for (const json::object& h : all_items(s, f.accessor, f.count)) {
    EXPECT_FALSE(h.at("KLHST_WKS_FROM_UNASSIGNED").as_bool());
    EXPECT_NE(h.at("KLHST_WKS_GROUPID").to_number<std::int64_t>(),
              KscOpenApiServer::kGroupWorkgroup);
  }
  // The old default filter, which assumes "Unassigned devices" is group 4, keeps the unassigned
  // devices and drops the managed group 4 ("Lyon") and its subgroup.
  Found old = find(s, "HostGroup.FindHosts", "(KLHST_WKS_GROUPID_GP <> 4)",
                   {"KLHST_WKS_FROM_UNASSIGNED", "KLHST_WKS_GROUPID"});
  std::size_t kept_unassigned = 0, kept_lyon = 0;
  for (const json::object& h : all_items(s, old.accessor, old.count)) {
    kept_unassigned += h.at("KLHST_WKS_FROM_UNASSIGNED").as_bool() ? 1 : 0;
    kept_lyon += h.at("KLHST_WKS_GROUPID").to_number<std::int64_t>() == 4 ? 1 : 0;
  }
  EXPECT_EQ(kept_unassigned, unassigned);
  EXPECT_EQ(kept_lyon, 0u);
}

TEST_F(KscOpenApiTest, FromUnassignedIsServedOnlyWhenAsked) {
  server_->set_hosts(KscOpenApiServer::generate_hosts(20, kNow));
  const std::string s = token();
  Found with = find(s, "HostGroup.FindHosts", "", {"KLHST_WKS_DN", "KLHST_WKS_FROM_UNASSIGNED"});
  auto items = all_items(s, with.accessor, 20);
  ASSERT_EQ(items.size(), 20u);
  EXPECT_FALSE(items[0].at("KLHST_WKS_FROM_UNASSIGNED").as_bool());
  EXPECT_TRUE(items[19].at("KLHST_WKS_FROM_UNASSIGNED").as_bool());  // pc-00020: unassigned
  EXPECT_FALSE(items[0].contains("KLHST_WKS_HOSTNAME"));             // not asked
  Found without = find(s, "HostGroup.FindHosts", "", {"KLHST_WKS_DN"});
  EXPECT_FALSE(all_items(s, without.accessor, 20)[19].contains("KLHST_WKS_FROM_UNASSIGNED"));
}

TEST_F(KscOpenApiTest, AFilterNotUnderstoodIsRefused) {
  server_->set_hosts(KscOpenApiServer::generate_hosts(10, kNow));
  const std::string s = token();
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "(!";
  deep += "(KLHST_WKS_GROUPID = 1)";
  for (int i = 0; i < 100; ++i) deep += ")";
  std::string long_or = "(|";
  while (long_or.size() < 9000) long_or += "(KLHST_WKS_GROUPID = 1)";
  long_or += ")";
  const std::vector<std::string> bad = {
      "(KLHST_WKS_NO_SUCH_ATTRIBUTE = 1)",
      "(KLHST_WKS_OS_NAME = \"Windows\")",  // real, but not understood by this fake
      "(KLHST_WKS_GROUPID = \"4\")",
      "(KLHST_WKS_DN = 4)",
      "(KLHST_WKS_DN <> \"pc-*\")",  // wildcards need '='
      "(KLHST_WKS_FROM_UNASSIGNED = False)",
      "(KLHST_WKS_FROM_UNASSIGNED = 2)",
      "(KLHST_WKS_FROM_UNASSIGNED > 0)",
      "(KLHST_WKS_GROUPID_GP < 4)",
      "(KLHST_WKS_GROUPID = 0x10)",
      "(KLHST_WKS_LAST_VISIBLE > CURTIME(-86400))",
      "(KLHST_WKS_GROUPID = 1",
      "((KLHST_WKS_GROUPID = 1))",
      "(&)",
      "(KLHST_WKS_GROUPID == 1)",
      "(KLHST_WKS_GROUPID = 1) trailing",
      "(KLHST_WKS_DN = \"unterminated)",
      "(KLHST_WKS_GROUPID = 99999999999999999999999)",
      deep,
      long_or,
  };
  unsigned refused = 0;
  for (const std::string& filter : bad) {
    Found f = find(s, "HostGroup.FindHosts", filter, {});
    const json::object* e = pxg_error(f.answer);
    ASSERT_NE(e, nullptr) << filter.substr(0, 80) << ": " << f.answer.text.substr(0, 200);
    EXPECT_EQ(f.answer.status, 200);  // a PxgError comes with 200 by default
    EXPECT_EQ(e->at("code").to_number<std::int64_t>(), 1187);
    EXPECT_EQ(e->at("module").as_string(), "KLSTD");
    EXPECT_NE(std::string(e->at("message").as_string()).find("Invalid search filter"),
              std::string::npos);
    ++refused;
  }
  EXPECT_EQ(server_->counters().bad_filters, refused);
  // wstrFilter must be a string (null is the empty filter).
  json::object p{{"wstrFilter", 4}, {"vecFieldsToReturn", json::array()}};
  EXPECT_NE(pxg_error(call(s, "HostGroup.FindHosts", p)), nullptr);
  p["wstrFilter"] = nullptr;
  EXPECT_EQ(call(s, "HostGroup.FindHosts", p).object()->at("PxgRetVal").to_number<int>(), 10);
}

// Whatever a client sends as a filter, the server answers (a count or a PxgError), and keeps
// answering.
TEST_F(KscOpenApiTest, RandomFiltersNeverBreakTheServer) {
  server_->set_hosts(KscOpenApiServer::generate_hosts(30, kNow));
  const std::string s = token();
  std::mt19937 rng(1234);
  const std::string alphabet = "()&|!=<>\"*?[]^-0123456789x KLHST_WKS_GROUPID_DN";
  for (int i = 0; i < 150; ++i) {
    std::string filter;
    const std::size_t n = rng() % 60;
    for (std::size_t k = 0; k < n; ++k) filter += alphabet[rng() % alphabet.size()];
    Found f = find(s, "HostGroup.FindHosts", filter, {});
    ASSERT_TRUE(f.count >= 0 || pxg_error(f.answer) != nullptr) << filter << ": " << f.answer.text;
  }
  EXPECT_EQ(find(s, "HostGroup.FindHosts", "", {}).count, 30);
}

// --- 3. Groups as a tree ------------------------------------------------------------------------

TEST_F(KscOpenApiTest, PredefinedGroupIdsAreTheServers) {
  const std::string s = token();
  auto id = [&](const std::string& method) {
    Answer a = call(s, method, json::object());
    return a.object() ? a.object()->at("PxgRetVal").to_number<std::int64_t>() : -100;
  };
  EXPECT_EQ(id("HostGroup.GroupIdGroups"), 0);
  EXPECT_EQ(id("HostGroup.GroupIdUnassigned"), 1);
  EXPECT_EQ(id("HostGroup.GroupIdSuper"), 2);

  KscGroupTree tree;
  tree.managed = 30;
  tree.unassigned = 4;
  tree.super = 31;
  tree.groups = {{5, 30, "Paris"}, {4, -1, "Unassigned devices"}, {30, -1, "Managed devices"}};
  server_->set_group_tree(tree);
  EXPECT_EQ(id("HostGroup.GroupIdGroups"), 30);
  EXPECT_EQ(id("HostGroup.GroupIdUnassigned"), 4);
  EXPECT_EQ(id("HostGroup.GroupIdSuper"), 31);
}

TEST_F(KscOpenApiTest, FindGroupsListsTheTreeInItsOwnOrder) {
  const std::string s = token();
  Found f = find(s, "HostGroup.FindGroups", "", {"id", "name", "grp_full_name", "parentId"});
  ASSERT_EQ(f.count, 7);
  auto items = all_items(s, f.accessor, 7);
  ASSERT_EQ(items.size(), 7u);
  std::vector<std::int64_t> ids;
  std::map<std::int64_t, json::object> by_id;
  for (auto& g : items) {
    ids.push_back(g.at("id").to_number<std::int64_t>());
    by_id[ids.back()] = g;
  }
  EXPECT_FALSE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(by_id.at(4).at("name").as_string(), "Lyon");  // a managed group has id 4
  EXPECT_EQ(by_id.at(1).at("name").as_string(), "Unassigned devices");
  EXPECT_EQ(by_id.at(0).at("name").as_string(), "Managed devices");
  EXPECT_EQ(by_id.at(9).at("grp_full_name").as_string(), "Managed devices/Lyon/Branch 2");
  EXPECT_EQ(by_id.at(9).at("parentId").to_number<std::int64_t>(), 4);
  EXPECT_EQ(by_id.at(12).at("name").as_string(), "WORKGROUP");
  EXPECT_EQ(by_id.at(12).at("parentId").to_number<std::int64_t>(), 1);

  Found lyon = find(s, "HostGroup.FindGroups", R"((name = "Lyon"))", {"id"});
  ASSERT_EQ(lyon.count, 1);
  auto one = all_items(s, lyon.accessor, 1);
  EXPECT_EQ(one[0].at("id").to_number<std::int64_t>(), 4);
  EXPECT_FALSE(one[0].contains("name"));  // only the fields asked for
  EXPECT_EQ(find(s, "HostGroup.FindGroups", "(parentId = 0)", {"id"}).count, 3);
  EXPECT_EQ(
      find(s, "HostGroup.FindGroups", R"((grp_full_name = "Managed devices/Lyon*"))", {"id"}).count,
      2);
  EXPECT_NE(pxg_error(find(s, "HostGroup.FindGroups", "(KLHST_WKS_GROUPID = 1)", {"id"}).answer),
            nullptr);
}

TEST_F(KscOpenApiTest, AFlatGroupListStillServes) {
  server_->set_groups({{0, "Managed devices"}, {1, "North"}, {4, "South"}});
  const std::string s = token();
  Found f = find(s, "HostGroup.FindGroups", "", {"id", "parentId"});
  EXPECT_EQ(f.count, 4);  // and an "Unassigned devices" under a free id
  Answer u = call(s, "HostGroup.GroupIdUnassigned", json::object());
  EXPECT_EQ(u.object()->at("PxgRetVal").to_number<std::int64_t>(), 5);
}

TEST_F(KscOpenApiTest, GeneratedHostsPutOneInTwentyInTheUnassignedTree) {
  const auto hosts = KscOpenApiServer::generate_hosts(1200, kNow);
  EXPECT_EQ(count_if_hosts(hosts,
                           [](const KscHostDef& h) {
                             return h.group_id == KscOpenApiServer::kGroupWorkgroup &&
                                    !h.last_agent_connected;
                           }),
            60u);
  EXPECT_EQ(count_if_hosts(KscOpenApiServer::generate_hosts(1200, kNow, 0),
                           [](const KscHostDef& h) {
                             return h.group_id == KscOpenApiServer::kGroupWorkgroup;
                           }),
            0u);
}

// --- 4. Sessions that end -----------------------------------------------------------------------

TEST_F(KscOpenApiTest, AnEndedSessionAnswers403ToEveryLaterCall) {
  KscFaults faults;
  faults.expire_after_calls = 2;
  server_->set_faults(faults);
  const std::string s = token();
  EXPECT_EQ(call(s, "HostGroup.GroupIdGroups", {}).status, 200);
  EXPECT_EQ(call(s, "HostGroup.GroupIdGroups", {}).status, 200);
  EXPECT_EQ(call(s, "HostGroup.GroupIdGroups", {}).status, 403);
  EXPECT_EQ(call(s, "ChunkAccessor.GetItemsCount", {}).status, 403);
  EXPECT_EQ(server_->counters().forbidden, 2u);
  // A new login works; an unknown session is 401, not 403.
  EXPECT_EQ(call(token(), "HostGroup.GroupIdGroups", {}).status, 200);
  EXPECT_EQ(call("nst-unknown", "HostGroup.GroupIdGroups", {}).status, 401);
}

TEST_F(KscOpenApiTest, TheOld401ExpiryIsSelectable) {
  KscFaults faults;
  faults.expire_after_calls = 1;
  faults.expired_status = 401;
  server_->set_faults(faults);
  const std::string s = token();
  EXPECT_EQ(call(s, "HostGroup.GroupIdGroups", {}).status, 200);
  EXPECT_EQ(call(s, "HostGroup.GroupIdGroups", {}).status, 401);
  EXPECT_EQ(call(s, "HostGroup.GroupIdGroups", {}).status, 401);
}

TEST_F(KscOpenApiTest, EndSessionEndsIt) {
  const std::string s = token();
  EXPECT_EQ(call(s, "Session.EndSession", {}).status, 200);
  EXPECT_EQ(call(s, "HostGroup.GroupIdGroups", {}).status, 403);
}

TEST_F(KscOpenApiTest, ARefusedLoginAnswers401Or403) {
  Answer wrong = post(
      "Session.StartSession", "{}",
      {{"Authorization", R"(KSCBasic user="a3NjcHJvYmU=", pass="eA==", domain="", internal="1")"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.www_authenticate, "");
  KscFaults faults;
  faults.refuse_login = true;
  server_->set_faults(faults);
  EXPECT_EQ(post("Session.StartSession", "{}", {{"Authorization", kAuth}}).status, 401);
  EXPECT_EQ(post("login", "", {{"Authorization", kAuth}}).status, 401);
  faults.refuse_login_status = 403;
  server_->set_faults(faults);
  EXPECT_EQ(post("Session.StartSession", "{}", {{"Authorization", kAuth}}).status, 403);
  EXPECT_EQ(post("login", "", {{"Authorization", kAuth}}).status, 403);
}

// --- 5. PxgError as KSC sends it ----------------------------------------------------------------

TEST_F(KscOpenApiTest, PxgErrorCarriesEveryFieldWith200Or500) {
  KscFaults faults;
  faults.pxg_method = "HostGroup.FindHosts";
  faults.pxg_code = 1950;
  faults.pxg_message = "Something failed";
  faults.pxg_http_status = 500;
  server_->set_faults(faults);
  const std::string s = token();
  Answer a = call(s, "HostGroup.FindHosts", {});
  EXPECT_EQ(a.status, 500);
  const json::object* e = pxg_error(a);
  ASSERT_NE(e, nullptr) << a.text;
  for (const char* field : {"code", "subcode", "module", "message", "file", "line", "locdata"})
    EXPECT_TRUE(e->contains(field)) << field << " in " << a.text;
  EXPECT_EQ(e->at("code").to_number<std::int64_t>(), 1950);
  EXPECT_EQ(e->at("message").as_string(), "Something failed");
  EXPECT_EQ(e->at("locdata").at("type").as_string(), "params");
  EXPECT_TRUE(e->at("locdata").at("value").as_object().contains("format"));

  // Every PxgError follows the fault's status, a bad filter's too.
  Found bad = find(s, "HostGroup.FindGroups", "(nope = 1)", {});
  EXPECT_EQ(bad.answer.status, 500);
  EXPECT_NE(pxg_error(bad.answer), nullptr);

  faults.pxg_http_status = 200;
  server_->set_faults(faults);
  a = call(s, "HostGroup.FindHosts", {});
  EXPECT_EQ(a.status, 200);
  ASSERT_NE(pxg_error(a), nullptr) << a.text;
  EXPECT_FALSE(a.object()->contains("PxgRetVal"));
}

TEST_F(KscOpenApiTest, AMethodTheAccountHasNoRightToIsAccessDenied) {
  KscFaults faults;
  faults.denied_methods = {"UaControl.GetUpdateAgentsList"};
  server_->set_faults(faults);
  const std::string s = token();
  Answer a = call(s, "UaControl.GetUpdateAgentsList", {});
  const json::object* e = pxg_error(a);
  ASSERT_NE(e, nullptr) << a.text;
  EXPECT_EQ(e->at("code").to_number<std::int64_t>(), 1184);  // KLSTD STDE_NOACCESS
  EXPECT_EQ(e->at("module").as_string(), "KLSTD");
  EXPECT_EQ(e->at("message").as_string(), "Access denied");
  EXPECT_EQ(call(s, "HostGroup.GroupIdGroups", {}).status, 200);  // other methods still answer
}

// --- 6. Connection gateways ---------------------------------------------------------------------

TEST_F(KscOpenApiTest, UpdateAgentsSayWhetherTheyAreGateways) {
  auto hosts = KscOpenApiServer::generate_hosts(3, kNow);
  hosts[1].id = "ua-2";
  server_->set_hosts(hosts);
  server_->set_update_agents({"ua-1", "ua-2", "ua-3"});
  server_->set_connection_gateways({"ua-2"});
  const std::string s = token();
  Answer a = call(s, "UaControl.GetUpdateAgentsList", {});
  ASSERT_EQ(a.status, 200) << a.text;
  const json::array& list = a.object()->at("pUasArr").as_array();
  ASSERT_EQ(list.size(), 3u);
  for (const json::value& v : list) {
    const json::object& ua = v.at("value").as_object();
    ASSERT_TRUE(ua.at("UaIsCg").is_bool()) << json::serialize(ua);
    EXPECT_EQ(ua.at("UaIsCg").as_bool(), ua.at("UaHostId").as_string() == "ua-2");
    EXPECT_FALSE(ua.contains("PxgRetVal"));
  }
  EXPECT_EQ(list[1].at("value").at("UaHostDisplayName").as_string(), "pc-00002");
}

// --- 7. An account that needs two-step verification ---------------------------------------------

TEST_F(KscOpenApiTest, AnMfaOnlyAccountAnswersKscMfa) {
  KscOpenApiOptions o;
  o.mfa_required = true;
  start(o);
  for (const char* method : {"login", "Session.StartSession"}) {
    Answer a = post(method, "{}", {{"Authorization", kAuth}});
    EXPECT_EQ(a.status, 401) << method;
    EXPECT_EQ(a.www_authenticate, R"(KSCMFA type="totp", lengthHint="6")") << method;
    EXPECT_EQ(a.text, "Authentication not finished");
    EXPECT_EQ(a.content_type, "text/plain");
  }
  Answer started = post("Session.StartSession", "{}", {{"Authorization", kAuth}});
  ASSERT_FALSE(started.session.empty());
  // The half-made session serves nothing, a wrong code keeps it waiting, and it can be ended.
  EXPECT_EQ(call(started.session, "HostGroup.GroupIdGroups", {}).status, 401);
  Answer code =
      post("Session.StartSession", "{}",
           {{"Authorization", R"(KSCMFA totp="123456")"}, {"X-KSC-Session", started.session}});
  EXPECT_EQ(code.status, 401);
  EXPECT_EQ(code.session, started.session);
  EXPECT_EQ(call(started.session, "Session.EndSession", {}).status, 200);
  // A wrong password is a plain refusal, without KSCMFA.
  Answer wrong =
      post("login", "",
           {{"Authorization", R"(KSCBasic user="eA==", pass="eA==", domain="", internal="1")"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.www_authenticate, "");
}

}  // namespace
}  // namespace kscprobe::sim
