#include "collectors/exposition_parser.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace kscprobe {
namespace {

constexpr std::string_view kKscMetrics =
    "# HELP ksc_Transport__Number_of_all_connections Number of all connections\n"
    "# TYPE ksc_Transport__Number_of_all_connections gauge\n"
    "ksc_Transport__Number_of_all_connections 1234\n"
    "# HELP ksc_Transport__Total_active_hosts_count Active hosts\\nsecond line \\\\ done\n"
    "# TYPE ksc_Transport__Total_active_hosts_count gauge\n"
    "ksc_Transport__Total_active_hosts_count{server=\"ksc01\",group=\"Managed \\\"devices\\\"\"} "
    "9.87e3\n"
    "# TYPE ksc_Transport__Number_of_failed_TCP_connections counter\n"
    "ksc_Transport__Number_of_failed_TCP_connections{server=\"ksc01\",} 3 1700000000000\n"
    "\n"
    "# a free comment, ignored: { not a sample\n"
    "#TYPE-like but not a keyword\n"
    "# TYPE ksc_request_seconds histogram\n"
    "ksc_request_seconds_bucket{le=\"0.1\"} 1\n"
    "ksc_request_seconds_bucket{le=\"+Inf\"} 2\n"
    "ksc_request_seconds_sum 0.25\n"
    "ksc_request_seconds_count 2\n"
    "# TYPE ksc_rpc_seconds summary\n"
    "ksc_rpc_seconds{quantile=\"0.5\"} NaN\n"
    "ksc_rpc_seconds{quantile=\"0.99\"} +Inf\n"
    "ksc_rpc_seconds_sum -Inf\n"
    "ksc_rpc_seconds_count 0\n"
    "untyped_with_utf8{name=\"Сервер\\n\"}\t-1.5E-3\t-12\n"
    "  indented:metric .5 \n"
    "last_without_newline 5.";

TEST(ExpositionParser, AcceptsKscLikeText) {
  ExpositionSummary summary;
  ASSERT_TRUE(parse_exposition(kKscMetrics, &summary))
      << summary.error_line << ": " << summary.error;
  EXPECT_EQ(summary.samples, 14u);
  // Three KSC gauges/counters, one histogram, one summary, and three untyped families.
  EXPECT_EQ(summary.families, 8u);
  EXPECT_EQ(summary.error_line, 0);
  EXPECT_TRUE(summary.error.empty());
}

TEST(ExpositionParser, EmptyAndCommentOnlyInputHaveNoSamples) {
  ExpositionSummary summary;
  EXPECT_TRUE(parse_exposition("", &summary));
  EXPECT_EQ(summary.samples, 0u);
  EXPECT_TRUE(parse_exposition("# just a comment\n\n# HELP\n", &summary));
  EXPECT_EQ(summary.samples, 0u);
  EXPECT_TRUE(parse_exposition("# HELP x only help\n", &summary));
  EXPECT_EQ(summary.samples, 0u);
  EXPECT_EQ(summary.families, 1u);
}

TEST(ExpositionParser, AcceptsValueSpellings) {
  for (std::string value : {"0", "-0", "+1", "1.", ".5", "1e10", "1E-10", "-2.5e+3", "NaN", "nan",
                            "+Inf", "-Inf", "Inf", "inf", "+infinity", "9223372036854775807"}) {
    ExpositionSummary summary;
    EXPECT_TRUE(parse_exposition("m " + value + "\n", &summary)) << value << ": " << summary.error;
  }
  for (std::string ts : {"0", "-1", "+5", "9223372036854775807", "-9223372036854775808"}) {
    ExpositionSummary summary;
    EXPECT_TRUE(parse_exposition("m 1 " + ts + "\n", &summary)) << ts << ": " << summary.error;
  }
}

TEST(ExpositionParser, NullSummaryIsAllowed) {
  EXPECT_TRUE(parse_exposition("a 1\n", nullptr));
  EXPECT_FALSE(parse_exposition("a\n", nullptr));
}

struct BadCase {
  std::string text;
  int line;
  std::string error_part;
};

TEST(ExpositionParser, RejectsInvalidInputAtTheRightLine) {
  const std::vector<BadCase> cases = {
      {"ok 1\n9bad 1\n", 2, "invalid metric name"},
      {"ok 1\nbad-name 1\n", 2, "invalid character '-'"},
      {"no_value\n", 1, "has no value"},
      {"no_value{a=\"b\"}\n", 1, "has no value"},
      {"m abc\n", 1, "invalid sample value"},
      {"m 1.2.3\n", 1, "invalid sample value"},
      {"m 1e\n", 1, "invalid sample value"},
      {"m +NaN\n", 1, "invalid sample value"},
      {"m 0x10\n", 1, "invalid sample value"},
      {"m 1 12.5\n", 1, "invalid timestamp"},
      {"m 1 99999999999999999999\n", 1, "invalid timestamp"},
      {"m 1 9223372036854775808\n", 1, "invalid timestamp"},
      {"m 1 2 3\n", 1, "unexpected text after the timestamp"},
      {"\n\nm{a=\"b\" 1\n", 3, "expected ',' or '}'"},
      {"m{a=\"b\"\n", 1, "unterminated label set"},
      {"m{a=\"b\n", 1, "unterminated value"},
      {"m{a=\"b\\\"} 1\n", 1, "unterminated value"},
      {"m{a=b} 1\n", 1, "expected '\"'"},
      {"m{a} 1\n", 1, "expected '='"},
      {"m{1a=\"b\"} 1\n", 1, "invalid label name"},
      {"m{a:b=\"c\"} 1\n", 1, "expected '='"},
      {"m{a=\"\\t\"} 1\n", 1, "invalid escape sequence"},
      {"m{a=\"x\",a=\"y\"} 1\n", 1, "duplicate label name \"a\""},
      {"m{a=\"x\"}1\n", 1, "expected a blank"},
      {"m{a=\"\xff\"} 1\n", 1, "not UTF-8"},
      {"m{a=\"\xc0\xaf\"} 1\n", 1, "not UTF-8"},
      {"m{,} 1\n", 1, "invalid label name"},
      {"# TYPE m gauge\n# TYPE m counter\n", 2, "second TYPE line"},
      {"# HELP m a\n# HELP m b\n", 2, "second HELP line"},
      {"m 1\n# TYPE m gauge\n", 2, "after its samples"},
      {"# TYPE m gauges\n", 1, "unknown metric type \"gauges\""},
      {"# TYPE m Gauge\n", 1, "unknown metric type"},
      {"# TYPE m\n", 1, "without a type"},
      {"# TYPE m gauge extra\n", 1, "unexpected text after the type"},
      {"# TYPE 1m gauge\n", 1, "invalid metric name in TYPE"},
      {"# HELP m- x\n", 1, "invalid metric name in HELP"},
      {"# HELP m bad \\t escape\n", 1, "invalid escape sequence in HELP"},
      {"# HELP m trailing backslash \\\n", 1, "invalid escape sequence in HELP"},
      {"# HELP m \xe2\x82\n", 1, "not valid UTF-8"},
      {"# TYPE h histogram\nh_bucket 1\n", 2, "without a valid \"le\""},
      {"# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", 2, "without a valid \"le\""},
      {"# TYPE h histogram\nh 1\n", 2, "without _bucket, _sum or _count"},
      {"# TYPE s summary\ns 1\n", 2, "without a valid \"quantile\""},
      {"ok 1\r\n", 1, "carriage return"},
      {"ok 1\nnext 2\r\n", 2, "carriage return"},
      {"{a=\"b\"} 1\n", 1, "invalid metric name"},
      {"m\x01 1\n", 1, "byte 0x01"},
      {std::string("m 1\n\0 1\n", 8), 2, "byte 0x00"},
  };
  for (const auto& c : cases) {
    ExpositionSummary summary;
    EXPECT_FALSE(parse_exposition(c.text, &summary)) << c.text;
    EXPECT_EQ(summary.error_line, c.line) << c.text << " -> " << summary.error;
    EXPECT_NE(summary.error.find(c.error_part), std::string::npos)
        << c.text << " -> " << summary.error << " (expected \"" << c.error_part << "\")";
  }
}

TEST(ExpositionParser, LongErrorTextsAreBounded) {
  std::string name(100000, 'a');
  ExpositionSummary summary;
  EXPECT_FALSE(parse_exposition(name + "\n", &summary));
  EXPECT_LT(summary.error.size(), 200u);
}

TEST(ExpositionParser, ManyLabelsAreLinear) {
  // A quadratic duplicate check would take minutes here.
  std::string text = "m{";
  for (int i = 0; i < 200000; ++i) text += "l" + std::to_string(i) + "=\"v\",";
  text += "} 1\n";
  ExpositionSummary summary;
  EXPECT_TRUE(parse_exposition(text, &summary)) << summary.error;
  text.insert(2, "l7=\"dup\",");
  EXPECT_FALSE(parse_exposition(text, &summary));
  EXPECT_NE(summary.error.find("duplicate label name \"l7\""), std::string::npos);
}

TEST(ExpositionParser, SurvivesArbitraryBytes) {
  // Every prefix and many random mutations of valid text: no crash, a consistent summary.
  const std::string base(kKscMetrics);
  for (std::size_t n = 0; n <= base.size(); ++n) {
    ExpositionSummary summary;
    bool ok = parse_exposition(std::string_view(base).substr(0, n), &summary);
    EXPECT_EQ(ok, summary.error.empty());
    EXPECT_EQ(ok, summary.error_line == 0);
  }
  std::mt19937 rng(12345);
  for (int round = 0; round < 20000; ++round) {
    std::string text = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = static_cast<char>(rng() & 0xFF);
          break;
        case 1:
          text.erase(at, 1 + rng() % 8);
          break;
        default:
          text.insert(at, 1, static_cast<char>(rng() & 0xFF));
          break;
      }
      if (text.empty()) text = "x";
    }
    ExpositionSummary summary;
    bool ok = parse_exposition(text, &summary);
    EXPECT_EQ(ok, summary.error_line == 0);
    if (!ok) {
      EXPECT_GE(summary.error_line, 1);
      EXPECT_FALSE(summary.error.empty());
    }
  }
}

}  // namespace
}  // namespace kscprobe
