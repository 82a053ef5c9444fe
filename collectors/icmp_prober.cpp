#include "collectors/icmp_prober.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <optional>
#include <random>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/deadline.hpp"

namespace kscprobe {

namespace asio = boost::asio;

std::string icmp_error_text(bool v6, std::uint8_t type, std::uint8_t code) {
  static constexpr std::string_view kUnreachable4[] = {
      "network unreachable",
      "host unreachable",
      "protocol unreachable",
      "port unreachable",
      "fragmentation needed",
      "source route failed",
      "destination network unknown",
      "destination host unknown",
      "source host isolated",
      "network administratively prohibited",
      "host administratively prohibited",
      "network unreachable for TOS",
      "host unreachable for TOS",
      "communication administratively prohibited",
      "host precedence violation",
      "precedence cutoff in effect",
  };
  static constexpr std::string_view kUnreachable6[] = {
      "no route to destination",
      "communication administratively prohibited",
      "beyond scope of source address",
      "address unreachable",
      "port unreachable",
      "source address failed ingress/egress policy",
      "reject route to destination",
  };
  if (!v6) {
    if (type == 3 && code < std::size(kUnreachable4)) return std::string(kUnreachable4[code]);
    if (type == 11) {
      return code == 0 ? "time to live exceeded in transit" : "fragment reassembly time exceeded";
    }
    if (type == 12) return "parameter problem";
  } else {
    if (type == 1 && code < std::size(kUnreachable6)) return std::string(kUnreachable6[code]);
    if (type == 2) return "packet too big";
    if (type == 3) {
      return code == 0 ? "hop limit exceeded in transit" : "fragment reassembly time exceeded";
    }
    if (type == 4) return "parameter problem";
  }
  return "ICMP" + std::string(v6 ? "v6" : "") + " error type " + std::to_string(type) + " code " +
         std::to_string(code);
}

// ---------------------------------------------------------------------------------------------
// The prober

boost::asio::awaitable<ProbeResult> probe_icmp(const CheckSpec& spec, ProbeEnv& env) {
  using namespace detail;
  ProbeRun run(spec, env);
  if (cancelled(co_await asio::this_coro::cancellation_state)) {
    co_return finish(run, RaceOutcome::cancelled);
  }
  RaceOutcome resolved;
  auto address = co_await resolve_within_deadline(run, &resolved);
  if (!address) co_return finish(run, resolved);
  run.begin(Phase::request);
  if (env.icmp == nullptr) {
    run.fail_locally(LocalFault::icmp_permission, std::string(kNoIcmpSocket));
    co_return finish(run, RaceOutcome::finished);
  }
  DatagramOutcome o =
      co_await env.icmp->async_echo(*address, spec.timeout, run.deadline, asio::use_awaitable);
  using Kind = DatagramOutcome::Kind;
  switch (o.kind) {
    case Kind::reply:
      run.result.set_phase(Phase::request, seconds_between(o.sent_at, o.done_at));
      run.succeed("echo reply");
      break;
    case Kind::error:
      if (o.sent) {
        std::string detail = icmp_error_text(address->is_v6() && !address->to_v6().is_v4_mapped(),
                                             o.icmp_type, o.icmp_code);
        if (!o.offender.is_unspecified()) detail += " (ICMP from " + o.offender.to_string() + ")";
        run.fail(Reason::unreachable, std::move(detail));
      } else {
        // Refused by the routing table or a local firewall before anything was sent, or the
        // host's own shortage (ENOBUFS, ENOMEM: a local fault).
        MappedError mapped = map_error(
            boost::system::error_code(o.error, boost::system::system_category()), Phase::connect);
        if (mapped.local == LocalFault::none) mapped.reason = Reason::unreachable;
        run.fail(std::move(mapped));
      }
      break;
    case Kind::silence:
      run.fail(Reason::timeout, "no echo reply within " + format_duration(spec.timeout));
      break;
    case Kind::unsent:
      co_return finish(run, RaceOutcome::deadline);
    case Kind::cancelled:
      co_return finish(run, RaceOutcome::cancelled);
    case Kind::no_socket: {
      // This host may not open an ICMP socket (EPERM, EACCES), or is out of descriptors or
      // memory: nothing was sent, so nothing is said of the target.
      const LocalFault local =
          local_fault_of(boost::system::error_code(o.error, boost::system::system_category()));
      run.fail_locally(local != LocalFault::none ? local : LocalFault::icmp_permission,
                       std::string(kNoIcmpSocket) + " (" + std::strerror(o.error) + ")");
      break;
    }
  }
  co_return finish(run, RaceOutcome::finished);
}

}  // namespace kscprobe
