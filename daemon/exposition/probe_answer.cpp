#include "daemon/exposition/probe_answer.hpp"

#include <algorithm>

#include "daemon/exposition/metric_families.hpp"
#include "daemon/exposition/text_writer.hpp"

namespace kscprobe::exposition {

void write_probe_answer(const std::vector<CheckSpec>& checks,
                        const std::vector<ProbeResult>& results, std::string& body) {
  // One family: `each_check` writes the samples of a check, after its `check` label.
  auto write = [&](BlackboxMetric m, auto&& each_check) {
    FamilyWriter f(body, family(m));
    std::string labels;
    for (std::size_t i = 0; i < checks.size(); ++i) {
      labels.clear();
      append_label(labels, "check", checks[i].check);
      each_check(f, labels, checks[i], results[i]);
    }
  };
  using Family = FamilyWriter;
  write(BlackboxMetric::probe_success,
        [](Family& f, const std::string& l, const CheckSpec&, const ProbeResult& r) {
          f.sample(l, {}, r.success ? 1.0 : 0.0);
        });
  write(BlackboxMetric::probe_duration_seconds,
        [](Family& f, const std::string& l, const CheckSpec&, const ProbeResult& r) {
          f.sample(l, {}, r.duration);
        });
  write(BlackboxMetric::probe_dns_lookup_time_seconds,
        [](Family& f, const std::string& l, const CheckSpec&, const ProbeResult& r) {
          f.sample(l, {}, std::max(0.0, r.phase(Phase::resolve)));
        });
  static const char* phase_names[] = {"resolve", "connect", "tls", "processing"};
  write(BlackboxMetric::probe_http_duration_seconds,
        [](Family& f, const std::string& l, const CheckSpec& c, const ProbeResult& r) {
          if (c.transport != Transport::http && c.transport != Transport::https) return;
          for (int p = 0; p < kPhaseCount; ++p)
            if (r.phases[p] >= 0) f.sample(l, label("phase", phase_names[p]), r.phases[p]);
        });
  write(BlackboxMetric::probe_icmp_duration_seconds,
        [](Family& f, const std::string& l, const CheckSpec& c, const ProbeResult& r) {
          if (c.transport != Transport::icmp) return;
          f.sample(l, "phase=\"resolve\"", std::max(0.0, r.phase(Phase::resolve)));
          if (r.phase(Phase::request) >= 0) f.sample(l, "phase=\"rtt\"", r.phase(Phase::request));
        });
  write(BlackboxMetric::probe_http_status_code,
        [](Family& f, const std::string& l, const CheckSpec& c, const ProbeResult& r) {
          if (c.transport == Transport::http || c.transport == Transport::https)
            f.sample(l, {}, r.http_status);
        });
  write(BlackboxMetric::probe_ssl_earliest_cert_expiry,
        [](Family& f, const std::string& l, const CheckSpec&, const ProbeResult& r) {
          if (r.tls && r.tls->not_after > 0) f.sample(l, {}, static_cast<double>(r.tls->not_after));
        });
  write(BlackboxMetric::probe_tls_version_info,
        [](Family& f, const std::string& l, const CheckSpec&, const ProbeResult& r) {
          if (r.tls && r.tls->not_after > 0) f.sample(l, label("version", r.tls->version), 1.0);
        });
  write(BlackboxMetric::probe_ssl_last_chain_info,
        [](Family& f, const std::string& l, const CheckSpec&, const ProbeResult& r) {
          if (!r.tls || r.tls->not_after <= 0) return;
          std::string extra = label("fingerprint_sha256", r.tls->fingerprint_sha256);
          append_label(extra, "subject", r.tls->subject);
          f.sample(l, extra, 1.0);
        });
  write(BlackboxMetric::probe_failure_info,
        [](Family& f, const std::string& l, const CheckSpec&, const ProbeResult& r) {
          if (!r.success && r.local == LocalFault::none)
            f.sample(l, label("reason", to_string(r.reason)), 1.0);
        });
  write(BlackboxMetric::probe_local_error_info,
        [](Family& f, const std::string& l, const CheckSpec&, const ProbeResult& r) {
          if (r.local != LocalFault::none) f.sample(l, label("kind", to_string(r.local)), 1.0);
        });
}

}  // namespace kscprobe::exposition
