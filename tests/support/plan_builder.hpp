#pragma once
// Plans built by hand for the tests that need a plan without a configuration file: targets and
// their checks, in a few lines. Header-only: the suites that use it link the config layer.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/plan.hpp"

namespace kscprobe::test {

class PlanBuilder {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  PlanBuilder() : plan_(std::make_shared<Plan>()) { plan_->metrics.detail.fill(Detail::full); }

  /// A target; the checks added next are its own. Labels sorted by name, as the plan keeps them.
  PlanBuilder& target(std::string name, Role role, std::string address, Labels labels = {}) {
    plan_->targets.push_back({std::move(name), role, std::move(address), std::move(labels)});
    return *this;
  }

  /// A check of the last target, at its address, every `interval`, ending by `timeout`.
  PlanBuilder& check(std::string id, Transport transport, std::uint16_t port,
                     Duration interval = Duration(30000), Duration timeout = Duration(5000)) {
    CheckSpec c;
    c.target_index = static_cast<std::uint32_t>(plan_->targets.size() - 1);
    c.check = std::move(id);
    c.address = plan_->targets.back().address;
    c.port = port;
    c.transport = transport;
    c.interval = interval;
    c.timeout = timeout;
    plan_->checks.push_back(std::move(c));
    return *this;
  }

  /// `count` targets named <prefix>-<i> of `role` at `address`, each with one check.
  PlanBuilder& targets(const std::string& prefix, int count, Role role, const std::string& address,
                       const std::string& id, Transport transport, std::uint16_t port,
                       Duration interval = Duration(30000), Duration timeout = Duration(5000)) {
    for (int i = 0; i < count; ++i)
      target(prefix + "-" + std::to_string(i), role, address)
          .check(id, transport, port, interval, timeout);
    return *this;
  }

  /// The [metrics] detail level of every role (full by default).
  PlanBuilder& detail(Detail level) {
    plan_->metrics.detail.fill(level);
    return *this;
  }

  /// The plan as built so far, for the fields this builder does not set.
  Plan& plan() { return *plan_; }

  std::shared_ptr<Plan> build() { return plan_; }

 private:
  std::shared_ptr<Plan> plan_;
};

}  // namespace kscprobe::test
