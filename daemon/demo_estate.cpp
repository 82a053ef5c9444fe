// The demo estate of kscprobe-demo: the simulator on 127.77.x.x.
#include <boost/asio/io_context.hpp>

#include "daemon/demo.hpp"
#include "simulator/estate_simulator.hpp"

namespace kscprobe::demo {

namespace {

class SimulatedEstate final : public Estate {
 public:
  SimulatedEstate(boost::asio::io_context& io, bool ephemeral_ports)
      : sim_(io,
             sim::EstateOptions{.address_prefix = "127.77", .ephemeral_ports = ephemeral_ports}) {
    sim_.start();
  }
  std::string config_toml() const override { return sim_.config_toml(); }

 private:
  sim::EstateSimulator sim_;
};

}  // namespace

bool available() { return true; }

std::unique_ptr<Estate> start(boost::asio::io_context& io, bool ephemeral_ports) {
  return std::make_unique<SimulatedEstate>(io, ephemeral_ports);
}

}  // namespace kscprobe::demo
