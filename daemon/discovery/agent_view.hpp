#pragma once
// The server's side of each discovered agent: what KSC last said of the device (when its Network
// Agent last connected, when the device was last seen on the network, whether the agent runs),
// kept apart from the targets. A target is what to probe and changes rarely; these timestamps move
// at every refresh and must not make the daemon compose its plan again. The exposition joins them
// with the probes' results by target name (daemon/exposition/agent_diagnosis.hpp). No I/O here.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kscprobe::ksc {

/// One discovered target as KSC sees it.
struct AgentView {
  std::string target;                                // the target's name (to_targets)
  std::optional<std::int64_t> last_agent_connected;  // KLHST_WKS_LAST_NAGENT_CONNECTED, unix s
  std::optional<std::int64_t> last_visible;          // KLHST_WKS_LAST_VISIBLE, unix seconds
  bool agent_running = false;                        // KLHST_WKS_STATUS bit 0x8
};

/// The views of one `[[ksc]]` section's last successful discovery.
struct AgentSection {
  std::string name;  // the section's name: the ksc_server label of its targets
  std::chrono::milliseconds stale_after{0};
  // The last successful discovery is older than stale_after: its timestamps describe the past,
  // and an agent that connected since would look stale.
  bool stale = false;
  // Sorted by target name, unique names; shared (a snapshot costs no copy of the list).
  std::shared_ptr<const std::vector<AgentView>> agents;

  /// The view of `target`, or null.
  const AgentView* find(std::string_view target) const {
    if (!agents) return nullptr;
    auto it =
        std::lower_bound(agents->begin(), agents->end(), target,
                         [](const AgentView& a, std::string_view name) { return a.target < name; });
    return it != agents->end() && it->target == target ? &*it : nullptr;
  }
};

}  // namespace kscprobe::ksc
