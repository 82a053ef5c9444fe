#include "daemon/web/probe_endpoint.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "collectors/prober.hpp"
#include "daemon/exposition/probe_answer.hpp"
#include "daemon/web/query_string.hpp"

namespace kscprobe {

namespace asio = boost::asio;

namespace {

std::string strip_brackets(std::string_view s) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

HttpResponse text(unsigned status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

bool AllowList::parse(const std::vector<std::string>& cidrs, AllowList* out, std::string* error) {
  std::vector<rules::Network> networks;
  for (const auto& c : cidrs) {
    auto n = rules::parse_network(c, error);
    if (!n) return false;
    networks.push_back(*n);
  }
  *out = AllowList(std::move(networks));
  return true;
}

bool AllowList::allows(std::string_view ip_literal) const {
  return std::any_of(networks_.begin(), networks_.end(),
                     [&](const rules::Network& n) { return n.contains(ip_literal); });
}

ProbeEndpoint::ProbeEndpoint(asio::any_io_executor ex, ProbeEnv& env) : ex_(ex), env_(env) {}

void ProbeEndpoint::configure(std::shared_ptr<const Plan> plan, AllowList allow,
                              unsigned max_concurrent) {
  plan_ = std::move(plan);
  allow_ = std::move(allow);
  max_concurrent_ = max_concurrent ? max_concurrent : 1;
}

asio::awaitable<HttpResponse> ProbeEndpoint::handle(HttpRequest req) {
  if (req.method != "GET" && req.method != "HEAD") co_return text(405, "method not allowed\n");
  std::string target, role_name, check, features;
  std::vector<std::pair<std::string, std::string>> query;
  std::string query_error;
  if (!parse_query(req.query, &query, &query_error)) co_return text(400, query_error + "\n");
  for (auto& [k, v] : query) {
    if (k == "target")
      target = v;
    else if (k == "role")
      role_name = v;
    else if (k == "check")
      check = v;
    else if (k == "features")
      features = v;
    else if (k == "module") {
      // blackbox_exporter's module parameter: accepted and ignored (the catalog decides).
    } else {
      co_return text(400, "unknown parameter \"" + k + "\" (target, role, check, features)\n");
    }
  }
  if (target.empty()) co_return text(400, "target parameter is missing\n");
  if (!plan_) co_return text(503, "no configuration loaded\n");

  // Configured targets, by name or by address, keep their own settings.
  auto plan = plan_;
  std::vector<CheckSpec> checks;
  std::vector<const PlannedTarget*> owners;
  for (const auto& c : plan->checks) {
    const auto& t = plan->target_of(c);
    if (t.name != target && strip_brackets(t.address) != strip_brackets(target)) continue;
    if (!role_name.empty() && to_string(t.role) != role_name) continue;
    checks.push_back(c);
  }
  std::shared_ptr<Plan> adhoc;
  if (checks.empty()) {
    if (!allow_.allows(target)) {
      co_return text(403, "target \"" + target +
                              "\" is neither a configured target nor an address inside the /probe "
                              "allow-list ([probe] allow)\n");
    }
    auto role = parse_role(role_name.empty() ? "server" : role_name);
    if (!role) co_return text(400, "unknown role \"" + role_name + "\"\n");
    Config cfg;
    cfg.daemon = plan->daemon;
    TargetConfig t;
    t.name = strip_brackets(target);
    t.address = t.name;
    t.role = *role;
    if (*role == Role::database) t.engine = DbEngine::postgresql;
    std::string why;
    auto flags = rules::parse_feature_list(features, &why);
    if (!flags) co_return text(400, why + "\n");
    t.features |= *flags;
    cfg.targets.push_back(t);
    adhoc = std::make_shared<Plan>(expand_plan(cfg));
    checks = adhoc->checks;
  }
  if (!check.empty()) {
    std::erase_if(checks, [&](const CheckSpec& c) { return c.check != check; });
    if (checks.empty())
      co_return text(400, "target \"" + target + "\" has no check \"" + check + "\"\n");
  }
  if (active_ >= max_concurrent_) co_return text(503, "too many /probe requests at once\n");

  // Like blackbox_exporter: leave half a second of the scrape timeout for the answer.
  std::string scrape_timeout = req.header("x-prometheus-scrape-timeout-seconds");
  if (!scrape_timeout.empty()) {
    auto s = rules::parse_seconds(scrape_timeout);
    if (!s)
      co_return text(400, "X-Prometheus-Scrape-Timeout-Seconds \"" + scrape_timeout.substr(0, 64) +
                              "\" is not a positive number of seconds\n");
    auto budget = Duration(static_cast<long long>(std::min(*s - 0.5, 86400.0) * 1000));
    if (budget < Duration(100)) budget = Duration(100);
    for (auto& c : checks)
      if (c.timeout > budget) c.timeout = budget;
  }

  ++active_;
  struct Shared {
    std::vector<ProbeResult> results;
    std::size_t remaining;
    asio::steady_timer done;
  };
  auto shared = std::make_shared<Shared>(
      Shared{std::vector<ProbeResult>(checks.size()), checks.size(),
             asio::steady_timer(ex_, asio::steady_timer::time_point::max())});
  auto owned = std::make_shared<std::vector<CheckSpec>>(std::move(checks));
  for (std::size_t i = 0; i < owned->size(); ++i) {
    start_probe((*owned)[i], env_, {}, [shared, owned, i](ProbeResult r) {
      shared->results[i] = std::move(r);
      if (--shared->remaining == 0) shared->done.cancel();
    });
  }
  if (shared->remaining > 0) {
    boost::system::error_code ec;
    co_await shared->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  --active_;

  std::string body;
  exposition::write_probe_answer(*owned, shared->results, body);
  HttpResponse res;
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  res.body = std::move(body);
  res.compressible = true;
  co_return res;
}

}  // namespace kscprobe
