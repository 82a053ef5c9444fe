// What a probe result does (ResultRecorder): recorded into the table with its state changes
// logged, or, when it failed on this host, counted as a local fault and kept off its target.
#include "daemon/runtime/result_recorder.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "daemon/runtime/open_files.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "tests/support/plan_builder.hpp"

using namespace kscprobe;

namespace {

struct Line {
  LogLevel level;
  std::string msg;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string field(std::string_view key) const {
    for (const auto& [k, v] : fields)
      if (k == key) return v;
    return "<none>";
  }
};

class ResultRecorderTest : public ::testing::Test {
 protected:
  ResultRecorder make(bool log_probes, bool debug_enabled) {
    LogSink sink;
    sink.write = [this](LogLevel level, std::string_view msg,
                        std::initializer_list<LogField> fields) {
      Line l{level, std::string(msg), {}};
      for (const auto& [k, v] : fields) l.fields.emplace_back(std::string(k), v);
      lines.push_back(std::move(l));
    };
    sink.enabled = [debug_enabled](LogLevel level) {
      return debug_enabled || level != LogLevel::debug;
    };
    return ResultRecorder(table, scheduler, fit, sink, log_probes);
  }

  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const auto& l : lines) out.push_back(l.msg);
    return out;
  }

  boost::asio::io_context io;
  ResultTable table{test::PlanBuilder()
                        .target("ksc-1", Role::server, "10.0.0.1")
                        .check("console", Transport::tcp, 13299)
                        .build()};
  Scheduler scheduler{io.get_executor(),
                      [](const CheckSpec&, boost::asio::cancellation_slot, Scheduler::Done) {},
                      [](std::uint32_t, const ProbeResult&) {}};
  OpenFileFit fit;
  std::vector<Line> lines;
};

ProbeResult up() {
  ProbeResult r;
  r.success = true;
  r.detail = "connected";
  return r;
}

}  // namespace

TEST_F(ResultRecorderTest, StateChangesAreRecordedAndLoggedOnce) {
  ResultRecorder recorder = make(/*log_probes=*/false, /*debug_enabled=*/true);
  recorder.record(0, ProbeResult::failure(Reason::refused, "connection refused"));
  recorder.record(0, ProbeResult::failure(Reason::refused, "connection refused"));
  recorder.record(0, up());
  recorder.record(0, up());
  recorder.record(0, ProbeResult::failure(Reason::timeout, "no answer"));
  EXPECT_EQ(messages(),
            (std::vector<std::string>{"check down at first probe", "check up", "check down"}));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].level, LogLevel::warn);
  EXPECT_EQ(lines[0].field("target"), "ksc-1");
  EXPECT_EQ(lines[0].field("check"), "console");
  EXPECT_EQ(lines[0].field("port"), "13299");
  EXPECT_EQ(lines[0].field("reason"), "refused");
  EXPECT_EQ(lines[1].level, LogLevel::info);
  EXPECT_EQ(lines[2].field("reason"), "timeout");
  EXPECT_EQ(table.state(0).probes_total, 5u);
  EXPECT_FALSE(table.state(0).success);
}

TEST_F(ResultRecorderTest, EveryResultIsLoggedAtDebugOnlyWhenAskedAndEnabled) {
  ResultRecorder quiet = make(/*log_probes=*/true, /*debug_enabled=*/false);
  quiet.record(0, up());
  EXPECT_TRUE(lines.empty());
  ResultRecorder verbose = make(/*log_probes=*/true, /*debug_enabled=*/true);
  verbose.record(0, up());
  ASSERT_EQ(messages(), std::vector<std::string>{"probe"});
  EXPECT_EQ(lines[0].level, LogLevel::debug);
  EXPECT_EQ(lines[0].field("success"), "1");
}

TEST_F(ResultRecorderTest, ALocalFaultIsCountedAndNeverRecordedAgainstItsTarget) {
  fit.limit = 64;
  ResultRecorder recorder = make(/*log_probes=*/false, /*debug_enabled=*/false);
  EXPECT_EQ(recorder.local_faults_now(), "");
  EXPECT_FALSE(recorder.local_faults_active());
  recorder.record(0, ProbeResult::local_fault(LocalFault::fd_limit, "too many open files"));
  recorder.record(0, ProbeResult::local_fault(LocalFault::fd_limit, "too many open files"));
  // Said once, when the kind starts failing, with the limit in force.
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].level, LogLevel::error);
  EXPECT_EQ(lines[0].field("kind"), "fd_limit");
  EXPECT_EQ(lines[0].field("open_files_limit"), "64");
  EXPECT_FALSE(table.state(0).has_result);
  EXPECT_EQ(table.state(0).probes_total, 0u);
  EXPECT_TRUE(recorder.local_faults_active());
  EXPECT_EQ(recorder.local_faults().total(LocalFault::fd_limit), 2u);
  EXPECT_EQ(recorder.local_faults_now(), "fd_limit (2 probes)");
}

TEST_F(ResultRecorderTest, AScheduleWithoutWaitsIsNotFallingBehind) {
  ResultRecorder recorder = make(/*log_probes=*/false, /*debug_enabled=*/false);
  recorder.watch_lateness();
  EXPECT_EQ(recorder.falling_behind(), "");
  EXPECT_TRUE(lines.empty());
}
