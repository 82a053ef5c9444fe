#pragma once
// The probing loop's timers wake on one grid: the scheduler's starts and the datagram probes'
// deadlines due within one step are handled in a single wake-up of the loop. With a large
// estate, thousands of checks fall due every second, each at its own millisecond; waking for each
// costs more than the probes themselves. A start or a deadline is late by less than one step.
#include <chrono>
#include <cstdint>

namespace kscprobe {

inline constexpr std::chrono::milliseconds kWakeGrid{10};

/// `t` rounded up to the grid of the steady clock.
inline std::chrono::steady_clock::time_point on_wake_grid(std::chrono::steady_clock::time_point t) {
  const auto step = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kWakeGrid);
  const auto since = t.time_since_epoch();
  const auto rem = since % step;
  return rem == rem.zero() ? t : t + (step - rem);
}

/// The same for steady-clock milliseconds.
inline std::int64_t on_wake_grid_ms(std::int64_t ms) {
  const std::int64_t step = kWakeGrid.count();
  const std::int64_t rem = ms % step;
  return rem == 0 ? ms : ms + (step - rem);
}

}  // namespace kscprobe
