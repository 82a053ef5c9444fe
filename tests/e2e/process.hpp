#pragma once
// Small helpers for end-to-end tests: run the built binaries as real processes, read what they
// print, talk HTTP to them. Every wait is bounded.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

namespace e2e {

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

inline std::string temp_dir() {
  char tmpl[] = "/tmp/kscprobe-e2e-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

/// A child process with stdout and stderr captured to files.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::string& out_path, const std::string& err_path)
      : out_(out_path), err_(err_path) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int n = open("/dev/null", O_RDONLY);
      dup2(n, 0);
      dup2(o, 1);
      dup2(e, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }
  void signal(int sig) { kill(pid_, sig); }

  /// Waits up to `limit` for the process to exit; returns its exit code (128+signal if killed).
  std::optional<int> wait(std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      int st = 0;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        if (WIFEXITED(st)) return WEXITSTATUS(st);
        if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
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

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string out_, err_;
};

/// Runs a command to completion (bounded), returning exit code and combined output.
inline int run(const std::vector<std::string>& argv, std::string* output,
               std::chrono::milliseconds limit = std::chrono::seconds(60),
               const std::string& stdin_text = "") {
  std::string dir = temp_dir();
  std::string in_path = dir + "/stdin";
  write_file(in_path, stdin_text);
  pid_t pid = fork();
  if (pid == 0) {
    int o = open((dir + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int n = open(in_path.c_str(), O_RDONLY);
    dup2(n, 0);
    dup2(o, 1);
    dup2(o, 2);
    std::vector<char*> args;
    for (auto a : argv) args.push_back(strdup(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  auto end = std::chrono::steady_clock::now() + limit;
  int st = 0;
  int code = -1;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      code = -2;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (output) *output = read_file(dir + "/out");
  return code;
}

struct HttpReply {
  int status = 0;
  std::string headers;
  std::string body;
};

/// A plain HTTP/1.0 request to 127.0.0.1:port (the daemon's own endpoint).
inline std::optional<HttpReply> http_request(unsigned port, const std::string& method,
                                             const std::string& target) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return std::nullopt;
  }
  std::string req = method + " " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string resp;
  char buf[65536];
  for (int i = 0; i < 100000; ++i) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  auto sep = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.", 0) != 0 || sep == std::string::npos) return std::nullopt;
  HttpReply r;
  r.status = std::atoi(resp.c_str() + 9);
  r.headers = resp.substr(0, sep);
  r.body = resp.substr(sep + 4);
  return r;
}

/// Value of the first sample of `name` whose labels contain every `k="v"` of `labels`.
inline std::optional<double> sample(
    const std::string& text, const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    std::size_t after = name.size();
    if (after >= line.size() || (line[after] != '{' && line[after] != ' ')) continue;
    bool all = true;
    for (const auto& [k, v] : labels) {
      if (line.find(k + "=\"" + v + "\"") == std::string::npos) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    auto sp = line.rfind(' ');
    return std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return std::nullopt;
}

}  // namespace e2e
