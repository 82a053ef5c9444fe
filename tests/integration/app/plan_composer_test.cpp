// Composing and installing a plan (PlanComposer::apply): a refused configuration keeps the
// running plan, the start stops before the plan runs when its gate fails, and a change of the
// target files composes the running configuration again, not the file as it is now.
#include "daemon/plan_composer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "collectors/probe_resources.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "daemon/web/http_server.hpp"
#include "daemon/web/probe_endpoint.hpp"
#include "tests/support/files.hpp"

using namespace kscprobe;

namespace {

std::string toml(const std::vector<std::string>& targets, const std::string& head = "") {
  std::string t = head + "[daemon]\ninterval = \"1h\"\n";
  for (std::size_t i = 0; i < targets.size(); ++i)
    t += "[[target]]\nname = \"" + targets[i] + "\"\nrole = \"server\"\naddress = \"127.0.9." +
         std::to_string(i + 1) + "\"\n";
  return t;
}

std::vector<std::string> names(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& t : plan.targets) out.push_back(t.name);
  return out;
}

class PlanComposerTest : public ::testing::Test {
 protected:
  PlanComposer& composer() {
    if (!composer_) {
      PlanComposer::Options o;
      o.sources.file = file;
      o.open_file_limit = 1 << 20;
      composer_.emplace(io, PlanComposer::Targets{http, table, scheduler, probe}, o);
    }
    return *composer_;
  }

  std::string dir = test::temp_dir("plan-composer");
  std::string file = dir + "/k.toml";
  boost::asio::io_context io;
  ProbeResources probes{io.get_executor()};
  ResultTable table;
  Scheduler scheduler{io.get_executor(),
                      [](const CheckSpec&, boost::asio::cancellation_slot, Scheduler::Done) {},
                      [](std::uint32_t, const ProbeResult&) {}};
  HttpServer http{io.get_executor(), [](HttpRequest) -> boost::asio::awaitable<HttpResponse> {
                    co_return HttpResponse{};
                  }};
  ProbeEndpoint probe{io.get_executor(), probes.env()};
  std::optional<PlanComposer> composer_;
};

using Why = PlanComposer::Reason;

}  // namespace

TEST_F(PlanComposerTest, ARefusedConfigurationKeepsTheRunningPlan) {
  test::replace_file(file, toml({"ksc-1", "ksc-2"}));
  ASSERT_TRUE(composer().apply(Why::start));
  const std::shared_ptr<const Plan> running = table.plan_ptr();
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(names(*running), (std::vector<std::string>{"ksc-1", "ksc-2"}));
  EXPECT_TRUE(composer().last_load_ok());
  const double loaded_at = composer().last_load_success_unix();
  EXPECT_GT(loaded_at, 0);

  test::replace_file(file, "[daemon\n");
  std::string errors;
  EXPECT_FALSE(composer().apply(Why::reload, &errors));
  EXPECT_NE(errors.find(file + ":1:"), std::string::npos) << errors;
  EXPECT_EQ(table.plan_ptr(), running);
  EXPECT_FALSE(composer().last_load_ok());
  EXPECT_EQ(composer().last_load_success_unix(), loaded_at);

  // A web configuration whose certificate cannot be read is refused the same way.
  test::replace_file(dir + "/bad.crt", "not a certificate\n");
  test::replace_file(dir + "/bad.key", "not a key\n");
  test::replace_file(
      file, toml({"ksc-3"}, "[web]\ntls_cert_file = \"" + dir + "/bad.crt\"\ntls_key_file = \"" +
                                dir + "/bad.key\"\n"));
  errors.clear();
  EXPECT_FALSE(composer().apply(Why::reload, &errors));
  EXPECT_NE(errors.find("bad."), std::string::npos) << errors;
  EXPECT_EQ(table.plan_ptr(), running);

  test::replace_file(file, toml({"ksc-1", "ksc-3"}));
  ASSERT_TRUE(composer().apply(Why::reload));
  EXPECT_EQ(names(table.plan()), (std::vector<std::string>{"ksc-1", "ksc-3"}));
  EXPECT_TRUE(composer().last_load_ok());
}

TEST_F(PlanComposerTest, AFailedGateStopsTheStartBeforeThePlanRuns) {
  test::replace_file(file, toml({"ksc-1"}));
  bool gate_ran = false;
  EXPECT_FALSE(composer().apply(Why::start, nullptr, [&] {
    gate_ran = true;
    return false;
  }));
  EXPECT_TRUE(gate_ran);
  EXPECT_EQ(table.plan_ptr(), nullptr);
  EXPECT_EQ(scheduler.in_flight(), 0u);
}

TEST_F(PlanComposerTest, ATargetFileChangeComposesTheRunningConfigurationAgain) {
  std::filesystem::create_directory(dir + "/t");
  test::replace_file(dir + "/t/a.yml", "- targets: [127.0.9.50]\n  labels: {role: agent}\n");
  test::replace_file(file, toml({"ksc-1"}, "target_files = [\"t/*.yml\"]\n"));
  ASSERT_TRUE(composer().apply(Why::start));
  EXPECT_EQ(names(table.plan()), (std::vector<std::string>{"ksc-1", "127.0.9.50"}));

  // The file is refused; the target files still change, and join the running configuration.
  test::replace_file(file, toml({"ksc-2"}, "target_files = [\"t/*.yml\"]\nbroken =\n"));
  EXPECT_FALSE(composer().apply(Why::reload));
  test::replace_file(dir + "/t/a.yml", "- targets: [127.0.9.51]\n  labels: {role: agent}\n");
  ASSERT_TRUE(composer().apply(Why::target_files));
  EXPECT_EQ(names(table.plan()), (std::vector<std::string>{"ksc-1", "127.0.9.51"}));
}
