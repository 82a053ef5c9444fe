#include "daemon/once_runner.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <ostream>
#include <vector>

#include "collectors/probe_resources.hpp"
#include "collectors/prober.hpp"
#include "daemon/probe_setup.hpp"
#include "daemon/runtime/human_text.hpp"
#include "platform/platform.hpp"

namespace kscprobe {

namespace asio = boost::asio;

namespace {

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

std::string format_expiry(std::int64_t not_after) {
  if (not_after <= 0) return "-";
  const std::string date = utc_date(not_after);
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  long days = static_cast<long>((not_after - static_cast<std::int64_t>(now)) / 86400);
  return date + " (" + std::to_string(days) + "d)";
}

}  // namespace

std::string result_word(const CheckSpec& spec, const ProbeResult& r) {
  if (!r.success) return "FAIL";
  if (spec.transport == Transport::udp) return r.udp_reply ? "open" : "open|filtered";
  return "ok";
}

std::string reason_word(const ProbeResult& r) {
  if (r.success) return "-";
  // Failed on this host: no reason about the target.
  if (r.local != LocalFault::none) return "local:" + std::string(to_string(r.local));
  return std::string(to_string(r.reason));
}

int run_once(asio::io_context& io, const Plan& plan, std::ostream& out) {
  // The table shows why, if no ICMP socket can be opened.
  ProbeResources probes(io.get_executor(), logged_probe_options(/*warn_without_icmp=*/false));
  std::vector<ProbeResult> results(plan.checks.size());
  std::size_t next = 0;
  unsigned in_flight = 0;
  std::size_t done = 0;
  unsigned budget = plan.daemon.max_in_flight ? plan.daemon.max_in_flight : 1;
  std::function<void()> launch = [&] {
    while (in_flight < budget && next < plan.checks.size()) {
      std::size_t i = next++;
      ++in_flight;
      start_probe(plan.checks[i], probes.env(), {}, [&, i](ProbeResult r) {
        results[i] = std::move(r);
        --in_flight;
        // Other users of the loop (the demo estate) never run out of work.
        if (++done == plan.checks.size()) io.stop();
        launch();
      });
    }
  };
  launch();
  if (!plan.checks.empty()) io.run();
  io.restart();

  std::vector<std::vector<std::string>> rows;
  rows.push_back({"TARGET", "ROLE", "CHECK", "ADDRESS", "PORT", "TRANSPORT", "RESULT", "LATENCY",
                  "REASON", "CERT EXPIRY", "DETAIL"});
  int failed = 0;
  for (std::size_t i = 0; i < plan.checks.size(); ++i) {
    const auto& c = plan.checks[i];
    const auto& t = plan.target_of(c);
    const auto& r = results[i];
    if (!r.success) ++failed;
    rows.push_back({t.name, std::string(to_string(t.role)), c.check, c.address,
                    c.transport == Transport::icmp ? "-" : std::to_string(c.port),
                    std::string(to_string(c.transport)), result_word(c, r),
                    human_latency(r.duration), reason_word(r),
                    r.tls ? format_expiry(r.tls->not_after) : "-", r.detail});
  }
  print_table(out, rows);
  out << "\n"
      << plan.checks.size() - failed << " passed, " << failed << " failed (" << plan.targets.size()
      << " targets)\n";
  return failed == 0 ? 0 : 1;
}

void print_catalog(std::ostream& out) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ROLE", "CHECK", "PORT", "TRANSPORT", "PROCESS", "CONDITION", "PURPOSE"});
  for (const auto& e : catalog()) {
    std::string port = e.transport == Transport::icmp ? "-" : std::to_string(e.port);
    if (e.port_on_admin_server) port += " (" + std::to_string(e.port_on_admin_server) + ")";
    rows.push_back({std::string(to_string(e.role)), std::string(e.id), port,
                    std::string(to_string(e.transport)), std::string(e.process),
                    e.condition.empty() ? "always" : std::string(e.condition),
                    std::string(e.purpose)});
  }
  print_table(out, rows);
  out << "\nEvery port can be changed per target with [target.ports] <check> = <port>.\n"
         "UDP checks cannot prove a port open: silence means open|filtered, an ICMP "
         "port-unreachable means refused.\n"
         "icmp_echo pings the host (no port): features = [\"icmp\"] switches it on.\n";
}

}  // namespace kscprobe
