// App fits the plan's concurrency to the open-file limit at start and at each reload, and
// exports what it put in force.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>

#include "daemon/app.hpp"

using namespace kscprobe;

namespace {

// The value of the first sample line starting with `series` + " ", or -1.
double sample(const std::string& text, const std::string& series) {
  const std::string head = "\n" + series + " ";
  const auto at = text.find(head);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + head.size()));
}

std::string config_of(int targets) {
  std::string text = "[daemon]\nmax_in_flight = 256\n";
  for (int i = 0; i < targets; ++i) {
    text += "[[target]]\nname = \"db-" + std::to_string(i) +
            "\"\nrole = \"database\"\nengine = \"postgresql\"\naddress = \"127.0.0." +
            std::to_string(i + 1) + "\"\n";
  }
  return text;
}

}  // namespace

TEST(AppLimits, BudgetsFitTheOpenFileLimit) {
  boost::asio::io_context io;
  AppOptions options;
  options.config_text = config_of(40);
  options.listen_address = "127.0.0.1:0";
  options.open_file_limit = 48;  // `ulimit -n 48`
  App app(io, options);
  ASSERT_TRUE(app.start());
  const std::string text = app.render_metrics();
  EXPECT_EQ(sample(text, "kscprobe_open_files_limit"), 48);
  EXPECT_EQ(sample(text, "kscprobe_probe_budget_clamped"), 1);
  const double connect = sample(text, "kscprobe_probe_budget{lane=\"connect\"}");
  const double quiet = sample(text, "kscprobe_probe_budget{lane=\"quiet\"}");
  EXPECT_GE(connect, 1);
  EXPECT_LT(connect, 256);
  EXPECT_GE(quiet, 1);
  EXPECT_LE(connect + quiet, 48 - 16);
  // Datagram probes share a few sockets: their budget is not a descriptor budget.
  EXPECT_EQ(sample(text, "kscprobe_probe_budget{lane=\"datagram\"}"), 50000);
  // Every kind of local error is exported from the start, at 0, so that increase() sees the
  // first one; none is active.
  for (const char* kind : {"fd_limit", "port_range", "buffers", "memory", "icmp_permission"}) {
    EXPECT_EQ(sample(text, std::string("kscprobe_local_errors_total{kind=\"") + kind + "\"}"), 0)
        << kind;
  }
  EXPECT_EQ(sample(text, "kscprobe_local_errors_active"), 0);
  app.stop();
  io.run_for(std::chrono::seconds(2));
}

TEST(AppLimits, AFittingPlanKeepsItsBudgets) {
  boost::asio::io_context io;
  AppOptions options;
  options.config_text = config_of(4);
  options.listen_address = "127.0.0.1:0";
  options.open_file_limit = 65536;
  App app(io, options);
  ASSERT_TRUE(app.start());
  const std::string text = app.render_metrics();
  EXPECT_EQ(sample(text, "kscprobe_probe_budget_clamped"), 0);
  EXPECT_EQ(sample(text, "kscprobe_probe_budget{lane=\"connect\"}"), 256);
  app.stop();
  io.run_for(std::chrono::seconds(2));
}
