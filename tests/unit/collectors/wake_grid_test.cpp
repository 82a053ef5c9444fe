#include "collectors/wake_grid.hpp"

#include <gtest/gtest.h>

using namespace kscprobe;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using TimePoint = std::chrono::steady_clock::time_point;

TEST(WakeGrid, RoundsUpToTheNextStepAndKeepsPointsOnIt) {
  static_assert(kWakeGrid == milliseconds(10));
  EXPECT_EQ(on_wake_grid_ms(0), 0);
  EXPECT_EQ(on_wake_grid_ms(10), 10);
  EXPECT_EQ(on_wake_grid_ms(11), 20);
  EXPECT_EQ(on_wake_grid_ms(19), 20);
  EXPECT_EQ(on_wake_grid_ms(123456789), 123456790);

  const TimePoint on(milliseconds(5000));
  EXPECT_EQ(on_wake_grid(on), on);
  EXPECT_EQ(on_wake_grid(on + nanoseconds(1)), on + milliseconds(10));
  EXPECT_EQ(on_wake_grid(on + milliseconds(9)), on + milliseconds(10));
  // Never earlier than asked, never a whole step late.
  for (long long ns : {1LL, 999999LL, 4000001LL, 9999999LL, 10000000LL, 10000001LL}) {
    const TimePoint t = on + nanoseconds(ns);
    EXPECT_GE(on_wake_grid(t), t) << ns;
    EXPECT_LT(on_wake_grid(t) - t, kWakeGrid) << ns;
    EXPECT_EQ(on_wake_grid(t).time_since_epoch() % kWakeGrid, nanoseconds(0)) << ns;
  }
}
