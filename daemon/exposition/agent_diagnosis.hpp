#pragma once
// Why a managed device's Network Agent stopped reporting to its Administration Server: the
// server's view (when the agent last connected, ksc::AgentView) joined with what the probes of
// the device's ports found. Pure functions; the renderer (metrics_renderer.cpp) feeds them.
#include <cstdint>
#include <span>
#include <string_view>

#include "collectors/probe_result.hpp"
#include "config/catalog.hpp"
#include "daemon/discovery/agent_view.hpp"
#include "daemon/runtime/outcome.hpp"

namespace kscprobe::exposition {

enum class Diagnosis : std::uint8_t {
  // The device answers, but the agent's own ports are refused: klnagent is not listening.
  agent_stopped,
  // The device answers (or the agent's ports do) yet the agent has not connected: the path from
  // the device to the server or its distribution point is what to look at.
  agent_cannot_reach_server,
  // Nothing answers: ICMP echo, a TCP check or a UDP port timed out or was unreachable, and
  // nothing else answered.
  device_offline,
  // Not probed yet, or no evidence either way (see diagnose()).
  unknown,
};
inline constexpr int kDiagnosisCount = 4;
std::string_view to_string(Diagnosis d);

/// What the last probe of one check of the device found.
struct CheckEvidence {
  Transport transport = Transport::tcp;
  bool agent_port = false;             // a port of klnagent (is_agent_port)
  Outcome outcome = Outcome::pending;  // of its last probe, as /metrics counts it
  bool udp_reply = false;              // UDP: the port answered
  Reason reason = Reason::none;
};

/// Whether check `check` of a target of role `role` is a port Network Agent (klnagent) listens
/// on, by the catalog: the UDP signal and multicast ports 15000 and 15001, and on a distribution
/// point its gateway port 13000 and push port 13295. Extra checks are not.
bool is_agent_port(Role role, std::string_view check);

/**
 * The diagnosis of one device from the last probes of its checks:
 * - no check has a result: unknown (not probed yet);
 * - an agent port was refused (TCP reset, or ICMP port unreachable for UDP) while no agent port
 *   answered: agent_stopped; refused and answering agent ports at once: unknown (ambiguous);
 * - otherwise, something answered: agent_cannot_reach_server. An answer is an ICMP echo reply,
 *   a UDP reply, a TCP, TLS or HTTP connection (even one that then failed its handshake, its
 *   status or its protocol), or a refused port that is not the agent's (the device's own stack
 *   sent the refusal);
 * - otherwise, a check timed out or was unreachable: device_offline;
 * - otherwise (UDP silence, which a listening agent also gives, or names that did not resolve):
 *   unknown.
 */
Diagnosis diagnose(std::span<const CheckEvidence> checks);

/**
 * Whether `agent`'s last connection is older than `section.stale_after` at `now` (unix seconds):
 * an agent that KSC never saw connect counts as stale. Never true when the section's own view is
 * stale (its last successful discovery is older than stale_after): its timestamps are then old
 * news, not the agents' state.
 */
bool agent_is_stale(const ksc::AgentView& agent, const ksc::AgentSection& section, double now);

}  // namespace kscprobe::exposition
