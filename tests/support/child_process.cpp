#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <stdexcept>

#include "tests/support/files.hpp"

extern char** environ;

namespace kscprobe::test {

namespace {

// "LISTEN_PID=<pid>" into `out` (room for 20 digits) without allocating: runs after fork().
void format_listen_pid(char* out, pid_t pid) {
  static constexpr char kName[] = "LISTEN_PID=";
  std::memcpy(out, kName, sizeof kName - 1);
  char digits[21];
  int n = 0;
  auto v = static_cast<unsigned long long>(pid);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  char* p = out + sizeof kName - 1;
  while (n > 0) *p++ = digits[--n];
  *p = '\0';
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, ChildOptions options)
    : stop_grace_(options.stop_grace),
      out_(options.stdout_path),
      err_(options.stderr_path.empty() ? options.stdout_path : options.stderr_path) {
  if (argv.empty() || options.stdout_path.empty()) {
    throw std::invalid_argument("ChildProcess needs a command and a stdout path");
  }
  std::vector<std::string> args = argv;
  if (options.search_path) args[0] = find_in_path(args[0]);
  std::vector<char*> arg_ptrs;
  for (auto& a : args) arg_ptrs.push_back(a.data());
  arg_ptrs.push_back(nullptr);

  std::vector<std::string> env;
  if (options.env) {
    env = *options.env;
  } else if (options.set_listen_pid) {
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  }
  // Filled in by the child with its own pid: room for "LISTEN_PID=" and 20 digits.
  std::string listen_pid(sizeof "LISTEN_PID=" - 1 + 21, '\0');
  std::vector<char*> env_ptrs;
  for (auto& v : env) env_ptrs.push_back(v.data());
  if (options.set_listen_pid) env_ptrs.push_back(listen_pid.data());
  env_ptrs.push_back(nullptr);
  const bool own_env = options.env || options.set_listen_pid;

  const std::string& in_path = options.stdin_path;
  const bool same_file = options.stderr_path.empty();
  const int pass_fd = options.pass_fd;
  const int out_flags = O_WRONLY | O_CREAT | (options.append ? O_APPEND : O_TRUNC);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
    }
    int i = ::open(in_path.c_str(), O_RDONLY);
    int o = ::open(out_.c_str(), out_flags, 0644);
    int e = same_file ? o : ::open(err_.c_str(), out_flags, 0644);
    if (i < 0 || o < 0 || e < 0) ::_exit(127);
    ::dup2(i, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    if (pass_fd >= 0) {
      if (pass_fd != 3) {
        ::dup2(pass_fd, 3);  // dup2 clears close-on-exec on the new descriptor
      } else {
        ::fcntl(3, F_SETFD, 0);
      }
    }
    if (options.set_listen_pid) format_listen_pid(listen_pid.data(), ::getpid());
    if (own_env) {
      ::execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    } else {
      ::execv(arg_ptrs[0], arg_ptrs.data());
    }
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) stop(stop_grace_);
}

std::string ChildProcess::out() const { return read_file(out_); }
std::string ChildProcess::err() const { return read_file(err_); }

void ChildProcess::signal(int sig) {
  if (pid_ > 0 && !exited_) ::kill(pid_, sig);
}

void ChildProcess::reaped(int status) {
  exited_ = true;
  status_ = status;
}

bool ChildProcess::running() {
  if (pid_ <= 0 || exited_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped(status);
    return false;
  }
  return r == 0;
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  do {
    if (!running()) return exited_ ? exit_code(status_) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < end);
  if (!running()) return exited_ ? exit_code(status_) : -1;
  return std::nullopt;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (running() && grace.count() > 0) {
    ::kill(pid_, SIGTERM);
    wait(grace);
  }
  if (running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) reaped(status);
  }
  return exited_ ? exit_code(status_) : -1;
}

std::string ChildProcess::exit_description() {
  if (running() || !exited_) return {};
  if (WIFEXITED(status_)) return "exited with status " + std::to_string(WEXITSTATUS(status_));
  if (WIFSIGNALED(status_)) {
    int sig = WTERMSIG(status_);
    const char* name = ::sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended";
}

std::optional<unsigned> ChildProcess::wait_listen_port(std::chrono::milliseconds limit) {
  static const std::regex re(R"(kscprobe started.*listen_address"?[=:]"?[^ "]*:([0-9]+))");
  std::optional<unsigned> port;
  wait_output(
      [&](const std::string&, const std::string& err) {
        std::smatch m;
        if (!std::regex_search(err, m, re)) return false;
        port = static_cast<unsigned>(std::stoul(m[1]));
        return true;
      },
      limit);
  return port;
}

int run(const std::vector<std::string>& argv, std::string* output, std::chrono::milliseconds limit,
        const std::string& stdin_text) {
  TempDir dir("run");
  int code = -2;
  ChildOptions options;
  options.stdout_path = dir.file("out");
  options.stdin_path = dir.write("stdin", stdin_text);
  options.search_path = true;
  ChildProcess child(argv, options);
  if (auto rc = child.wait(limit)) {
    code = *rc;
  } else {
    child.stop(std::chrono::milliseconds(0));
  }
  if (output) *output = child.out();
  return code;
}

}  // namespace kscprobe::test
