// The diagnosis of an agent that stopped connecting to KSC, from its checks' last probes
// (daemon/exposition/agent_diagnosis.hpp): one row per case, each diagnosis reached, and the
// staleness that decides whether a device is diagnosed at all.
#include "daemon/exposition/agent_diagnosis.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kscprobe::exposition {
namespace {

// One check's last probe, in a row of the table below.
CheckEvidence not_probed(Transport t, bool agent_port) {
  CheckEvidence e;
  e.transport = t;
  e.agent_port = agent_port;
  return e;
}
CheckEvidence ok(Transport t, bool agent_port, bool udp_reply = false) {
  CheckEvidence e = not_probed(t, agent_port);
  e.outcome = Outcome::up;
  e.udp_reply = udp_reply;
  return e;
}
CheckEvidence failed(Transport t, bool agent_port, Reason r) {
  CheckEvidence e = not_probed(t, agent_port);
  e.outcome = Outcome::down;
  e.reason = r;
  return e;
}

// The agent's own ports (signal and multicast UDP, a DP's gateway TLS), ICMP echo, and an extra
// TCP check of the administrator's (not an agent port).
const CheckEvidence kSignalSilent = ok(Transport::udp, true);
const CheckEvidence kSignalReplies = ok(Transport::udp, true, true);
const CheckEvidence kSignalRefused = failed(Transport::udp, true, Reason::refused);
const CheckEvidence kSignalUnreachable = failed(Transport::udp, true, Reason::unreachable);
const CheckEvidence kMulticastSilent = ok(Transport::udp, true);
const CheckEvidence kMulticastRefused = failed(Transport::udp, true, Reason::refused);
const CheckEvidence kGatewayRefused = failed(Transport::tls, true, Reason::refused);
const CheckEvidence kGatewayUp = ok(Transport::tls, true);
const CheckEvidence kGatewayTimeout = failed(Transport::tls, true, Reason::timeout);
const CheckEvidence kGatewayBadTls = failed(Transport::tls, true, Reason::tls);
const CheckEvidence kEchoReply = ok(Transport::icmp, false);
const CheckEvidence kEchoTimeout = failed(Transport::icmp, false, Reason::timeout);
const CheckEvidence kEchoUnreachable = failed(Transport::icmp, false, Reason::unreachable);
const CheckEvidence kEchoNotYet = not_probed(Transport::icmp, false);
const CheckEvidence kRdpUp = ok(Transport::tcp, false);
const CheckEvidence kRdpRefused = failed(Transport::tcp, false, Reason::refused);
const CheckEvidence kRdpTimeout = failed(Transport::tcp, false, Reason::timeout);
const CheckEvidence kNoName = failed(Transport::tcp, false, Reason::resolve);

struct Case {
  const char* what;
  std::vector<CheckEvidence> checks;
  Diagnosis want;
};

const Case kCases[] = {
    // agent_stopped: the device's stack refuses the agent's ports.
    {"both agent UDP ports refused", {kSignalRefused, kMulticastRefused}, Diagnosis::agent_stopped},
    {"one refused, one silent", {kSignalRefused, kMulticastSilent}, Diagnosis::agent_stopped},
    {"refused while ICMP is filtered", {kEchoTimeout, kSignalRefused}, Diagnosis::agent_stopped},
    {"refused, ICMP answers", {kEchoReply, kSignalRefused}, Diagnosis::agent_stopped},
    {"a DP's gateway refused, its UDP silent",
     {kGatewayRefused, kSignalSilent, kMulticastSilent},
     Diagnosis::agent_stopped},
    {"refused, another agent port times out",
     {kGatewayTimeout, kSignalRefused},
     Diagnosis::agent_stopped},
    // agent_cannot_reach_server: the device answers, the agent may even listen.
    {"ICMP answers, agent UDP silent",
     {kEchoReply, kSignalSilent, kMulticastSilent},
     Diagnosis::agent_cannot_reach_server},
    {"the signal port replies",
     {kSignalReplies, kMulticastSilent},
     Diagnosis::agent_cannot_reach_server},
    {"an extra TCP check connects", {kRdpUp, kSignalSilent}, Diagnosis::agent_cannot_reach_server},
    {"an extra TCP check is refused",
     {kRdpRefused, kSignalSilent},
     Diagnosis::agent_cannot_reach_server},
    {"a DP's gateway accepts TLS",
     {kGatewayUp, kSignalSilent},
     Diagnosis::agent_cannot_reach_server},
    {"a DP's gateway answers with bad TLS",
     {kGatewayBadTls, kSignalSilent},
     Diagnosis::agent_cannot_reach_server},
    {"ICMP answers though TCP times out",
     {kEchoReply, kRdpTimeout, kSignalSilent},
     Diagnosis::agent_cannot_reach_server},
    // device_offline: something timed out or was unreachable, nothing answered.
    {"ICMP times out, agent UDP silent",
     {kEchoTimeout, kSignalSilent, kMulticastSilent},
     Diagnosis::device_offline},
    {"ICMP unreachable", {kEchoUnreachable, kSignalSilent}, Diagnosis::device_offline},
    {"an extra TCP check times out", {kRdpTimeout, kSignalSilent}, Diagnosis::device_offline},
    {"a DP's gateway times out", {kGatewayTimeout, kSignalSilent}, Diagnosis::device_offline},
    {"a router says the UDP port's host is unreachable",
     {kSignalUnreachable},
     Diagnosis::device_offline},
    // unknown: not probed yet, or nothing to go on.
    {"no checks", {}, Diagnosis::unknown},
    {"nothing probed yet", {not_probed(Transport::udp, true), kEchoNotYet}, Diagnosis::unknown},
    {"only UDP silence (a listening agent is silent too)",
     {kSignalSilent, kMulticastSilent},
     Diagnosis::unknown},
    {"UDP silence, ICMP not probed yet", {kSignalSilent, kEchoNotYet}, Diagnosis::unknown},
    {"the name does not resolve", {kNoName, kSignalSilent}, Diagnosis::unknown},
    {"an agent port refused while another answers",
     {kSignalRefused, kGatewayUp},
     Diagnosis::unknown},
};

TEST(AgentDiagnosis, EachCaseOfTheTable) {
  for (const Case& c : kCases)
    EXPECT_EQ(to_string(diagnose(c.checks)), to_string(c.want)) << c.what;
}

TEST(AgentDiagnosis, TheOrderOfTheChecksDoesNotMatter) {
  for (const Case& c : kCases) {
    std::vector<CheckEvidence> reversed(c.checks.rbegin(), c.checks.rend());
    EXPECT_EQ(to_string(diagnose(reversed)), to_string(c.want)) << c.what;
  }
}

TEST(AgentDiagnosis, NamesOfTheDiagnoses) {
  EXPECT_EQ(to_string(Diagnosis::agent_stopped), "agent_stopped");
  EXPECT_EQ(to_string(Diagnosis::agent_cannot_reach_server), "agent_cannot_reach_server");
  EXPECT_EQ(to_string(Diagnosis::device_offline), "device_offline");
  EXPECT_EQ(to_string(Diagnosis::unknown), "unknown");
}

TEST(AgentDiagnosis, AgentPortsAreKlnagentsByTheCatalog) {
  EXPECT_TRUE(is_agent_port(Role::agent, "signal_udp"));
  EXPECT_TRUE(is_agent_port(Role::agent, "multicast_udp"));
  EXPECT_TRUE(is_agent_port(Role::distribution_point, "signal_udp"));
  EXPECT_TRUE(is_agent_port(Role::distribution_point, "gateway_tls"));
  EXPECT_FALSE(is_agent_port(Role::distribution_point, "ksn_proxy_tcp"));  // ksnproxy
  EXPECT_FALSE(is_agent_port(Role::agent, "icmp_echo"));
  EXPECT_FALSE(is_agent_port(Role::agent, "rdp"));  // an extra check
  EXPECT_FALSE(is_agent_port(Role::server, "signal_udp"));
}

TEST(AgentDiagnosis, StaleWhenTheLastConnectionIsOlderThanStaleAfter) {
  ksc::AgentSection section;
  section.name = "ksc01";
  section.stale_after = std::chrono::hours(2);
  ksc::AgentView agent;
  agent.target = "PC-1";
  const double now = 1'800'000'000;
  agent.last_agent_connected = static_cast<std::int64_t>(now) - 7200;
  EXPECT_FALSE(agent_is_stale(agent, section, now));  // exactly stale_after: not yet
  agent.last_agent_connected = static_cast<std::int64_t>(now) - 7201;
  EXPECT_TRUE(agent_is_stale(agent, section, now));
  agent.last_agent_connected = static_cast<std::int64_t>(now) - 60;
  EXPECT_FALSE(agent_is_stale(agent, section, now));
  agent.last_agent_connected.reset();  // never connected
  EXPECT_TRUE(agent_is_stale(agent, section, now));
  // The section's own discovery is stale: its timestamps are old news.
  section.stale = true;
  EXPECT_FALSE(agent_is_stale(agent, section, now));
}

TEST(AgentDiagnosis, SectionFindsAgentsByTargetName) {
  ksc::AgentSection section;
  EXPECT_EQ(section.find("PC-1"), nullptr);  // no list yet
  auto list = std::make_shared<std::vector<ksc::AgentView>>();
  for (const char* name : {"DP-1", "PC-1", "PC-2"}) {
    ksc::AgentView v;
    v.target = name;
    list->push_back(v);
  }
  section.agents = list;
  ASSERT_NE(section.find("PC-1"), nullptr);
  EXPECT_EQ(section.find("PC-1")->target, "PC-1");
  EXPECT_EQ(section.find("PC-3"), nullptr);
  EXPECT_EQ(section.find("PC"), nullptr);
}

}  // namespace
}  // namespace kscprobe::exposition
