// Socket activation: the daemon serves on the listening socket passed as fd 3 with LISTEN_FDS
// and LISTEN_PID, as systemd's kscprobe.socket does, and ignores it when LISTEN_PID names
// another process.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "tests/integration/edge/notify_socket.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"

namespace support = kscprobe::test;

using namespace std::chrono_literals;

namespace {

// A listening TCP socket on 127.0.0.1 and a free port, as systemd would make from ListenStream=.
int listening_socket(unsigned* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 16) != 0)
    return -1;
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

std::string write_config(const std::string& dir) {
  std::string config = dir + "/kscprobe.toml";
  support::write_file(config,
                      "[daemon]\ninterval = \"1s\"\ntimeout = \"500ms\"\n"
                      "[[target]]\nname = \"local\"\nrole = \"agent\"\naddress = \"127.0.0.1\"\n");
  return config;
}

// 192.0.2.1 (TEST-NET-1) is not a local address: binding it fails, so a daemon that answers
// can only be using the passed socket. Nothing is ever sent to it.
constexpr const char* kUnbindable = "--web.listen-address=192.0.2.1:9";

}  // namespace

TEST(SocketActivation, ServesMetricsOnThePassedSocket) {
  std::string dir = support::temp_dir();
  unsigned port = 0;
  int fd = listening_socket(&port);
  ASSERT_GE(fd, 0);
  support::ChildProcess child(
      {KSCPROBE_BIN, "--config.file=" + write_config(dir), kUnbindable},
      {.stdout_path = dir + "/stdout",
       .stderr_path = dir + "/stderr",
       .env = support::clean_env({"LISTEN_FDS=1", "LISTEN_FDNAMES=kscprobe.socket"}),
       .pass_fd = fd,
       .set_listen_pid = true});
  close(fd);  // only the daemon holds the socket now

  std::optional<support::HttpReply> reply;
  auto end = std::chrono::steady_clock::now() + 15s;
  // Connections queue on the socket even before the daemon accepts, so poll until it answers.
  while (!reply && std::chrono::steady_clock::now() < end) {
    reply = support::http_request(port, "GET", "/metrics");
    if (!reply) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(reply) << child.err();
  EXPECT_EQ(reply->status, 200);
  EXPECT_NE(reply->body.find("kscprobe_build_info"), std::string::npos);
  EXPECT_NE(child.err().find("socket activation"), std::string::npos) << child.err();
  auto port_logged = child.wait_listen_port(5s);
  ASSERT_TRUE(port_logged) << child.err();
  EXPECT_EQ(*port_logged, port);

  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(10s), 0) << child.err();
}

TEST(SocketActivation, SocketsForAnotherPidAreIgnored) {
  std::string dir = support::temp_dir();
  unsigned port = 0;
  int fd = listening_socket(&port);
  ASSERT_GE(fd, 0);
  // LISTEN_PID=1: the fds were meant for someone else, so the daemon binds its own address,
  // which here cannot be bound: it must fail to start rather than serve on fd 3.
  support::ChildProcess child({KSCPROBE_BIN, "--config.file=" + write_config(dir), kUnbindable},
                              {.stdout_path = dir + "/stdout",
                               .stderr_path = dir + "/stderr",
                               .env = support::clean_env({"LISTEN_FDS=1", "LISTEN_PID=1"}),
                               .pass_fd = fd});
  close(fd);
  EXPECT_EQ(child.wait(15s), 1) << child.err();
  EXPECT_NE(child.err().find("cannot start the web listener"), std::string::npos) << child.err();
}
