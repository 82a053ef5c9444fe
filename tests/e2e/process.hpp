#pragma once
// Small helpers for end-to-end tests: run the built binaries as real processes
// (tests/common/child_process.hpp), read what they print, talk HTTP to them. Every wait is
// bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/child_process.hpp"

namespace e2e {

using test_support::read_file;
using test_support::run;
using test_support::temp_dir;
using test_support::write_file;

/// A child process in the test's environment, stdout and stderr captured to the given files.
class Process : public test_support::ChildProcess {
 public:
  Process(const std::vector<std::string>& argv, const std::string& out_path,
          const std::string& err_path)
      : ChildProcess(argv, options(out_path, err_path)) {}

 private:
  static test_support::ChildOptions options(const std::string& out_path,
                                            const std::string& err_path) {
    test_support::ChildOptions o;
    o.stdout_path = out_path;
    o.stderr_path = err_path;
    return o;
  }
};

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
