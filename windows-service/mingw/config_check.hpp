#pragma once
// `kscprobe --config.check` for the reduced builds of scripts/test.d/40-windows.sh: the same
// loader and plan expansion as the daemon, built once for Windows (reduced_main.cpp, run under
// wine) and once for Linux (config_check_main.cpp), so the test can compare their output.
#include <ostream>
#include <string>

namespace kscprobe {

/// Prints every error of `file` as file:line:column (and returns 1), or a summary line
/// "FILE: valid, N targets, M checks" (and returns 0), like `kscprobe --config.check`.
int config_check(const std::string& file, std::ostream& out);

}  // namespace kscprobe
