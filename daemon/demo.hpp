#pragma once
// The demo estate behind --demo. kscprobe is built with demo_none.cpp (no simulator in the
// daemon that gets installed); kscprobe-demo with demo_estate.cpp, which starts the simulator.
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace kscprobe::demo {

/// A running demo estate; stops when destroyed.
class Estate {
 public:
  virtual ~Estate() = default;
  /// The configuration (TOML) that probes it.
  virtual std::string config_toml() const = 0;
};

/// Whether this executable has a demo estate.
bool available();

/// Starts the demo estate on 127.77.x.x (KSC's ports, or random ones with `ephemeral_ports`).
/// Throws std::exception on failure, e.g. a port already in use.
std::unique_ptr<Estate> start(boost::asio::io_context& io, bool ephemeral_ports);

}  // namespace kscprobe::demo
