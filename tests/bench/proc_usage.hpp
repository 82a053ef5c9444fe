#pragma once
// What /proc says a process of the benchmark (kscprobe, blackbox_exporter) and the machine cost.
#include <sys/types.h>

namespace kscprobe::bench {

/// CPU time and memory of one process, read from /proc.
struct ProcUsage {
  /// utime + stime of /proc/PID/stat: every thread, live or exited, at clock-tick resolution.
  double stat_cpu_seconds = -1;
  /// Sum over /proc/PID/task/*/schedstat of the time on CPU: the same quantity at nanosecond
  /// resolution, but only for the threads alive now (-1 when schedstat is not available).
  double schedstat_cpu_seconds = -1;
  /// VmRSS and VmHWM of /proc/PID/status.
  long rss_kib = -1;
  long hwm_kib = -1;
};

/// Reads the usage of `pid`; fields stay -1 when the process is gone.
ProcUsage read_usage(pid_t pid);

/// CPU seconds spent between two readings of the same process: the nanosecond schedstat sum when
/// it agrees with utime + stime (no thread exited in between), else utime + stime.
double cpu_delta(const ProcUsage& before, const ProcUsage& after);

/// CPU time of the whole machine from /proc/stat, in CPU-seconds since boot.
struct MachineCpu {
  double busy = 0;   // user, nice, system, irq, softirq (guest time is inside user)
  double steal = 0;  // taken by the hypervisor for other guests
};
MachineCpu read_machine_cpu();

}  // namespace kscprobe::bench
