// kscprobe-sim: serves the simulated KSC estate until SIGTERM or SIGINT.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include "simulator/estate_simulator.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: kscprobe-sim [--address-prefix 127.77] [--ephemeral-ports]\n"
    "                    [--write-config FILE] [--write-expectations FILE]\n"
    "Serves a simulated Kaspersky Security Center estate on loopback addresses <prefix>.x.y.\n"
    "  --address-prefix P        first two octets of the listener addresses (default 127.77)\n"
    "  --ephemeral-ports         bind free ports instead of KSC's defaults (written to the "
    "config)\n"
    "  --write-config FILE       write the kscprobe configuration of the estate\n"
    "  --write-expectations FILE write what a correct prober reports, as TSV\n"
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
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "kscprobe-sim: unknown argument " << arg << "\n" << kUsage;
      return 2;
    }
  }

  try {
    boost::asio::io_context io;
    kscprobe::sim::EstateSimulator sim(io, options);
    sim.start();
    if (!config_path.empty() && !write_file(config_path, sim.config_toml())) {
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
