#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "platform/enum_table.hpp"

namespace kscprobe {

/// Why a probe failed. A fixed set, so dashboards can rely on it.
enum class Reason : std::uint8_t {
  none,         // success
  resolve,      // the name did not resolve
  refused,      // RST, or ICMP port unreachable (TCP and UDP)
  timeout,      // no answer before the deadline (dropped, or the peer stalled)
  unreachable,  // no route, host or network unreachable, administratively prohibited
  reset,        // the peer reset an established connection
  tls,          // handshake failed, or verification / pin failed
  http_status,  // the HTTP status is not in the accepted list
  protocol,     // the peer answered with something that is not the expected protocol
};
/// The `reason` label's values.
inline constexpr EnumName<Reason> kReasonRows[] = {{Reason::none, "none"},
                                                   {Reason::resolve, "resolve"},
                                                   {Reason::refused, "refused"},
                                                   {Reason::timeout, "timeout"},
                                                   {Reason::unreachable, "unreachable"},
                                                   {Reason::reset, "reset"},
                                                   {Reason::tls, "tls"},
                                                   {Reason::http_status, "http_status"},
                                                   {Reason::protocol, "protocol"}};
inline constexpr EnumTable kReasons{kReasonRows};
inline constexpr int kReasonCount = static_cast<int>(kReasons.size());
inline std::string_view to_string(Reason r) { return kReasons.name(r); }

/// A probe that failed on the probing host itself, before it could say anything about the
/// target: such a result is no verdict on the target (ResultTable::record ignores it) and is
/// counted as `kscprobe_local_errors_total{kind}` instead.
enum class LocalFault : std::uint8_t {
  none,
  fd_limit,         // EMFILE, ENFILE: out of file descriptors
  port_range,       // EADDRNOTAVAIL on connect or bind: out of local ports
  buffers,          // ENOBUFS: out of socket buffers
  memory,           // ENOMEM: out of kernel or process memory
  icmp_permission,  // no ICMP socket: no CAP_NET_RAW and outside net.ipv4.ping_group_range
  resolver_queue,   // the name resolver's queue is full: no query was sent for the name
};
/// The `kind` label's values.
inline constexpr EnumName<LocalFault> kLocalFaultRows[] = {
    {LocalFault::none, "none"},
    {LocalFault::fd_limit, "fd_limit"},
    {LocalFault::port_range, "port_range"},
    {LocalFault::buffers, "buffers"},
    {LocalFault::memory, "memory"},
    {LocalFault::icmp_permission, "icmp_permission"},
    {LocalFault::resolver_queue, "resolver_queue"}};
inline constexpr EnumTable kLocalFaults{kLocalFaultRows};
inline constexpr int kLocalFaultCount = static_cast<int>(kLocalFaults.size());
inline std::string_view to_string(LocalFault f) { return kLocalFaults.name(f); }
/// What to do about it, for the log.
std::string_view remedy(LocalFault f);

/// Probe phases, as in `kscprobe_probe_phase_seconds{phase=...}`.
enum class Phase : std::uint8_t { resolve, connect, tls, request };
inline constexpr EnumName<Phase> kPhaseRows[] = {{Phase::resolve, "resolve"},
                                                 {Phase::connect, "connect"},
                                                 {Phase::tls, "tls"},
                                                 {Phase::request, "request"}};
inline constexpr EnumTable kPhases{kPhaseRows};
inline constexpr int kPhaseCount = static_cast<int>(kPhases.size());
inline std::string_view to_string(Phase p) { return kPhases.name(p); }

/// What a TLS handshake showed about the peer, reported even when verification fails.
struct TlsInfo {
  std::string version;             // "TLSv1.3"
  std::string fingerprint_sha256;  // lowercase hex of the leaf certificate's DER
  std::string subject;             // RFC 2253 form, e.g. "CN=ksc01"
  std::int64_t not_after = 0;      // unix seconds
  bool verified = false;           // chain (ca_file) and pin checks passed, if configured
  std::string verify_error;        // why verification failed
  bool resumed = false;            // a resumed session: the above are from the last full handshake
};

/// The outcome of one probe. Probers fill it; they never touch metrics.
struct ProbeResult {
  bool success = false;
  Reason reason = Reason::none;
  std::string detail;   // human-readable: "connection refused", "certificate expired", ...
  double duration = 0;  // seconds, whole probe
  std::array<double, kPhaseCount> phases{-1, -1, -1, -1};  // seconds; < 0: phase not reached
  std::optional<TlsInfo> tls;
  int http_status = 0;     // http(s): status code, 0 if none
  bool udp_reply = false;  // udp: a datagram came back (port confirmed open)
  /// Not none: the probe failed on this host (reason stays none); no verdict on the target.
  LocalFault local = LocalFault::none;

  void set_phase(Phase p, double seconds) { phases[static_cast<int>(p)] = seconds; }
  double phase(Phase p) const { return phases[static_cast<int>(p)]; }
  static ProbeResult failure(Reason r, std::string why) {
    ProbeResult res;
    res.reason = r;
    res.detail = std::move(why);
    return res;
  }
  static ProbeResult local_fault(LocalFault f, std::string why) {
    ProbeResult res;
    res.local = f;
    res.detail = std::move(why);
    return res;
  }
};

}  // namespace kscprobe
