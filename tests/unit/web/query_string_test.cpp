#include "daemon/web/query_string.hpp"

#include <gtest/gtest.h>

using namespace kscprobe;

TEST(QueryString, DecodesPairsInOrder) {
  std::vector<std::pair<std::string, std::string>> q;
  std::string err;
  ASSERT_TRUE(parse_query("target=ksc01&check=agents%5Ftls&x=a+b&empty=&flag&&u=%c3%a9", &q, &err))
      << err;
  ASSERT_EQ(q.size(), 6u);
  EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"target", "ksc01"}));
  EXPECT_EQ(q[1].second, "agents_tls");
  EXPECT_EQ(q[2].second, "a b");
  EXPECT_EQ(q[3], (std::pair<std::string, std::string>{"empty", ""}));
  EXPECT_EQ(q[4], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(q[5].second, "\xc3\xa9");
  ASSERT_TRUE(parse_query("", &q, &err));
  EXPECT_TRUE(q.empty());
}

TEST(QueryString, RefusesMalformedEscapesAndTooManyPairs) {
  std::vector<std::pair<std::string, std::string>> q;
  std::string err;
  for (const char* bad : {"a=%", "a=%4", "a=%g0", "%zz=1", "a=b%"}) {
    EXPECT_FALSE(parse_query(bad, &q, &err)) << bad;
    EXPECT_NE(err.find("malformed %-escape"), std::string::npos) << err;
  }
  std::string many;
  for (int i = 0; i < 65; ++i) many += "a=1&";
  EXPECT_FALSE(parse_query(many, &q, &err));
  EXPECT_NE(err.find("more than 64"), std::string::npos) << err;
  EXPECT_TRUE(parse_query(many, &q, &err, 100));
}

TEST(QueryString, EncodesWhatDecodesBack) {
  EXPECT_EQ(url_encode("a b&c=d/\xc3\xa9"), "a%20b%26c%3Dd%2F%C3%A9");
  std::vector<std::pair<std::string, std::string>> q;
  std::string err;
  const std::string value = "saint-\xc3\xa9tienne & co/+%";
  ASSERT_TRUE(parse_query("v=" + url_encode(value), &q, &err));
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].second, value);
}
