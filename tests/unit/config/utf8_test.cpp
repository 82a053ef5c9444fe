// UTF-8 at the edges (config/utf8.hpp): cuts on a character boundary, the validity check, and
// the repair that every writer of text from elsewhere uses.
#include "config/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kscprobe {
namespace {

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(Utf8, SequenceLengthFollowsRfc3629) {
  EXPECT_EQ(utf8_sequence_length("a", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xD0\x96", 0), 2u);          // Ж
  EXPECT_EQ(utf8_sequence_length("\xE2\x82\xAC", 0), 3u);      // €
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98\x80", 0), 4u);  // U+1F600
  EXPECT_EQ(utf8_sequence_length("\xD0", 0), 0u);              // cut short
  EXPECT_EQ(utf8_sequence_length("\x96", 0), 0u);              // a continuation byte
  EXPECT_EQ(utf8_sequence_length("\xC0\xAF", 0), 0u);          // overlong '/'
  EXPECT_EQ(utf8_sequence_length("\xE0\x80\xAF", 0), 0u);      // overlong
  EXPECT_EQ(utf8_sequence_length("\xED\xA0\x80", 0), 0u);      // a surrogate
  EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80", 0), 0u);  // above U+10FFFF
  EXPECT_EQ(utf8_sequence_length("\xFF", 0), 0u);
  EXPECT_EQ(utf8_sequence_length("a", 1), 0u);  // past the end
}

TEST(Utf8, PrefixNeverSplitsACharacter) {
  // 129 Cyrillic letters after one ASCII letter: a cut at 256 bytes falls inside the 128th.
  const std::string name = "X" + repeat("\xD0\x96", 129);
  ASSERT_EQ(name.size(), 259u);
  EXPECT_FALSE(valid_utf8(name.substr(0, 256)));
  const std::string_view cut = utf8_prefix(name, 256);
  EXPECT_EQ(cut.size(), 255u);
  EXPECT_TRUE(valid_utf8(cut));
  // Without the ASCII letter the cut falls between two letters and keeps all 256 bytes.
  const std::string even = repeat("\xD0\x96", 129);
  EXPECT_EQ(utf8_prefix(even, 256).size(), 256u);
  // Three- and four-byte characters back off to their first byte.
  EXPECT_EQ(utf8_prefix("ab\xE2\x82\xAC", 3), "ab");
  EXPECT_EQ(utf8_prefix("ab\xE2\x82\xAC", 4), "ab");
  EXPECT_EQ(utf8_prefix("ab\xE2\x82\xAC", 5), "ab\xE2\x82\xAC");
  EXPECT_EQ(utf8_prefix("\xF0\x9F\x98\x80z", 3), "");
  // Short enough: unchanged, invalid bytes included (repair is another step).
  EXPECT_EQ(utf8_prefix("a\xFF", 5), "a\xFF");
  // Stray continuation bytes are not a character to keep whole: the cut stays where it was.
  EXPECT_EQ(utf8_prefix("a\x96\x96\x96\x96\x96", 3), "a\x96\x96");
  EXPECT_EQ(utf8_prefix("ab", 0), "");
}

TEST(Utf8, RepairReplacesEachBadByteAndKeepsTheRest) {
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("\xD0\x9F\xD0\xBA-01 \xE2\x82\xAC"));
  EXPECT_FALSE(valid_utf8("pc\xFF"));
  EXPECT_EQ(utf8_repaired("plain"), "plain");
  EXPECT_EQ(utf8_repaired("\xD0\x96"), "\xD0\x96");
  EXPECT_EQ(utf8_repaired("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(utf8_repaired("a\xD0"), "a\xEF\xBF\xBD");  // a split character at the end
  EXPECT_EQ(utf8_repaired("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8_repaired("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  std::string out = "x";
  append_utf8_repaired(out, "\x80y");
  EXPECT_EQ(out, "x\xEF\xBF\xBDy");
  EXPECT_TRUE(valid_utf8(utf8_repaired("\xF4\x90\x80\x80 \xFE\xFF \xE2\x82")));
}

}  // namespace
}  // namespace kscprobe
