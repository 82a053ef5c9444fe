#pragma once
// kscprobe's Windows service: `kscprobe service install|uninstall|start|stop|status|reload|run`.
// main() calls maybe_run() first; it returns nullopt when the command line is not a service
// command. Full builds only (it runs the App); see service_framework.hpp for the generic host.
#include <optional>

namespace kscprobe::winsvc {

std::optional<int> maybe_run(int argc, char** argv);

}  // namespace kscprobe::winsvc
