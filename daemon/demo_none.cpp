// The demo estate of the kscprobe executable: none. The simulator is linked only into
// kscprobe-demo and the tests.
#include <stdexcept>

#include "daemon/demo.hpp"

namespace kscprobe::demo {

bool available() { return false; }

std::unique_ptr<Estate> start(boost::asio::io_context&, bool) {
  throw std::runtime_error("this executable has no demo estate: run kscprobe-demo --demo");
}

}  // namespace kscprobe::demo
