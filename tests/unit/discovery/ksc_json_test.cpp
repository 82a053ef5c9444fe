#include "daemon/discovery/ksc_json.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>

#include "config/ksc.hpp"
#include "daemon/discovery/ksc_client.hpp"
#include "daemon/discovery/ksc_inventory.hpp"

namespace kscprobe::ksc {
namespace {

namespace json = boost::json;

json::value parse(std::string_view text) { return json::parse(text); }

TEST(KscJson, PlainAndWrappedInts) {
  EXPECT_EQ(as_int(parse("42")), 42);
  EXPECT_EQ(as_int(parse("-7")), -7);
  EXPECT_EQ(as_int(parse(R"({"type": "long", "value": 167772161})")), 167772161);
  EXPECT_EQ(as_int(parse(R"({"type": "long", "value": "9000000000"})")), 9000000000);
  EXPECT_EQ(as_int(parse("3.0")), 3);
  EXPECT_EQ(as_int(parse("18446744073709551615")), std::nullopt);  // over int64
  EXPECT_EQ(as_int(parse("3.5")), std::nullopt);
  EXPECT_EQ(as_int(parse("1e300")), std::nullopt);
  EXPECT_EQ(as_int(parse(R"("12")")), std::nullopt);  // a plain string is no number
  EXPECT_EQ(as_int(parse(R"({"type": "long", "value": "12x"})")), std::nullopt);
  EXPECT_EQ(as_int(parse("true")), std::nullopt);
  EXPECT_EQ(as_int(parse("null")), std::nullopt);
}

TEST(KscJson, StringsBoolsAndNumbers) {
  EXPECT_EQ(as_string(parse(R"("pc-1")")), "pc-1");
  EXPECT_EQ(as_string(parse(R"({"type": "string", "value": "x"})")), "x");
  EXPECT_EQ(as_string(parse("1")), std::nullopt);
  EXPECT_EQ(as_bool(parse("true")), true);
  EXPECT_EQ(as_bool(parse(R"({"type": "bool", "value": false})")), false);
  EXPECT_EQ(as_bool(parse("1")), std::nullopt);
  EXPECT_EQ(as_number(parse("0.25")), 0.25);
  EXPECT_EQ(as_number(parse(R"({"type": "long", "value": 12})")), 12.0);
  EXPECT_EQ(as_number(parse("true")), std::nullopt);
  EXPECT_EQ(as_number(parse(R"("12")")), std::nullopt);
}

TEST(KscJson, Datetimes) {
  EXPECT_EQ(as_datetime(parse(R"({"type": "datetime", "value": "2026-03-19T16:18:53Z"})")),
            1773937133);
  EXPECT_EQ(parse_datetime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_datetime("2024-02-29T12:00:00Z"), 1709208000);  // leap day
  EXPECT_EQ(parse_datetime("2026-03-19T16:18:53.123Z"), 1773937133);
  EXPECT_EQ(parse_datetime("2026-03-19T16:18:53"), 1773937133);
  EXPECT_EQ(parse_datetime("2026-03-19T16:18:53+00:00"), 1773937133);
  EXPECT_EQ(parse_datetime("2026-03-19T16:18:53+02:00"), std::nullopt);
  EXPECT_EQ(parse_datetime("2023-02-29T12:00:00Z"), std::nullopt);  // not a leap year
  EXPECT_EQ(parse_datetime("2026-13-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_datetime("2026-03-19T24:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_datetime("2026-03-19"), std::nullopt);
  EXPECT_EQ(parse_datetime("2026-03-19T16:18:5xZ"), std::nullopt);
  EXPECT_EQ(parse_datetime("1969-12-31T23:59:59Z"), std::nullopt);
  EXPECT_EQ(parse_datetime(""), std::nullopt);
  EXPECT_EQ(as_datetime(parse("1773937133")), std::nullopt);
}

TEST(KscJson, ParamsAndFields) {
  json::value v = parse(R"({"type": "params", "value": {"a": 1, "b": "x"}})");
  const json::object* p = as_params(v);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(int_field(*p, "a"), 1);
  EXPECT_EQ(string_field(*p, "b"), "x");
  EXPECT_EQ(int_field(*p, "missing"), std::nullopt);
  EXPECT_EQ(string_field(*p, "a"), std::nullopt);
  EXPECT_EQ(bool_field(*p, "a"), std::nullopt);
  EXPECT_EQ(datetime_field(*p, "b"), std::nullopt);
  // A plain object is a record too; so is one that merely has "type" and "value" among others.
  json::value plain = parse(R"({"type": "x", "value": 1, "other": 2})");
  ASSERT_NE(as_params(plain), nullptr);
  EXPECT_EQ(int_field(*as_params(plain), "other"), 2);
  EXPECT_EQ(as_params(parse(R"({"type": "params", "value": 3})")), nullptr);
  EXPECT_EQ(as_params(parse("[1]")), nullptr);
  EXPECT_NE(as_array(parse(R"({"type": "array", "value": [1, 2]})")), nullptr);
}

TEST(KscJson, Ipv4FromLong) {
  EXPECT_EQ(ipv4_of_long(167772161), 0x0A000001u);
  EXPECT_EQ(ipv4_text(*ipv4_of_long(167772161)), "10.0.0.1");
  EXPECT_EQ(ipv4_text(*ipv4_of_long(3232235777)), "192.168.1.1");
  EXPECT_EQ(ipv4_text(*ipv4_of_long(-1062731519)), "192.168.1.1");  // read as signed 32 bits
  EXPECT_EQ(ipv4_of_long(0), std::nullopt);
  EXPECT_EQ(ipv4_of_long(4294967296), std::nullopt);
  EXPECT_EQ(ipv4_of_long(-4294967296), std::nullopt);
}

TEST(KscJson, PxgError) {
  auto e = pxg_error(parse(R"({"PxgError": {"code": 1950, "message": "Access denied"}})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 1950);
  EXPECT_EQ(e->message, "Access denied");
  auto wrapped =
      pxg_error(parse(R"({"PxgError": {"type": "params", "value": {"code": 5, "message": "m"}}})"));
  ASSERT_TRUE(wrapped);
  EXPECT_EQ(wrapped->code, 5);
  auto odd = pxg_error(parse(R"({"PxgError": "boom"})"));
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->code, 0);
  EXPECT_FALSE(pxg_error(parse(R"({"PxgRetVal": 1})")));
  EXPECT_FALSE(pxg_error(parse(R"({"PxgError": null})")));
  EXPECT_FALSE(pxg_error(parse("[1]")));
}

TEST(KscJson, ParseAnswerRefusesBadInputWithoutThrowing) {
  json::value v;
  std::string error;
  EXPECT_TRUE(parse_answer(R"({"PxgRetVal": 1})", &v, &error));
  EXPECT_FALSE(parse_answer("", &v, &error));
  EXPECT_EQ(error, "empty body");
  EXPECT_FALSE(parse_answer(R"({"PxgRetVal": )", &v, &error));
  EXPECT_NE(error.find("offset"), std::string::npos) << error;
  EXPECT_FALSE(parse_answer("[1, 2]", &v, &error));
  EXPECT_EQ(error, "the answer is not a JSON object");
  EXPECT_FALSE(parse_answer(R"({"a": 1} trailing)", &v, &error));
  EXPECT_FALSE(parse_answer("\xff\xfe", &v, &error));
  std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_FALSE(parse_answer(deep, &v, &error));
  // The body is never quoted back: it may hold anything.
  EXPECT_FALSE(parse_answer("{\"secret-text\" oops", &v, &error));
  EXPECT_EQ(error.find("secret-text"), std::string::npos) << error;
}

TEST(KscJson, DecodesHostRecords) {
  Host h;
  ASSERT_EQ(decode_host(parse(R"({"type": "params", "value": {
      "KLHST_WKS_HOSTNAME": "4d1a-guid", "KLHST_WKS_DN": "PC-1\u0007",
      "KLHST_WKS_FQDN": "pc-1.corp.example", "KLHST_WKS_DNSNAME": "pc-1",
      "KLHST_WKS_IP_LONG": {"type": "long", "value": 167772161}, "KLHST_WKS_GROUPID": 7,
      "KLHST_WKS_LAST_VISIBLE": {"type": "datetime", "value": "2026-03-19T16:18:53Z"},
      "KLHST_WKS_LAST_NAGENT_CONNECTED": {"type": "datetime", "value": "2026-03-19T16:00:00Z"},
      "KLHST_WKS_STATUS": 29}})"),
                        &h),
            HostDecode::ok);
  EXPECT_EQ(h.id, "4d1a-guid");
  EXPECT_EQ(h.display_name, "PC-1");  // control characters cleaned
  EXPECT_EQ(h.fqdn, "pc-1.corp.example");
  EXPECT_EQ(h.dns_name, "pc-1");
  EXPECT_EQ(h.ipv4, 0x0A000001u);
  EXPECT_EQ(h.group_id, 7);
  EXPECT_EQ(h.last_visible, 1773937133);
  EXPECT_EQ(h.last_agent_connected, 1773936000);
  EXPECT_EQ(h.status, 29u);
  EXPECT_TRUE(h.status & kStatusAgentRunning);

  // Missing fields are tolerated.
  ASSERT_EQ(decode_host(parse(R"({"KLHST_WKS_HOSTNAME": "only-id"})"), &h), HostDecode::ok);
  EXPECT_EQ(h.id, "only-id");
  EXPECT_EQ(h.ipv4, 0u);
  EXPECT_EQ(h.group_id, -1);
  EXPECT_EQ(h.last_agent_connected, std::nullopt);

  EXPECT_EQ(decode_host(parse(R"({"KLHST_WKS_DN": "x"})"), &h), HostDecode::no_id);
  EXPECT_EQ(decode_host(parse(R"({"KLHST_WKS_HOSTNAME": 12})"), &h), HostDecode::no_id);
  EXPECT_EQ(decode_host(parse("17"), &h), HostDecode::not_a_record);
}

TEST(KscJson, DecodesChunksAgentsGroupsAndStatistics) {
  json::value chunk = parse(
      R"({"pChunk": {"KLCSP_ITERATOR_ARRAY": [{"type": "params", "value": {}}]}, "PxgRetVal": 1})");
  ASSERT_NE(chunk_items(chunk), nullptr);
  EXPECT_EQ(chunk_items(chunk)->size(), 1u);
  EXPECT_EQ(chunk_items(parse(R"({"pChunk": {"KLCSP_ITERATOR_ARRAY": null}})"))->size(), 0u);
  EXPECT_EQ(chunk_items(parse(R"({"pChunk": 3})")), nullptr);
  // An empty chunk may come without its array, or without pChunk (as the XSOAR integration
  // reads one): no items, not a malformed answer.
  ASSERT_NE(chunk_items(parse(R"({"PxgRetVal": 0, "pChunk": {}})")), nullptr);
  EXPECT_EQ(chunk_items(parse(R"({"PxgRetVal": 0, "pChunk": {}})"))->size(), 0u);
  ASSERT_NE(chunk_items(parse(R"({"PxgRetVal": 0})")), nullptr);
  EXPECT_EQ(chunk_items(parse(R"({"PxgRetVal": 0})"))->size(), 0u);

  // go-ksc's UaControl.go: {"pUasArr": [{"type": "params", "value": {"UaHostId", "UaIsCg"}}]}.
  auto agents = decode_update_agents(parse(
      R"({"pUasArr": [{"type": "params", "value": {"UaHostId": "a", "UaIsCg": true}},
                      {"UaHostId": "b"}, 3, {"type": "params", "value": {}}]})"));
  ASSERT_EQ(agents.size(), 2u);
  EXPECT_EQ(agents[0].id, "a");
  EXPECT_TRUE(agents[0].connection_gateway);
  EXPECT_EQ(agents[1].id, "b");
  EXPECT_FALSE(agents[1].connection_gateway);
  EXPECT_TRUE(decode_update_agents(parse(R"({"pUasArr": null})")).empty());

  std::int64_t id = 0;
  std::string name;
  EXPECT_TRUE(decode_group(parse(R"({"type": "params", "value": {"id": 3, "name": "Paris"}})"), &id,
                           &name));
  EXPECT_EQ(id, 3);
  EXPECT_EQ(name, "Paris");
  EXPECT_FALSE(decode_group(parse(R"({"id": 3})"), &id, &name));
}

TEST(KscSource, ParsesUrls) {
  std::string error;
  auto a = parse_ksc_url("https://ksc01.corp.example:13299", &error);
  ASSERT_TRUE(a) << error;
  EXPECT_EQ(a->host, "ksc01.corp.example");
  EXPECT_EQ(a->port, 13299);
  auto b = parse_ksc_url("HTTPS://10.0.0.5/", &error);
  ASSERT_TRUE(b) << error;
  EXPECT_EQ(b->host, "10.0.0.5");
  EXPECT_EQ(b->port, 13299);
  auto c = parse_ksc_url("https://[fd00::5]:8443", &error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->host, "fd00::5");
  EXPECT_EQ(c->port, 8443);
  for (const char* bad : {"http://ksc:13299", "https://", "https://ksc:0", "https://ksc:70000",
                          "https://ksc:", "https://ksc:12a", "https://ksc/api", "https://user@ksc",
                          "https://fd00::5", "https://[fd00::5"}) {
    EXPECT_FALSE(parse_ksc_url(bad, &error)) << bad;
  }
}

TEST(KscSource, ReadsThePasswordFromAFileOrTheEnvironment) {
  KscSource s;
  std::string error;
  EXPECT_FALSE(read_ksc_password(s, &error));
  const std::string path =
      ::testing::TempDir() + "kscprobe_ksc_password_test_" + std::to_string(::getpid());
  {
    std::ofstream out(path, std::ios::binary);
    out << "s3cr\"et\r\n";
  }
  s.password_file = path;
  auto password = read_ksc_password(s, &error);
  ASSERT_TRUE(password) << error;
  EXPECT_EQ(*password, "s3cr\"et");
  s.password_file = path + ".missing";
  EXPECT_FALSE(read_ksc_password(s, &error));
  EXPECT_NE(error.find(".missing"), std::string::npos);
  s.password_file.clear();
  s.password_env = "KSCPROBE_KSC_JSON_TEST_PASSWORD";
  ::setenv("KSCPROBE_KSC_JSON_TEST_PASSWORD", "from-env", 1);
  password = read_ksc_password(s, &error);
  ASSERT_TRUE(password) << error;
  EXPECT_EQ(*password, "from-env");
  ::unsetenv("KSCPROBE_KSC_JSON_TEST_PASSWORD");
  EXPECT_FALSE(read_ksc_password(s, &error));
  EXPECT_EQ(error.find("from-env"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace kscprobe::ksc
