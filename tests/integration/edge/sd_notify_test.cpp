// The systemd notify, watchdog and reload protocol, first on the helper itself, then with the
// real kscprobe binary reporting to a NOTIFY_SOCKET made by the test (no systemd needed).
#include "systemd/sd_notify.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "daemon/app.hpp"
#include "tests/integration/edge/notify_socket.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"

namespace support = kscprobe::test;

using namespace std::chrono_literals;
using support::has;
using support::Notification;

namespace {

class EnvGuard {
 public:
  explicit EnvGuard(std::vector<const char*> names) : names_(std::move(names)) {
    for (auto* n : names_) {
      const char* v = getenv(n);
      saved_.push_back(v ? std::optional<std::string>(v) : std::nullopt);
      unsetenv(n);
    }
  }
  ~EnvGuard() {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (saved_[i])
        setenv(names_[i], saved_[i]->c_str(), 1);
      else
        unsetenv(names_[i]);
    }
  }

 private:
  std::vector<const char*> names_;
  std::vector<std::optional<std::string>> saved_;
};

}  // namespace

TEST(SdNotify, SendsToPathAndAbstractSockets) {
  std::string dir = support::temp_dir();
  support::NotifySocket path_sock(dir + "/notify");
  kscprobe::systemd::Notifier n1(path_sock.path());
  ASSERT_TRUE(n1.enabled());
  ASSERT_TRUE(n1.send("READY=1\nSTATUS=x"));
  auto got = path_sock.receive(2s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "READY=1\nSTATUS=x");
  EXPECT_EQ(got->sender, getpid());

  support::NotifySocket abstract_sock("@kscprobe-test-" + std::to_string(getpid()));
  kscprobe::systemd::Notifier n2(abstract_sock.path());
  ASSERT_TRUE(n2.send("WATCHDOG=1"));
  got = abstract_sock.receive(2s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text, "WATCHDOG=1");
}

TEST(SdNotify, DisabledWithoutOrWithInvalidSocket) {
  EnvGuard env({"NOTIFY_SOCKET"});
  EXPECT_FALSE(kscprobe::systemd::Notifier::from_environment().enabled());
  EXPECT_FALSE(kscprobe::systemd::Notifier("relative/path").enabled());
  kscprobe::systemd::Notifier gone("/nonexistent-dir/notify");
  EXPECT_FALSE(gone.send("READY=1"));
}

TEST(SdNotify, WatchdogIntervalIsHalfTheTimeoutForThisProcessOnly) {
  EnvGuard env({"WATCHDOG_USEC", "WATCHDOG_PID"});
  EXPECT_FALSE(kscprobe::systemd::watchdog_interval());
  setenv("WATCHDOG_USEC", "3000000", 1);
  EXPECT_EQ(kscprobe::systemd::watchdog_interval(), std::chrono::microseconds(1500000));
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  EXPECT_EQ(kscprobe::systemd::watchdog_interval(), std::chrono::microseconds(1500000));
  setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
  EXPECT_FALSE(kscprobe::systemd::watchdog_interval());
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  setenv("WATCHDOG_USEC", "0", 1);
  EXPECT_FALSE(kscprobe::systemd::watchdog_interval());
  setenv("WATCHDOG_USEC", "junk", 1);
  EXPECT_FALSE(kscprobe::systemd::watchdog_interval());
}

TEST(SdNotify, ConfigureLeavesOptionsAloneOutsideSystemd) {
  EnvGuard env({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"});
  kscprobe::AppOptions options;
  kscprobe::systemd::configure(options);
  EXPECT_FALSE(options.hooks.ready);
  EXPECT_FALSE(options.hooks.heartbeat);
  EXPECT_EQ(options.listen_fd, -1);
}

TEST(SdNotify, ListenFdsForAnotherProcessAreIgnoredAndUnset) {
  EnvGuard env({"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"});
  setenv("LISTEN_FDS", "1", 1);
  setenv("LISTEN_PID", std::to_string(getpid() + 1).c_str(), 1);
  std::string warning;
  EXPECT_EQ(kscprobe::systemd::listen_fd_from_environment(&warning), -1);
  EXPECT_EQ(getenv("LISTEN_FDS"), nullptr);
  EXPECT_EQ(getenv("LISTEN_PID"), nullptr);
}

// The real daemon, as systemd runs it: READY=1 once it serves, WATCHDOG=1 from the loop,
// RELOADING=1 (with MONOTONIC_USEC) then READY=1 around each SIGHUP, STOPPING=1 on SIGTERM,
// every datagram sent by the main process itself (NotifyAccess=main).
TEST(SdNotifyDaemon, ReadyWatchdogReloadStopping) {
  std::string dir = support::temp_dir();
  std::string config = dir + "/kscprobe.toml";
  support::write_file(config,
                      "[daemon]\ninterval = \"1s\"\ntimeout = \"500ms\"\n"
                      "[[target]]\nname = \"local\"\nrole = \"agent\"\naddress = \"127.0.0.1\"\n");
  support::NotifySocket sock(dir + "/notify");
  // 200 ms watchdog: the daemon must send WATCHDOG=1 every 100 ms.
  support::ChildProcess child(
      {KSCPROBE_BIN, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"},
      {.stdout_path = dir + "/stdout",
       .stderr_path = dir + "/stderr",
       .env = support::clean_env({"NOTIFY_SOCKET=" + sock.path(), "WATCHDOG_USEC=200000"})});

  std::vector<Notification> seen;
  auto ready =
      sock.receive_until([](const Notification& n) { return has(n, "READY=1"); }, 15s, &seen);
  ASSERT_TRUE(ready) << child.err();
  EXPECT_EQ(ready->sender, child.pid());
  // READY=1 comes before any watchdog ping or other state.
  EXPECT_EQ(seen.size(), 1u) << seen.front().text;
  // Once READY=1 is sent, the listener answers and the plan is scheduled.
  auto port = child.wait_listen_port(10s);
  ASSERT_TRUE(port) << child.err();
  auto r = support::http_request(*port, "GET", "/-/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  int pings = 0;
  auto start = std::chrono::steady_clock::now();
  while (pings < 5 && std::chrono::steady_clock::now() - start < 10s) {
    auto n = sock.receive(2s);
    ASSERT_TRUE(n) << "watchdog pings stopped after " << pings;
    EXPECT_EQ(n->sender, child.pid());
    if (has(*n, "WATCHDOG=1")) ++pings;
  }
  EXPECT_EQ(pings, 5);

  auto not_watchdog = [](const Notification& n) { return !has(n, "WATCHDOG=1"); };
  child.signal(SIGHUP);
  auto reloading = sock.receive_until(not_watchdog, 10s);
  ASSERT_TRUE(reloading);
  EXPECT_TRUE(has(*reloading, "RELOADING=1")) << reloading->text;
  EXPECT_NE(reloading->text.find("MONOTONIC_USEC="), std::string::npos) << reloading->text;
  auto reloaded = sock.receive_until(not_watchdog, 10s);
  ASSERT_TRUE(reloaded);
  EXPECT_TRUE(has(*reloaded, "READY=1")) << reloaded->text;

  // A rejected file still ends the reload with READY=1 (the old plan keeps running), and says
  // so in STATUS=.
  support::write_file(config, "[daemon]\ninterval = \"nonsense\"\n");
  child.signal(SIGHUP);
  reloading = sock.receive_until(not_watchdog, 10s);
  ASSERT_TRUE(reloading);
  EXPECT_TRUE(has(*reloading, "RELOADING=1")) << reloading->text;
  reloaded = sock.receive_until(not_watchdog, 10s);
  ASSERT_TRUE(reloaded);
  EXPECT_TRUE(has(*reloaded, "READY=1")) << reloaded->text;
  EXPECT_NE(reloaded->text.find("rejected"), std::string::npos) << reloaded->text;

  // The watchdog keeps coming after reloads.
  EXPECT_TRUE(sock.receive_until([](const Notification& n) { return has(n, "WATCHDOG=1"); }, 5s));

  child.signal(SIGTERM);
  auto stopping = sock.receive_until(not_watchdog, 10s);
  ASSERT_TRUE(stopping);
  EXPECT_TRUE(has(*stopping, "STOPPING=1")) << stopping->text;
  EXPECT_EQ(child.wait(10s), 0) << child.err();
}

// A watchdog meant for another process (WATCHDOG_PID) is not fed; READY=1 still is sent.
TEST(SdNotifyDaemon, WatchdogForAnotherPidIsNotFed) {
  std::string dir = support::temp_dir();
  std::string config = dir + "/kscprobe.toml";
  support::write_file(config, "[daemon]\ninterval = \"1s\"\ntimeout = \"500ms\"\n");
  support::NotifySocket sock(dir + "/notify");
  support::ChildProcess child(
      {KSCPROBE_BIN, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"},
      {.stdout_path = dir + "/stdout",
       .stderr_path = dir + "/stderr",
       .env = support::clean_env(
           {"NOTIFY_SOCKET=" + sock.path(), "WATCHDOG_USEC=100000", "WATCHDOG_PID=1"})});
  ASSERT_TRUE(sock.receive_until([](const Notification& n) { return has(n, "READY=1"); }, 15s))
      << child.err();
  // Ten would-be intervals of silence.
  auto extra = sock.receive(500ms);
  EXPECT_FALSE(extra) << extra->text;
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(10s), 0) << child.err();
}
