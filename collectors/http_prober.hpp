#pragma once
#include <boost/asio/awaitable.hpp>

#include "collectors/probe_result.hpp"
#include "collectors/prober.hpp"
#include "config/plan.hpp"

namespace kscprobe {

/// HTTP check: GET spec.http_path with Host, User-Agent "kscprobe/<version>" and
/// Connection: close. Sets result.http_status; fails with Reason::http_status when the status is
/// not in spec.statuses, and with Reason::protocol when spec.expect_metrics and the body is not
/// Prometheus text exposition with at least one sample (or the response is malformed).
boost::asio::awaitable<ProbeResult> probe_http(const CheckSpec& spec, ProbeEnv& env);

/// HTTPS check: the TLS handshake of probe_tls (same SNI, certificate report, CA file and pin
/// checks), then the request of probe_http.
boost::asio::awaitable<ProbeResult> probe_https(const CheckSpec& spec, ProbeEnv& env);

}  // namespace kscprobe
