// The child-process helper shared by the end-to-end and service tests
// (tests/common/child_process.hpp): exit codes, captured output, environments, the descriptor
// and LISTEN_PID of socket activation, bounded runs.
#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/files.hpp"

namespace support = kscprobe::test;

using namespace std::chrono_literals;
using support::ChildOptions;
using support::ChildProcess;

namespace {

ChildOptions files_in(const std::string& dir) {
  ChildOptions o;
  o.stdout_path = dir + "/stdout";
  o.stderr_path = dir + "/stderr";
  return o;
}

TEST(ChildProcess, ExitCodeAndCapturedOutput) {
  std::string dir = support::temp_dir();
  ChildProcess child({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, files_in(dir));
  EXPECT_EQ(child.wait(10s), 3);
  EXPECT_EQ(child.out(), "out\n");
  EXPECT_EQ(child.err(), "err\n");
}

TEST(ChildProcess, SignalEndsItAs128PlusTheSignal) {
  std::string dir = support::temp_dir();
  ChildProcess child({"/bin/sh", "-c", "exec sleep 30"}, files_in(dir));
  EXPECT_EQ(child.wait(100ms), std::nullopt);  // still running
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(10s), 128 + SIGTERM);
}

TEST(ChildProcess, AMissingProgramExits127) {
  std::string dir = support::temp_dir();
  ChildProcess child({"/nonexistent/kscprobe-no-such-binary"}, files_in(dir));
  EXPECT_EQ(child.wait(10s), 127);
}

TEST(ChildProcess, ExplicitEnvironmentReplacesTheTestsOwn) {
  ASSERT_EQ(setenv("KSCPROBE_CHILD_TEST_LEAK", "1", 1), 0);
  std::string dir = support::temp_dir();
  {
    ChildOptions o = files_in(dir);
    o.env = std::vector<std::string>{"ONLY=this"};
    ChildProcess child({"/usr/bin/env"}, o);
    ASSERT_EQ(child.wait(10s), 0);
    EXPECT_EQ(child.out(), "ONLY=this\n");
  }
  {
    ChildProcess child({"/usr/bin/env"}, files_in(dir));  // inherits
    ASSERT_EQ(child.wait(10s), 0);
    EXPECT_NE(child.out().find("KSCPROBE_CHILD_TEST_LEAK=1\n"), std::string::npos);
  }
  unsetenv("KSCPROBE_CHILD_TEST_LEAK");
}

// As systemd passes a socket: the descriptor becomes fd 3 even though the test's copy is
// close-on-exec, and LISTEN_PID names the child itself (with or without an explicit environment).
TEST(ChildProcess, PassedDescriptorIsFd3AndListenPidIsTheChilds) {
  for (bool explicit_env : {true, false}) {
    SCOPED_TRACE(explicit_env ? "explicit environment" : "inherited environment");
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    std::string dir = support::temp_dir();
    ChildOptions o = files_in(dir);
    if (explicit_env) o.env = std::vector<std::string>{"LISTEN_FDS=1"};
    o.pass_fd = fds[1];
    o.set_listen_pid = true;
    ChildProcess child({"/bin/sh", "-c", "echo \"$LISTEN_PID $$ $LISTEN_FDS\" >&3"}, o);
    close(fds[1]);
    ASSERT_EQ(child.wait(10s), 0) << child.err();
    char buf[128] = {};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    ASSERT_GT(n, 0);
    std::string pid = std::to_string(child.pid());
    EXPECT_EQ(std::string(buf), pid + " " + pid + (explicit_env ? " 1" : " ") + "\n");
  }
}

TEST(ChildProcess, WaitListenPortReadsLogfmtAndJson) {
  const std::vector<std::pair<std::string, unsigned>> lines = {
      {R"(ts=2026-01-01T00:00:00.000Z level=info msg="kscprobe started" version=0.1.0 )"
       R"(listen_address=127.0.0.1:36945 tls=off)",
       36945},
      {R"({"ts":"2026-01-01T00:00:00.000Z","level":"info","msg":"kscprobe started",)"
       R"("listen_address":"[::1]:45293","tls":"off"})",
       45293},
  };
  for (const auto& [line, port] : lines) {
    std::string dir = support::temp_dir();
    support::write_file(dir + "/line", "level=info msg=\"loading\"\n" + line + "\n");
    ChildProcess child({"/bin/sh", "-c", "sleep 0.1; cat \"$0\" >&2; exec sleep 30", dir + "/line"},
                       files_in(dir));
    EXPECT_EQ(child.wait_listen_port(10s), port) << line;
  }
  std::string dir = support::temp_dir();
  ChildProcess silent({"/bin/sh", "-c", "exec sleep 30"}, files_in(dir));
  EXPECT_EQ(silent.wait_listen_port(100ms), std::nullopt);
}

TEST(ChildProcessRun, FeedsStdinFindsThePathAndMergesOutput) {
  std::string out;
  EXPECT_EQ(support::run({"cat"}, &out, 10s, "hello\n"), 0);
  EXPECT_EQ(out, "hello\n");
  EXPECT_EQ(support::run({"sh", "-c", "echo a; echo b >&2; exit 4"}, &out, 10s), 4);
  EXPECT_EQ(out, "a\nb\n");
  EXPECT_EQ(support::run({"kscprobe-no-such-command"}, &out, 10s), 127);
}

TEST(ChildProcessRun, KillsWhatOutlivesItsLimit) {
  auto start = std::chrono::steady_clock::now();
  std::string out;
  EXPECT_EQ(support::run({"sleep", "30"}, &out, 200ms), -2);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

}  // namespace
