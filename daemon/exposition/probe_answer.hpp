#pragma once
// The body of a /probe answer (daemon/web/probe_endpoint): blackbox_exporter's families, one
// series per check (label `check`), each family written whole and left out without samples.
#include <string>
#include <vector>

#include "collectors/probe_result.hpp"
#include "config/plan.hpp"

namespace kscprobe::exposition {

/// Appends to `body` the families of `results`, the result of `checks[i]` at `results[i]`.
void write_probe_answer(const std::vector<CheckSpec>& checks,
                        const std::vector<ProbeResult>& results, std::string& body);

}  // namespace kscprobe::exposition
