#pragma once
// A two-target plan (a server's TLS check, an agent's UDP check), a TLS result and a render of a
// result table: what the result table's and the renderer's tests share.
#include <memory>
#include <string>

#include "daemon/exposition/metrics_renderer.hpp"
#include "daemon/runtime/result_table.hpp"
#include "tests/support/plan_builder.hpp"

namespace kscprobe::test {

inline std::shared_ptr<Plan> make_plan(std::uint16_t agents_port = 13000) {
  return test::PlanBuilder()
      .target("ksc01", Role::server, "127.0.0.1", {{"site", "paris"}})
      .check("agents_tls", Transport::tls, agents_port)
      .target("pc-1", Role::agent, "127.0.0.2")
      .check("signal_udp", Transport::udp, 15000)
      .build();
}

inline ProbeResult ok_tls() {
  ProbeResult r;
  r.success = true;
  r.duration = 0.004;
  r.set_phase(Phase::resolve, 0);
  r.set_phase(Phase::connect, 0.001);
  r.set_phase(Phase::tls, 0.003);
  TlsInfo t;
  t.version = "TLSv1.3";
  t.fingerprint_sha256 = "ab";
  t.subject = "CN=ksc01";
  t.not_after = 1900000000;
  r.tls = t;
  return r;
}

inline std::string render(const ResultTable& table) {
  MetricsRenderer renderer;
  std::string out;
  renderer.render({&table, nullptr}, out);
  return out;
}

}  // namespace kscprobe::test
