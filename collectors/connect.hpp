#pragma once
// Resolve and connect steps shared by the probers (defined in tcp_prober.cpp).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <optional>

#include "collectors/deadline.hpp"
#include "collectors/name_resolver.hpp"

namespace kscprobe::detail {

// Resolves run.spec.address through run.env.resolver (the answer every check of the name shares),
// without a lookup for IP literals, and records the resolve phase.
// Only the first address is returned: a probe measures one path, and trying the next address
// after a failure would hide which path is broken and stretch the probe past one timeout.
// On failure run.result holds the reason and nullopt is returned.
boost::asio::awaitable<std::optional<boost::asio::ip::address>> resolve_address(ProbeRun& run);

// What resolve_address makes of the resolver's answer `found` to a lookup of run.spec.address
// begun at run.phase_start (phase resolve): the first address, or nullopt with run.result
// holding the reason (a deadline passed, a failure, or kscprobe's own fault).
std::optional<boost::asio::ip::address> conclude_lookup(ProbeRun& run, const LookupResult& found);

// resolve_address raced against the probe's deadline, for probers that have no socket yet for
// the deadline to close (datagram probes): an IP literal at once, a name within the deadline.
// Returns nullopt on failure, with `*outcome` to pass to finish(): `finished` when run.result
// holds the reason, else `deadline` or `cancelled`.
boost::asio::awaitable<std::optional<boost::asio::ip::address>> resolve_within_deadline(
    ProbeRun& run, RaceOutcome* outcome);

// Resolves, then connects `socket` to run.spec.port of the first address, recording the resolve
// and connect phases. On failure run.result holds the reason and false is returned.
boost::asio::awaitable<bool> resolve_and_connect(ProbeRun& run,
                                                 boost::asio::ip::tcp::socket& socket);

}  // namespace kscprobe::detail
