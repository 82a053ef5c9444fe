#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
inline constexpr int kReasonCount = 9;
std::string_view to_string(Reason r);

/// Probe phases, as in `kscprobe_probe_phase_seconds{phase=...}`.
enum class Phase : std::uint8_t { resolve, connect, tls, request };
inline constexpr int kPhaseCount = 4;
std::string_view to_string(Phase p);

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

  void set_phase(Phase p, double seconds) { phases[static_cast<int>(p)] = seconds; }
  double phase(Phase p) const { return phases[static_cast<int>(p)]; }
  static ProbeResult failure(Reason r, std::string why) {
    ProbeResult res;
    res.reason = r;
    res.detail = std::move(why);
    return res;
  }
};

}  // namespace kscprobe
