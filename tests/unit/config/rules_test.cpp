#include "config/rules.hpp"

#include <gtest/gtest.h>

#include "config/catalog.hpp"

using namespace kscprobe;

TEST(Rules, LabelNames) {
  EXPECT_TRUE(rules::is_label_name("site"));
  EXPECT_TRUE(rules::is_label_name("_x9"));
  EXPECT_FALSE(rules::is_label_name(""));
  EXPECT_FALSE(rules::is_label_name("9site"));
  EXPECT_FALSE(rules::is_label_name("si-te"));
  EXPECT_FALSE(rules::is_label_name("sit\xc3\xa9"));
  for (const char* r : {"target", "role", "check", "port", "transport", "reason", "phase",
                        "instance", "job", "__meta"})
    EXPECT_TRUE(rules::is_reserved_label(r)) << r;
  EXPECT_FALSE(rules::is_reserved_label("site"));
}

TEST(Rules, Addresses) {
  std::string why;
  EXPECT_EQ(rules::parse_address("ksc01.corp.example", &why), "ksc01.corp.example");
  EXPECT_EQ(rules::parse_address("10.0.0.1", &why), "10.0.0.1");
  EXPECT_EQ(rules::parse_address("2001:db8::1", &why), "2001:db8::1");
  EXPECT_EQ(rules::parse_address("[2001:db8::1]", &why), "2001:db8::1");
  for (const char* bad : {"ksc01:13000", "10.0.0.1:13000", "[2001:db8::1]:13000"}) {
    EXPECT_FALSE(rules::parse_address(bad, &why)) << bad;
    EXPECT_NE(why.find("must not include a port"), std::string::npos) << bad << ": " << why;
  }
  EXPECT_FALSE(rules::parse_address("", &why));
  EXPECT_FALSE(rules::parse_address("a b", &why));
  EXPECT_FALSE(rules::parse_address("https://ksc01/", &why));
  EXPECT_NE(why.find("not a URL"), std::string::npos) << why;
  EXPECT_FALSE(rules::parse_address("[2001:db8::1", &why));
  EXPECT_FALSE(rules::parse_address(std::string(256, 'a'), &why));
}

TEST(Rules, FeatureLists) {
  std::string why;
  auto f = rules::parse_feature_list(" ksn_proxy , mobile,,", &why);
  ASSERT_TRUE(f) << why;
  EXPECT_EQ(*f, *parse_feature("ksn_proxy") | *parse_feature("mobile"));
  EXPECT_EQ(rules::parse_feature_list("", &why), 0u);
  EXPECT_FALSE(rules::parse_feature_list("icmp, nope", &why));
  EXPECT_NE(why.find("unknown feature \"nope\""), std::string::npos) << why;
}

TEST(Rules, Networks) {
  std::string why;
  auto n = rules::parse_network("10.0.0.0/8", &why);
  ASSERT_TRUE(n) << why;
  EXPECT_TRUE(n->contains("10.200.3.4"));
  EXPECT_TRUE(n->contains("::ffff:10.1.1.1"));
  EXPECT_FALSE(n->contains("11.0.0.1"));
  EXPECT_FALSE(n->contains("ksc01"));
  auto one = rules::parse_network("127.0.0.1", &why);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->prefix, 32);
  EXPECT_FALSE(one->contains("127.0.0.2"));
  auto v6 = rules::parse_network("fd00::/8", &why);
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains("[fd12::1]"));
  EXPECT_FALSE(v6->contains("10.0.0.1"));
  auto zero = rules::parse_network("0.0.0.0/0", &why);
  ASSERT_TRUE(zero);
  EXPECT_TRUE(zero->contains("192.0.2.1"));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/-1", "fd00::/129",
                          "nonsense", "10.0.0/8", "10.0.0.0/0008"})
    EXPECT_FALSE(rules::parse_network(bad, &why)) << bad;
}

TEST(Rules, Seconds) {
  EXPECT_EQ(rules::parse_seconds("10"), 10.0);
  EXPECT_EQ(rules::parse_seconds("9.5"), 9.5);
  EXPECT_EQ(rules::parse_seconds(".5"), 0.5);
  for (const char* bad :
       {"", "abc", "5s", "-1", "0", "0.0", "nan", "inf", "1e3", " 2", "1.2.3", "."})
    EXPECT_FALSE(rules::parse_seconds(bad)) << bad;
}
