#pragma once
#include "collectors/probe_resources.hpp"

namespace kscprobe {

/// The options of the daemon's ProbeResources (App and --once): the log lines for the probers'
/// troubles. A probe that ended in an exception is logged as an error with the exception's
/// text; with `warn_without_icmp`, an address family without an ICMP socket is logged as a
/// warning once (--once leaves that to its table).
ProbeResources::Options logged_probe_options(bool warn_without_icmp);

}  // namespace kscprobe
