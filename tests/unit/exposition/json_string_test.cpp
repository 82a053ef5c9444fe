#include "daemon/exposition/json_string.hpp"

#include <gtest/gtest.h>

using namespace kscprobe;

namespace {
std::string json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}
}  // namespace

TEST(JsonString, EscapesWhatJsonRequires) {
  EXPECT_EQ(json("plain"), "\"plain\"");
  EXPECT_EQ(json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(json(std::string_view("\x01\x7f", 2)), "\"\\u0001\\u007f\"");
  EXPECT_EQ(json(""), "\"\"");
}

// Text from the network can be any bytes: what is not UTF-8 becomes U+FFFD, what is stays.
TEST(JsonString, KeepsUtf8AndReplacesTheRest) {
  EXPECT_EQ(json("saint-\xc3\xa9tienne \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"saint-\xc3\xa9tienne \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(json("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(json("\xc3"), "\"\\ufffd\"");                                   // cut short
  EXPECT_EQ(json("\xc0\xaf"), "\"\\ufffd\\ufffd\"");                        // overlong
  EXPECT_EQ(json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");             // a surrogate
  EXPECT_EQ(json("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // past U+10FFFF
}
