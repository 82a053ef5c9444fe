// kscprobe-sim: serves the simulated KSC estate until SIGTERM or SIGINT.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "simulator/estate_simulator.hpp"
#include "simulator/ksc_openapi.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: kscprobe-sim [--address-prefix 127.77] [--ephemeral-ports]\n"
    "                    [--write-config FILE] [--write-expectations FILE]\n"
    "                    [--ksc-devices N]\n"
    "Serves a simulated Kaspersky Security Center estate on loopback addresses <prefix>.x.y.\n"
    "  --address-prefix P        first two octets of the listener addresses (default 127.77)\n"
    "  --ephemeral-ports         bind free ports instead of KSC's defaults (written to the "
    "config)\n"
    "  --write-config FILE       write the kscprobe configuration of the estate\n"
    "  --write-expectations FILE write what a correct prober reports, as TSV\n"
    "  --ksc-devices N           also serve a fake KSC OpenAPI on <prefix>.0.1 that lists N\n"
    "                            managed devices on <prefix>.6.x (no agent listens there), and\n"
    "                            add its [[ksc]] section (password and CA files next to the\n"
    "                            config) to the configuration; needs --write-config\n"
    "Prints \"kscprobe-sim ready\" once everything is bound and the files are written.\n";

// Writes through a temporary name so a reader polling for the file never sees half of it.
bool write_file(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << content;
    out.close();
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);  // replaces an existing file on Windows too
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  kscprobe::sim::EstateOptions options;
  std::string config_path;
  std::string expectations_path;
  std::string ksc_devices;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::cerr << "kscprobe-sim: " << arg << " needs a value\n" << kUsage;
        std::exit(2);
      }
      out = argv[++i];
    };
    if (arg == "--address-prefix") {
      value(options.address_prefix);
    } else if (arg == "--ephemeral-ports") {
      options.ephemeral_ports = true;
    } else if (arg == "--write-config") {
      value(config_path);
    } else if (arg == "--write-expectations") {
      value(expectations_path);
    } else if (arg == "--ksc-devices") {
      value(ksc_devices);
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "kscprobe-sim: unknown argument " << arg << "\n" << kUsage;
      return 2;
    }
  }

  std::size_t devices = 0;
  if (!ksc_devices.empty()) {
    try {
      devices = std::stoul(ksc_devices);
    } catch (const std::exception&) {
      std::cerr << "kscprobe-sim: --ksc-devices needs a number\n";
      return 2;
    }
    if (config_path.empty()) {
      std::cerr << "kscprobe-sim: --ksc-devices needs --write-config\n";
      return 2;
    }
  }

  try {
    boost::asio::io_context io;
    kscprobe::sim::EstateSimulator sim(io, options);
    sim.start();
    std::string config = sim.config_toml();
    // The fake Administration Server: discovery over TLS with a login and ChunkAccessor pages
    // (KscOpenApiOptions' default chunk size is smaller than the device count asks for).
    std::unique_ptr<kscprobe::sim::KscOpenApiServer> ksc;
    if (devices > 0) {
      namespace fs = std::filesystem;
      const std::string prefix = options.address_prefix;
      kscprobe::sim::KscOpenApiOptions ksc_options;
      ksc_options.address = prefix + ".0.1";
      ksc_options.max_chunk_items = 10;
      ksc = std::make_unique<kscprobe::sim::KscOpenApiServer>(io, ksc_options);
      ksc->start();
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      auto hosts = kscprobe::sim::KscOpenApiServer::generate_hosts(devices, now);
      std::uint32_t base = 0;
      {
        const auto dot = prefix.find('.');
        base = (static_cast<std::uint32_t>(std::stoul(prefix.substr(0, dot))) << 24) |
               (static_cast<std::uint32_t>(std::stoul(prefix.substr(dot + 1))) << 16);
      }
      for (std::size_t i = 0; i < hosts.size(); ++i)
        hosts[i].ipv4 = base | (6u << 8) | static_cast<std::uint32_t>(i % 250 + 1);
      ksc->set_hosts(std::move(hosts));
      const fs::path dir = fs::absolute(fs::path(config_path)).parent_path();
      const fs::path password = dir / "ksc-sim.password", ca = dir / "ksc-sim-ca.pem";
      if (!write_file(password.string(), kscprobe::sim::KscOpenApiOptions{}.password + "\n") ||
          !write_file(ca.string(), ksc->ca().cert_pem)) {
        std::cerr << "kscprobe-sim: cannot write the OpenAPI's password or CA file\n";
        return 1;
      }
      // Readable by its owner only, as kscprobe asks of a password file.
      std::error_code ec;
      fs::permissions(password, fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace, ec);
      // Relative to the configuration file, so the same file serves a Windows build that reads
      // it through another path.
      config +=
          "\n# The simulated Administration Server's OpenAPI lists more managed devices.\n"
          "[[ksc]]\nname = \"ksc-sim\"\nurl = \"" +
          ksc->url() + "\"\nuser = \"" + kscprobe::sim::KscOpenApiOptions{}.user +
          "\"\npassword_file = \"ksc-sim.password\"\nca_file = \"ksc-sim-ca.pem\"\n"
          "refresh = \"1m\"\n";
    }
    if (!config_path.empty() && !write_file(config_path, config)) {
      std::cerr << "kscprobe-sim: cannot write " << config_path << "\n";
      return 1;
    }
    if (!expectations_path.empty() &&
        !write_file(expectations_path, kscprobe::sim::expectations_tsv(sim.expectations()))) {
      std::cerr << "kscprobe-sim: cannot write " << expectations_path << "\n";
      return 1;
    }
    for (const auto& c : sim.served_checks()) {
      std::cerr << c.target << " " << c.check << " " << kscprobe::to_string(c.transport) << " "
                << c.address << ":" << c.port << "\n";
    }
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      sim.stop();
      io.stop();
    });
    std::cout << "kscprobe-sim ready" << std::endl;
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "kscprobe-sim: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
