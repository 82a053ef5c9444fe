#pragma once
// Child processes for the tests that run built binaries (tests/e2e, tests/integration): fork and
// exec with stdout and stderr captured to files, the test's environment or an explicit one, an
// inherited listening socket as fd 3 (socket activation), and waits that are always bounded.
// Everything the child needs is prepared before fork(): the test binaries run threads, so the
// child may only make async-signal-safe calls before exec.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace test_support {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// A new directory /tmp/kscprobe-e2e-XXXXXX.
inline std::string temp_dir() {
  char tmpl[] = "/tmp/kscprobe-e2e-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

/// `name` itself when it holds a '/', else the first executable PATH entry (or `name`: exec
/// then fails and the child exits 127).
inline std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

struct ChildOptions {
  std::string stdout_path;  ///< required
  std::string stderr_path;  ///< empty: stderr goes to stdout's file
  std::string stdin_path = "/dev/null";
  /// The child's whole environment; nullopt: the test's own.
  std::optional<std::vector<std::string>> env;
  /// When >= 0, becomes the child's fd 3 (inheritable), as systemd passes a listening socket.
  int pass_fd = -1;
  /// Adds LISTEN_PID=<the child's own pid> to the environment (socket activation).
  bool set_listen_pid = false;
  /// argv[0] without a '/' is looked up in PATH (as by a shell).
  bool search_path = false;
};

/// A child process, killed (SIGKILL) and reaped on destruction if it is still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, ChildOptions options)
      : out_(options.stdout_path),
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
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int i = open(in_path.c_str(), O_RDONLY);
      int o = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = same_file ? o : open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (i < 0 || o < 0 || e < 0) _exit(127);
      dup2(i, 0);
      dup2(o, 1);
      dup2(e, 2);
      if (pass_fd >= 0) {
        if (pass_fd != 3) {
          dup2(pass_fd, 3);  // dup2 clears close-on-exec on the new descriptor
        } else {
          fcntl(3, F_SETFD, 0);
        }
      }
      if (options.set_listen_pid) format_listen_pid(listen_pid.data(), getpid());
      if (own_env) {
        execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
      } else {
        execv(arg_ptrs[0], arg_ptrs.data());
      }
      _exit(127);
    }
  }
  ~ChildProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }
  void signal(int sig) { kill(pid_, sig); }

  /// Waits up to `limit` for the process to exit; returns its exit code (128+signal if killed).
  std::optional<int> wait(std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    do {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        exited_ = true;
        if (WIFEXITED(st)) return WEXITSTATUS(st);
        if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < end);
    return std::nullopt;
  }

  /// Polls `pred` on (stdout, stderr) every 20 ms until it holds or `limit` passes.
  template <class Pred>
  bool wait_output(Pred pred, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (pred(out(), err())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred(out(), err());
  }

  /// The port in the daemon's "kscprobe started ... listen_address=HOST:PORT" log line (logfmt
  /// or JSON, on stderr).
  std::optional<unsigned> wait_listen_port(std::chrono::milliseconds limit) {
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

 private:
  // "LISTEN_PID=<pid>" into `out` (room for 20 digits) without allocating: runs after fork().
  static void format_listen_pid(char* out, pid_t pid) {
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

  pid_t pid_ = -1;
  bool exited_ = false;
  std::string out_, err_;
};

/// Runs a command (looked up in PATH) to completion with `stdin_text` as its input; returns its
/// exit code (128+signal if killed, -2 if still running after `limit`, then killed), with
/// stdout and stderr together in `output`.
inline int run(const std::vector<std::string>& argv, std::string* output,
               std::chrono::milliseconds limit = std::chrono::seconds(60),
               const std::string& stdin_text = "") {
  const std::string dir = temp_dir();
  write_file(dir + "/stdin", stdin_text);
  int code = -2;
  {
    ChildOptions options;
    options.stdout_path = dir + "/out";
    options.stdin_path = dir + "/stdin";
    options.search_path = true;
    ChildProcess child(argv, options);
    if (auto rc = child.wait(limit)) {
      code = *rc;
    } else {
      child.signal(SIGKILL);
      child.wait(std::chrono::seconds(10));
    }
    if (output) *output = child.out();
  }
  std::remove((dir + "/out").c_str());
  std::remove((dir + "/stdin").c_str());
  rmdir(dir.c_str());
  return code;
}

}  // namespace test_support
