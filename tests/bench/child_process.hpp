#pragma once
// A child process of the benchmark (kscprobe, blackbox_exporter) and what /proc says it costs.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

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

/// A child with stdout and stderr appended to one log file. It receives SIGTERM if the benchmark
/// dies first, so no prober outlives a run.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  /// false once the process has exited (reaped).
  bool running();
  /// SIGTERM, then SIGKILL after `grace`; returns the wait status, or -1.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  /// "exited with status N" or "killed by signal N (NAME)"; empty while it runs.
  std::string exit_description();
  /// The log file's content so far.
  std::string log() const;
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

/// Runs a command to completion (bounded by `timeout`) and returns its first line of output.
std::string command_first_line(const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace kscprobe::bench
