#include "config/duration.hpp"

#include <gtest/gtest.h>

using namespace kscprobe;
using namespace std::chrono_literals;

TEST(Duration, ParsesUnits) {
  std::string err;
  EXPECT_EQ(parse_duration("500ms", &err), Duration(500));
  EXPECT_EQ(parse_duration("15s", &err), Duration(15000));
  EXPECT_EQ(parse_duration("2m", &err), Duration(120000));
  EXPECT_EQ(parse_duration("1h", &err), Duration(3600000));
  EXPECT_EQ(parse_duration("1d", &err), Duration(86400000));
  EXPECT_EQ(parse_duration("1m30s", &err), Duration(90000));
}

TEST(Duration, RejectsBadInput) {
  std::string err;
  EXPECT_FALSE(parse_duration("", &err));
  EXPECT_FALSE(parse_duration("15", &err));
  EXPECT_NE(err.find("lacks a unit"), std::string::npos) << err;
  EXPECT_FALSE(parse_duration("15x", &err));
  EXPECT_NE(err.find("unknown unit \"x\""), std::string::npos) << err;
  EXPECT_FALSE(parse_duration("-1s", &err));
  EXPECT_FALSE(parse_duration("s", &err));
  EXPECT_FALSE(parse_duration("400d", &err));
}

// Decimal durations, as blackbox_exporter's configuration accepts, down to whole milliseconds.
TEST(Duration, ParsesDecimals) {
  std::string err;
  EXPECT_EQ(parse_duration("1.5s", &err), Duration(1500)) << err;
  EXPECT_EQ(parse_duration("0.25s", &err), Duration(250));
  EXPECT_EQ(parse_duration("2.5m", &err), Duration(150000));
  EXPECT_EQ(parse_duration("1.5h30s", &err), Duration(5430000));
  EXPECT_EQ(parse_duration("0.001s", &err), Duration(1));
  EXPECT_EQ(parse_duration("1.500s", &err), Duration(1500));
  EXPECT_FALSE(parse_duration("1.5ms", &err));
  EXPECT_NE(err.find("finer than a millisecond"), std::string::npos) << err;
  EXPECT_FALSE(parse_duration("0.0005s", &err));
  EXPECT_NE(err.find("more than three decimals"), std::string::npos) << err;
  EXPECT_FALSE(parse_duration("1.s", &err));
  EXPECT_NE(err.find("needs digits after it"), std::string::npos) << err;
  EXPECT_FALSE(parse_duration("1.5", &err));
  EXPECT_NE(err.find("lacks a unit"), std::string::npos) << err;
  EXPECT_FALSE(parse_duration("1,5s", &err));
  EXPECT_NE(err.find("unexpected \",\""), std::string::npos) << err;
  EXPECT_FALSE(parse_duration("365.5d", &err));
  EXPECT_NE(err.find("longer than a year"), std::string::npos) << err;
  EXPECT_FALSE(parse_duration("999999999.999d", &err));
  EXPECT_NE(err.find("longer than a year"), std::string::npos) << err;
}

TEST(Duration, FormatsRoundTrip) {
  EXPECT_EQ(format_duration(Duration(90000)), "1m30s");
  EXPECT_EQ(format_duration(Duration(500)), "500ms");
  EXPECT_EQ(format_duration(Duration(0)), "0s");
  for (auto d : {Duration(1), Duration(61001), Duration(3600000)}) {
    std::string err;
    EXPECT_EQ(parse_duration(format_duration(d), &err), d);
  }
}
