#include "daemon/exposition/agent_diagnosis.hpp"

#include <chrono>

namespace kscprobe::exposition {

std::string_view to_string(Diagnosis d) {
  switch (d) {
    case Diagnosis::agent_stopped:
      return "agent_stopped";
    case Diagnosis::agent_cannot_reach_server:
      return "agent_cannot_reach_server";
    case Diagnosis::device_offline:
      return "device_offline";
    case Diagnosis::unknown:
      break;
  }
  return "unknown";
}

bool is_agent_port(Role role, std::string_view check) {
  for (const CatalogEntry& e : catalog())
    if (e.role == role && e.id == check) return e.process == "klnagent";
  return false;
}

Diagnosis diagnose(std::span<const CheckEvidence> checks) {
  bool probed = false;
  bool agent_refused = false;
  bool agent_answers = false;
  bool answers = false;
  bool silent = false;
  for (const CheckEvidence& c : checks) {
    if (c.outcome == Outcome::pending) continue;
    probed = true;
    if (c.outcome == Outcome::up) {
      // UDP success without a reply is silence: open, filtered or nobody there, alike.
      const bool answered = c.transport != Transport::udp || c.udp_reply;
      answers |= answered;
      agent_answers |= answered && c.agent_port;
      continue;
    }
    switch (c.reason) {
      case Reason::refused:
        if (c.agent_port) {
          agent_refused = true;
        } else {
          answers = true;
        }
        break;
      case Reason::timeout:
      case Reason::unreachable:
        silent = true;
        break;
      case Reason::reset:
      case Reason::tls:
      case Reason::http_status:
      case Reason::protocol:
        // Something accepted the connection and spoke.
        answers = true;
        agent_answers |= c.agent_port;
        break;
      case Reason::resolve:
      case Reason::none:
        break;
    }
  }
  if (!probed) return Diagnosis::unknown;
  if (agent_refused) return agent_answers ? Diagnosis::unknown : Diagnosis::agent_stopped;
  if (answers) return Diagnosis::agent_cannot_reach_server;
  if (silent) return Diagnosis::device_offline;
  return Diagnosis::unknown;
}

bool agent_is_stale(const ksc::AgentView& agent, const ksc::AgentSection& section, double now) {
  if (section.stale) return false;
  if (!agent.last_agent_connected) return true;
  const double age = now - static_cast<double>(*agent.last_agent_connected);
  return age > std::chrono::duration<double>(section.stale_after).count();
}

}  // namespace kscprobe::exposition
