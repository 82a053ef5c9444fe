#include "tests/bench/proc_usage.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/files.hpp"

namespace kscprobe::bench {

using test::read_file;

namespace {

long status_kib(const std::string& status, const std::string& key) {
  auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) return -1;
  return std::strtol(status.c_str() + at + key.size() + 2, nullptr, 10);
}

}  // namespace

ProcUsage read_usage(pid_t pid) {
  ProcUsage u;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::string stat = read_file(dir + "/stat");
  // The command name (field 2) may contain spaces and parentheses: fields restart after the
  // last ')'. utime and stime are fields 14 and 15, i.e. the 12th and 13th after it.
  auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 1; i <= 13 && fields >> field; ++i) {
      if (i == 12) utime = std::strtoull(field.c_str(), nullptr, 10);
      if (i == 13) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    static const double kTick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    u.stat_cpu_seconds = static_cast<double>(utime + stime) / kTick;
  }
  if (DIR* tasks = ::opendir((dir + "/task").c_str())) {
    unsigned long long ns = 0;
    bool any = false;
    while (dirent* e = ::readdir(tasks)) {
      if (e->d_name[0] == '.') continue;
      std::string text = read_file(dir + "/task/" + e->d_name + "/schedstat");
      if (text.empty()) continue;
      ns += std::strtoull(text.c_str(), nullptr, 10);
      any = true;
    }
    ::closedir(tasks);
    if (any) u.schedstat_cpu_seconds = static_cast<double>(ns) / 1e9;
  }
  std::string status = "\n" + read_file(dir + "/status");
  u.rss_kib = status_kib(status, "VmRSS");
  u.hwm_kib = status_kib(status, "VmHWM");
  return u;
}

MachineCpu read_machine_cpu() {
  std::istringstream in(read_file("/proc/stat"));
  std::string label;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  in >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  static const double kTick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  MachineCpu m;
  m.busy = static_cast<double>(user + nice + system + irq + softirq) / kTick;
  m.steal = static_cast<double>(steal) / kTick;
  return m;
}

double cpu_delta(const ProcUsage& before, const ProcUsage& after) {
  double by_stat = after.stat_cpu_seconds - before.stat_cpu_seconds;
  if (before.schedstat_cpu_seconds < 0 || after.schedstat_cpu_seconds < 0) return by_stat;
  double by_schedstat = after.schedstat_cpu_seconds - before.schedstat_cpu_seconds;
  static const double kTick = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  // Two ticks of rounding, plus a margin: beyond that a thread exited and took its time along.
  if (std::fabs(by_schedstat - by_stat) <= 2 * kTick + 0.05 * by_stat) return by_schedstat;
  return by_stat;
}

}  // namespace kscprobe::bench
