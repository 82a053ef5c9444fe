#pragma once
#include <boost/asio/io_context.hpp>
#include <iosfwd>
#include <string>

#include "collectors/probe_result.hpp"
#include "config/plan.hpp"

namespace kscprobe {

/// Probes every check of `plan` once (within its in-flight budget), prints a table to `out`
/// and returns 0 if every check passed, 1 otherwise. Runs `io` until all probes are done.
int run_once(boost::asio::io_context& io, const Plan& plan, std::ostream& out);

/// The short word shown in the RESULT column ("ok", "open|filtered", "FAIL").
std::string result_word(const CheckSpec& spec, const ProbeResult& r);
/// The REASON column: "-" for a success, "local:<kind>" for a probe that failed on this host
/// (LocalFault), else the reason.
std::string reason_word(const ProbeResult& r);

/// Prints the built-in catalog as a table.
void print_catalog(std::ostream& out);

}  // namespace kscprobe
