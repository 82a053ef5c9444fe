#include "daemon/runtime/human_text.hpp"

#include <gtest/gtest.h>

namespace kscprobe {
namespace {

// --once and the status page write latencies and dates through these: one form for both.
TEST(HumanText, LatencyInMillisecondsUnderASecondThenSeconds) {
  EXPECT_EQ(human_latency(0), "0.0ms");
  EXPECT_EQ(human_latency(0.0123), "12.3ms");
  EXPECT_EQ(human_latency(0.9994), "999.4ms");
  EXPECT_EQ(human_latency(1), "1.00s");
  EXPECT_EQ(human_latency(2.346), "2.35s");
}

TEST(HumanText, UtcDate) {
  EXPECT_EQ(utc_date(0), "1970-01-01");
  EXPECT_EQ(utc_date(1803859199), "2027-02-28");  // 23:59:59 UTC, the last second of the day
  EXPECT_EQ(utc_date(1803859200), "2027-03-01");
}

}  // namespace
}  // namespace kscprobe
