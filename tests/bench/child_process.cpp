#include "tests/bench/child_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace kscprobe::bench {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

long status_kib(const std::string& status, const std::string& key) {
  auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) return -1;
  return std::strtol(status.c_str() + at + key.size() + 2, nullptr, 10);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

ProcUsage read_usage(pid_t pid) {
  ProcUsage u;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::string stat = slurp(dir + "/stat");
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
      std::string text = slurp(dir + "/task/" + e->d_name + "/schedstat");
      if (text.empty()) continue;
      ns += std::strtoull(text.c_str(), nullptr, 10);
      any = true;
    }
    ::closedir(tasks);
    if (any) u.schedstat_cpu_seconds = static_cast<double>(ns) / 1e9;
  }
  std::string status = "\n" + slurp(dir + "/status");
  u.rss_kib = status_kib(status, "VmRSS");
  u.hwm_kib = status_kib(status, "VmHWM");
  return u;
}

MachineCpu read_machine_cpu() {
  std::istringstream in(slurp("/proc/stat"));
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

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path)
    : log_path_(log_path) {
  if (argv.empty()) throw std::runtime_error("empty command line");
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = ::open("/dev/null", O_RDONLY);
    if (log < 0 || null < 0) ::_exit(127);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() { stop(); }

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    pid_ = -1;
    return false;
  }
  return r == 0;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) return status_;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  if (::waitpid(pid_, &status, 0) == pid_) status_ = status;
  pid_ = -1;
  return status_;
}

std::string ChildProcess::exit_description() {
  if (running() || status_ == -1) return {};
  if (WIFEXITED(status_)) return "exited with status " + std::to_string(WEXITSTATUS(status_));
  if (WIFSIGNALED(status_)) {
    int sig = WTERMSIG(status_);
    const char* name = ::sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended";
}

std::string ChildProcess::log() const { return slurp(log_path_); }

std::string command_first_line(const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout) {
  std::string command = "timeout " + std::to_string(std::max<long>(1, timeout.count() / 1000));
  for (const auto& a : argv) command += " " + shell_quote(a);
  command += " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  char line[512] = {};
  std::string out;
  if (std::fgets(line, sizeof line, pipe) != nullptr) out = line;
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
  }
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace kscprobe::bench
