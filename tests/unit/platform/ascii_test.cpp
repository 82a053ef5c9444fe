#include "platform/ascii.hpp"

#include <gtest/gtest.h>

namespace kscprobe {
namespace {

TEST(Ascii, CaseIsFoldedForAsciiLettersOnly) {
  EXPECT_EQ(ascii::lower("Agent01.CORP-é"), "agent01.corp-é");
  EXPECT_EQ(ascii::lower('Z'), 'z');
  EXPECT_EQ(ascii::lower('['), '[');  // just after 'Z'
  EXPECT_EQ(ascii::lower('@'), '@');  // just before 'A'
  EXPECT_TRUE(ascii::iequals("NaN", "nan"));
  EXPECT_FALSE(ascii::iequals("nan", "na"));
  EXPECT_FALSE(ascii::iequals("[", "{"));  // 0x5B and 0x7B differ by the case bit, not letters
  EXPECT_TRUE(ascii::istarts_with("HTTPS://ksc01:13299", "https://"));
  EXPECT_FALSE(ascii::istarts_with("http", "https://"));
  EXPECT_TRUE(ascii::icontains("PC-0042.corp", "pc-00"));
  EXPECT_TRUE(ascii::icontains("", ""));
  EXPECT_FALSE(ascii::icontains("pc-0042", "pc-0043"));
}

}  // namespace
}  // namespace kscprobe
