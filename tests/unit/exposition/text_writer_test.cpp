#include "daemon/exposition/text_writer.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>

namespace kscprobe::exposition {
namespace {

TEST(TextWriter, EscapesLabelValuesAsTheFormatAsks) {
  std::string labels;
  append_label(labels, "target", "a\"b\\c\nd");
  append_label(labels, "site", "paris");
  EXPECT_EQ(labels, "target=\"a\\\"b\\\\c\\nd\",site=\"paris\"");
  EXPECT_EQ(label("reason", "refused"), "reason=\"refused\"");
}

// Prometheus's parser rejects a whole scrape for one byte that is not UTF-8: label values and
// help texts are repaired (one U+FFFD per bad byte), well-formed characters kept as they are.
TEST(TextWriter, NeverWritesInvalidUtf8) {
  std::string labels;
  append_label(labels, "target", "\xD0\x9F\xD0\x9A-\xFF\"\xD0");
  EXPECT_EQ(labels, "target=\"\xD0\x9F\xD0\x9A-\xEF\xBF\xBD\\\"\xEF\xBF\xBD\"");
  std::string out;
  FamilyWriter f(out, "x", "Help \xC0\xAF with a \\ and a\nnewline.", "gauge");
  f.sample(label("name", "\xED\xA0\x80"), {}, 1);
  EXPECT_EQ(out,
            "# HELP x Help \xEF\xBF\xBD\xEF\xBF\xBD with a \\\\ and a\\nnewline.\n"
            "# TYPE x gauge\n"
            "x{name=\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"} 1\n");
}

TEST(TextWriter, WritesNumbersExactlyAndNamesTheSpecialOnes) {
  auto text = [](auto v) {
    std::string s;
    append_number(s, v);
    return s;
  };
  EXPECT_EQ(text(1.0), "1");
  EXPECT_EQ(text(-3.0), "-3");
  EXPECT_EQ(text(1764979200.0), "1764979200");
  EXPECT_EQ(text(0.0025), "0.0025");
  EXPECT_EQ(text(1e15), "1e+15");
  EXPECT_EQ(text(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(text(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(text(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(text(std::uint64_t{18446744073709551615ULL}), "18446744073709551615");
  EXPECT_EQ(text(0.1 + 0.2), "0.30000000000000004");  // reads back the same double
}

TEST(TextWriter, AFamilyWritesItsHeaderOnceAndOnlyWithASample) {
  std::string out;
  {
    FamilyWriter empty(out, "kscprobe_unused", "Never sampled.", "gauge");
    EXPECT_FALSE(empty.started());
  }
  EXPECT_EQ(out, "");
  FamilyWriter f(out, "kscprobe_probe_success", "Whether it worked.", "gauge");
  f.sample("target=\"a\"", {}, 1.0);
  f.sample("target=\"b\"", "reason=\"refused\"", 0.0);
  f.sample({}, "reason=\"timeout\"", 0.0);
  f.sample({}, {}, 2.5);
  EXPECT_TRUE(f.started());
  EXPECT_EQ(out,
            "# HELP kscprobe_probe_success Whether it worked.\n"
            "# TYPE kscprobe_probe_success gauge\n"
            "kscprobe_probe_success{target=\"a\"} 1\n"
            "kscprobe_probe_success{target=\"b\",reason=\"refused\"} 0\n"
            "kscprobe_probe_success{reason=\"timeout\"} 0\n"
            "kscprobe_probe_success 2.5\n");
}

TEST(TextWriter, HistogramsAreCumulativeWithInfSumAndCount) {
  std::string out;
  FamilyWriter f(out, "x_seconds", "Latency.", "histogram");
  const std::array<double, 3> bounds{0.005, 0.1, 1};
  const std::array<std::uint64_t, 3> buckets{2, 0, 3};
  f.histogram("role=\"agent\"", bounds, buckets, 6, 4.25);
  EXPECT_EQ(out,
            "# HELP x_seconds Latency.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{role=\"agent\",le=\"0.005\"} 2\n"
            "x_seconds_bucket{role=\"agent\",le=\"0.1\"} 2\n"
            "x_seconds_bucket{role=\"agent\",le=\"1\"} 5\n"
            "x_seconds_bucket{role=\"agent\",le=\"+Inf\"} 6\n"
            "x_seconds_sum{role=\"agent\"} 4.25\n"
            "x_seconds_count{role=\"agent\"} 6\n");
}

TEST(TextWriter, CallsBackAfterEverySampleLine) {
  std::string out;
  struct Seen {
    std::string* out;
    int calls = 0;
    bool whole_lines = true;
  } seen{&out};
  FamilyWriter f(
      out, "n", "N.", "counter",
      [](void* c) {
        auto* s = static_cast<Seen*>(c);
        ++s->calls;
        s->whole_lines = s->whole_lines && !s->out->empty() && s->out->back() == '\n';
      },
      &seen);
  f.sample({}, {}, 1);
  f.sample("a=\"1\"", {}, 2);
  EXPECT_EQ(seen.calls, 2);
  EXPECT_TRUE(seen.whole_lines);
}

}  // namespace
}  // namespace kscprobe::exposition
