// UDP where no shared DatagramMux is implemented (not Linux): every probe has a connected socket
// of its own, and start_udp_probe declines, so start_probe runs probe_udp as a coroutine. CMake
// builds this file instead of udp_shared_linux.cpp.
#include "collectors/udp_probe_detail.hpp"
#include "collectors/udp_prober.hpp"

namespace kscprobe {

bool start_udp_probe(const CheckSpec&, ProbeEnv&, boost::asio::cancellation_slot,
                     std::function<void(ProbeResult)>&) {
  return false;
}

boost::asio::awaitable<ProbeResult> probe_udp(const CheckSpec& spec, ProbeEnv& env) {
  return detail::probe_udp_connected(spec, env);
}

}  // namespace kscprobe
