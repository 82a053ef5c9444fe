#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "config/rules.hpp"
#include "daemon/web/http_server.hpp"

namespace kscprobe {

struct ProbeEnv;

/// Networks that /probe may reach beside the configured targets ("10.0.0.0/8", "::1/128").
class AllowList {
 public:
  AllowList() = default;
  explicit AllowList(std::vector<rules::Network> networks) : networks_(std::move(networks)) {}
  /// Parses CIDR strings (rules::parse_network); returns false with the offending entry in
  /// *error.
  static bool parse(const std::vector<std::string>& cidrs, AllowList* out, std::string* error);
  bool allows(std::string_view ip_literal) const;
  bool empty() const { return networks_.empty(); }

 private:
  std::vector<rules::Network> networks_;
};

/// `/probe?target=NAME_OR_ADDRESS[&role=ROLE][&check=ID][&features=a,b]`: probes now and answers
/// in blackbox_exporter's metric names, one series per check (label `check`). Only configured
/// targets (by name or address) or IP addresses inside the allow-list are probed; anything
/// else gets 403, so the daemon is never an open port scanner.
class ProbeEndpoint {
 public:
  ProbeEndpoint(boost::asio::any_io_executor ex, ProbeEnv& env);
  void configure(std::shared_ptr<const Plan> plan, AllowList allow, unsigned max_concurrent);
  boost::asio::awaitable<HttpResponse> handle(HttpRequest req);

 private:
  boost::asio::any_io_executor ex_;
  ProbeEnv& env_;
  std::shared_ptr<const Plan> plan_;
  AllowList allow_;
  unsigned max_concurrent_ = 16;
  unsigned active_ = 0;
};

}  // namespace kscprobe
