#include "daemon/runtime/local_faults.hpp"

namespace kscprobe {

bool LocalFaults::note(LocalFault kind, double now) {
  const int k = static_cast<int>(kind);
  if (kind == LocalFault::none) return false;
  ++total_[k];
  const bool starts = !open_[k] || now - last_[k] > kWindowSeconds;
  if (starts) episode_[k] = 0;
  ++episode_[k];
  open_[k] = true;
  last_[k] = now;
  return starts;
}

std::vector<LocalFault> LocalFaults::take_ended(double now) {
  std::vector<LocalFault> ended;
  for (int k = 1; k < kLocalFaultCount; ++k) {
    if (open_[k] && now - last_[k] > kWindowSeconds) {
      open_[k] = false;
      ended.push_back(static_cast<LocalFault>(k));
    }
  }
  return ended;
}

bool LocalFaults::active(double now, LocalFault kind) const {
  for (int k = 1; k < kLocalFaultCount; ++k) {
    if (kind != LocalFault::none && k != static_cast<int>(kind)) continue;
    if (open_[k] && now - last_[k] <= kWindowSeconds) return true;
  }
  return false;
}

std::string LocalFaults::describe(double now) const {
  std::string text;
  for (int k = 1; k < kLocalFaultCount; ++k) {
    if (!open_[k] || now - last_[k] > kWindowSeconds) continue;
    if (!text.empty()) text += ", ";
    text += std::string(to_string(static_cast<LocalFault>(k))) + " (" +
            std::to_string(episode_[k]) + (episode_[k] == 1 ? " probe)" : " probes)");
  }
  return text;
}

}  // namespace kscprobe
