#include "daemon/probe_setup.hpp"

#include <string>

#include "daemon/logging.hpp"

namespace kscprobe {

ProbeResources::Options logged_probe_options(bool warn_without_icmp) {
  ProbeResources::Options options;
  if (warn_without_icmp) {
    options.on_icmp_unavailable = [](const std::string& why) {
      log::warn("ICMP echo checks cannot run", {{"error", why}});
    };
  }
  options.on_internal_error = [](const CheckSpec& spec, const std::string& what) {
    log::error("probe ended in an internal error",
               {{"check", spec.check},
                {"address", spec.address},
                {"port", std::to_string(spec.port)},
                {"transport", std::string(to_string(spec.transport))},
                {"error", what}});
  };
  return options;
}

}  // namespace kscprobe
