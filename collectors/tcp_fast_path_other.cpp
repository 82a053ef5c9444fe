// The TCP fast path where it is not implemented (not Linux): start_tcp_probe declines, and
// start_probe runs probe_tcp as a coroutine. CMake builds this file instead of
// tcp_fast_path_linux.cpp.
#include "collectors/tcp_prober.hpp"

namespace kscprobe {

bool start_tcp_probe(const CheckSpec&, ProbeEnv&, boost::asio::cancellation_slot,
                     std::function<void(ProbeResult)>&) {
  return false;
}

}  // namespace kscprobe
