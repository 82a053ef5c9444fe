#pragma once
// Child processes of the tests and of the benchmark: fork and exec with stdout and stderr
// captured to files, the caller's environment or an explicit one, an inherited listening socket as
// fd 3 (socket activation), and waits that are always bounded. Everything the child needs is
// prepared before fork(): the test binaries run threads, so the child makes only
// async-signal-safe calls before exec.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kscprobe::test {

/// `name` itself when it holds a '/', else the first executable PATH entry (or `name`: exec
/// then fails and the child exits 127).
std::string find_in_path(const std::string& name);

struct ChildOptions {
  std::string stdout_path;  ///< required
  std::string stderr_path;  ///< empty: stderr goes to stdout's file
  std::string stdin_path = "/dev/null";
  /// Appends to the output files instead of truncating them.
  bool append = false;
  /// The child's whole environment; nullopt: the caller's own.
  std::optional<std::vector<std::string>> env;
  /// When >= 0, becomes the child's fd 3 (inheritable), as systemd passes a listening socket.
  int pass_fd = -1;
  /// Adds LISTEN_PID=<the child's own pid> to the environment (socket activation).
  bool set_listen_pid = false;
  /// argv[0] without a '/' is looked up in PATH (as by a shell).
  bool search_path = false;
  /// The child gets SIGTERM when the process that started it dies (no prober outlives a
  /// benchmark that crashed).
  bool die_with_parent = false;
  /// On destruction: SIGTERM, then SIGKILL after this long; zero: SIGKILL at once.
  std::chrono::milliseconds stop_grace{0};
};

/// A child process, stopped (see ChildOptions::stop_grace) and reaped on destruction if it is
/// still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, ChildOptions options);
  /// In the caller's environment, stdout and stderr captured to the given files.
  ChildProcess(const std::vector<std::string>& argv, const std::string& out_path,
               const std::string& err_path)
      : ChildProcess(argv, files(out_path, err_path)) {}
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string out() const;
  std::string err() const;
  /// The stdout file (stdout and stderr together when they share it).
  const std::string& out_path() const { return out_; }
  void signal(int sig);

  /// Waits up to `limit` for the process to exit; returns its exit code (128+signal if killed).
  std::optional<int> wait(std::chrono::milliseconds limit);
  /// False once the process has exited (it is reaped then).
  bool running();
  /// SIGTERM, then SIGKILL after `grace`; returns the exit code (128+signal), or -1.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  /// "exited with status N" or "killed by signal N (SIGNAME)"; empty while it runs.
  std::string exit_description();

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
  std::optional<unsigned> wait_listen_port(std::chrono::milliseconds limit);

 private:
  static ChildOptions files(const std::string& out_path, const std::string& err_path) {
    ChildOptions o;
    o.stdout_path = out_path;
    o.stderr_path = err_path;
    return o;
  }
  void reaped(int status);

  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;  // the wait status, once exited_
  std::chrono::milliseconds stop_grace_{0};
  std::string out_, err_;
};

/// Runs a command (looked up in PATH) to completion with `stdin_text` as its input; returns its
/// exit code (128+signal if killed, -2 if still running after `limit`, then killed), with
/// stdout and stderr together in `output`.
int run(const std::vector<std::string>& argv, std::string* output,
        std::chrono::milliseconds limit = std::chrono::seconds(60),
        const std::string& stdin_text = "");

}  // namespace kscprobe::test
