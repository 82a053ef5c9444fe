#pragma once
// The benchmark's KSC Administration Server: the simulator's fake OpenAPI (simulator/
// ksc_openapi.hpp) on a thread of its own, listening in the estate's namespace, so that kscprobe
// discovers the estate over the same veth it probes it through.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "simulator/ksc_openapi.hpp"

namespace kscprobe::bench {

class BenchKsc {
 public:
  BenchKsc();
  ~BenchKsc();  // stop()
  BenchKsc(const BenchKsc&) = delete;
  BenchKsc& operator=(const BenchKsc&) = delete;

  /// Listens on address:port (call it with the thread in the estate's namespace: the listener
  /// stays there) and serves `hosts`, `groups` and the ids of the update agents from a thread
  /// of its own. Throws std::runtime_error on a bind failure.
  void start(const std::string& address, std::uint16_t port, std::vector<sim::KscHostDef> hosts,
             std::map<std::int64_t, std::string> groups, std::vector<std::string> update_agents);
  /// Stops the server and its thread. Idempotent.
  void stop();

  std::string url() const;
  std::string ca_pem() const;
  std::string user() const;
  std::string password() const;

  /// Replaces the device list (seen from the next FindHosts on), from the server's thread.
  void set_hosts(std::vector<sim::KscHostDef> hosts);
  /// What the server has seen so far, read on the server's thread.
  sim::KscCounters counters();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kscprobe::bench
