// The host's own limits: local faults over time (LocalFaults) and the budgets fitted to the
// open-file limit (fit_open_files).
#include <gtest/gtest.h>

#include "daemon/runtime/local_faults.hpp"
#include "daemon/runtime/open_files.hpp"
#include "tests/support/plan_builder.hpp"

using namespace kscprobe;

TEST(LocalFaults, EpisodeStartsOnceAndEndsAfterAQuietWindow) {
  LocalFaults f;
  EXPECT_FALSE(f.active(0));
  EXPECT_EQ(f.describe(0), "");
  EXPECT_TRUE(f.note(LocalFault::fd_limit, 10));  // the first: log it
  EXPECT_FALSE(f.note(LocalFault::fd_limit, 11));
  EXPECT_FALSE(f.note(LocalFault::fd_limit, 50));
  EXPECT_TRUE(f.note(LocalFault::port_range, 50));  // another kind has its own episode
  EXPECT_TRUE(f.active(60));
  EXPECT_TRUE(f.active(60, LocalFault::fd_limit));
  EXPECT_FALSE(f.active(60, LocalFault::buffers));
  EXPECT_EQ(f.describe(60), "fd_limit (3 probes), port_range (1 probe)");
  EXPECT_TRUE(f.take_ended(100).empty());  // 50 s since the last of each
  EXPECT_EQ(f.take_ended(111),
            std::vector<LocalFault>({LocalFault::fd_limit, LocalFault::port_range}));
  EXPECT_TRUE(f.take_ended(200).empty());  // said once
  EXPECT_FALSE(f.active(111));
  EXPECT_EQ(f.total(LocalFault::fd_limit), 3u);
  EXPECT_EQ(f.in_episode(LocalFault::fd_limit), 3u);
  // A new episode after the quiet window, counted afresh; the total goes on.
  EXPECT_TRUE(f.note(LocalFault::fd_limit, 300));
  EXPECT_EQ(f.in_episode(LocalFault::fd_limit), 1u);
  EXPECT_EQ(f.total(LocalFault::fd_limit), 4u);
  // none is no fault.
  EXPECT_FALSE(f.note(LocalFault::none, 300));
}

TEST(OpenFiles, AFittingPlanIsLeftAlone) {
  OpenFileDemand d;
  d.connect = 256;
  d.quiet = 64;
  d.web_connections = 512;
  d.probe_requests = 16;
  d.checks_per_request = 10;
  const OpenFileFit fit = fit_open_files(d, 4096);
  EXPECT_FALSE(fit.clamped);
  EXPECT_EQ(fit.connect, 256u);
  EXPECT_EQ(fit.quiet, 64u);
  EXPECT_EQ(fit.web_connections, 512u);
  EXPECT_EQ(fit.probe_requests, 16u);
  // 256 + 64 + 512 + 160 + base, datagram sockets, listener + a tenth of 4096.
  EXPECT_EQ(fit.needed, 992u + kBaseDescriptors + kDatagramDescriptors + 1 + 409);
  // No limit known (Windows): nothing to fit.
  EXPECT_FALSE(fit_open_files(d, 0).clamped);
}

// The case: 400 database targets under `ulimit -n 48`, with the defaults.
TEST(OpenFiles, ALowLimitClampsEveryShareToFit) {
  OpenFileDemand d;
  d.connect = 256;
  d.quiet = 101;
  d.web_connections = 512;
  d.probe_requests = 16;
  d.checks_per_request = 1;
  const OpenFileFit fit = fit_open_files(d, 48);
  EXPECT_TRUE(fit.clamped);
  EXPECT_GE(fit.connect, 1u);
  EXPECT_GE(fit.quiet, 1u);
  EXPECT_GE(fit.web_connections, 4u);
  EXPECT_GE(fit.probe_requests, 1u);
  EXPECT_LT(fit.connect, 16u);
  const unsigned long long used = kBaseDescriptors + kDatagramDescriptors + 1 + fit.connect +
                                  fit.quiet + fit.web_connections + fit.probe_requests;
  EXPECT_LE(used, 48u);
  EXPECT_GT(fit.needed, 48u);
  // The limit to ask for fits the whole demand, with the reserve that limit brings.
  EXPECT_FALSE(fit_open_files(d, fit.recommended).clamped);
  EXPECT_TRUE(fit_open_files(d, fit.recommended - 1).clamped);
  const std::string said = describe_clamp(d, fit);
  EXPECT_NE(said.find("max_in_flight 256->"), std::string::npos) << said;
  EXPECT_NE(said.find("web connections 512->"), std::string::npos) << said;
}

TEST(OpenFiles, DemandCountsOnlyConnectionChecksPerProbeRequest) {
  auto built = test::PlanBuilder()
                   .target("ksc01", Role::server, "10.0.0.1")
                   .check("console_tls", Transport::tls, 13291)
                   .check("agents_tcp", Transport::tcp, 13000)
                   .check("shutdown_udp", Transport::udp, 13000)
                   .target("pc-1", Role::agent, "10.0.0.2")
                   .check("signal_udp", Transport::udp, 15000)
                   .build();
  Plan& plan = *built;
  plan.probe.max_concurrent = 8;
  const OpenFileDemand d = demand_of(plan, SchedulerCore::Budgets{100, 5000, 30}, 512, 2, 1);
  EXPECT_EQ(d.connect, 100u);
  EXPECT_EQ(d.quiet, 30u);
  EXPECT_EQ(d.web_connections, 512u);
  EXPECT_EQ(d.probe_requests, 8u);
  EXPECT_EQ(d.checks_per_request, 2u);
  EXPECT_EQ(d.discovery, 2u);
  EXPECT_EQ(d.outputs, 1u);
}
