#pragma once
// What the fake KSC server answers to HostGroup.GetInstanceStatistics by default: the
// attributes a real Administration Server returns, under their real names and with the wrappers
// it puts on them (see the .cpp for the source of each shape).
#include <string>

namespace kscprobe::sim {

/// The PxgRetVal of GetInstanceStatistics, as JSON object text.
std::string sample_instance_statistics_json();

}  // namespace kscprobe::sim
