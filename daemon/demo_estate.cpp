// The demo estate of kscprobe-demo: the simulator on 127.77.x.x, and a fake KSC OpenAPI on
// 127.77.0.1 that lists twelve more managed devices (127.77.5.x, where no agent listens), which
// the demo configuration discovers through a [[ksc]] section.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "daemon/demo.hpp"
#include "platform/platform.hpp"
#include "simulator/estate_simulator.hpp"
#include "simulator/ksc_openapi.hpp"

namespace kscprobe::demo {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kDiscoveredDevices = 12;

// A folder of its own for the OpenAPI's password and CA files, removed with the estate.
fs::path make_demo_dir() {
  std::random_device random;
  fs::path dir =
      fs::temp_directory_path() / ("kscprobe-demo-" + std::to_string(platform::process_id()) + "-" +
                                   std::to_string(random() % 1000000));
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string toml_path(const fs::path& p) {
  std::string s = p.generic_string();  // forward slashes: no TOML escapes needed on Windows
  return "\"" + s + "\"";
}

class SimulatedEstate final : public Estate {
 public:
  SimulatedEstate(boost::asio::io_context& io, bool ephemeral_ports)
      : sim_(io,
             sim::EstateOptions{.address_prefix = "127.77", .ephemeral_ports = ephemeral_ports}),
        ksc_(io, sim::KscOpenApiOptions{.address = "127.77.0.1"}) {
    sim_.start();
    ksc_.start();
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto hosts = sim::KscOpenApiServer::generate_hosts(kDiscoveredDevices, now);
    for (std::size_t i = 0; i < hosts.size(); ++i)
      hosts[i].ipv4 = (127u << 24) | (77u << 16) | (5u << 8) | static_cast<std::uint32_t>(i + 1);
    ksc_.set_hosts(std::move(hosts));
    dir_ = make_demo_dir();
    write_file(dir_ / "ksc-demo.password", sim::KscOpenApiOptions{}.password + "\n");
    write_file(dir_ / "ksc-demo-ca.pem", ksc_.ca().cert_pem);
  }

  ~SimulatedEstate() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string config_toml() const override {
    return sim_.config_toml() +
           "\n# The demo Administration Server's OpenAPI lists more managed devices.\n"
           "[[ksc]]\nname = \"ksc-demo\"\nurl = \"" +
           ksc_.url() + "\"\nuser = \"" + sim::KscOpenApiOptions{}.user +
           "\"\npassword_file = " + toml_path(dir_ / "ksc-demo.password") +
           "\nca_file = " + toml_path(dir_ / "ksc-demo-ca.pem") +
           "\nrefresh = \"1m\"\nlabels = { site = \"hq\" }\n";
  }

 private:
  sim::EstateSimulator sim_;
  sim::KscOpenApiServer ksc_;
  fs::path dir_;
};

}  // namespace

bool available() { return true; }

std::unique_ptr<Estate> start(boost::asio::io_context& io, bool ephemeral_ports) {
  return std::make_unique<SimulatedEstate>(io, ephemeral_ports);
}

}  // namespace kscprobe::demo
