#include "daemon/routes.hpp"

#include <chrono>
#include <string_view>

#include "daemon/discovery/discovery.hpp"
#include "daemon/plan_composer.hpp"
#include "daemon/runtime/local_faults.hpp"
#include "daemon/runtime/result_recorder.hpp"
#include "daemon/web/metrics_endpoint.hpp"
#include "daemon/web/probe_endpoint.hpp"
#include "daemon/web/status_page.hpp"

namespace kscprobe {

namespace asio = boost::asio;

namespace {

/// "GET" takes HEAD too and "POST" takes PUT; an empty `allow` leaves the methods to the
/// handler (/probe answers as blackbox_exporter does).
bool takes(std::string_view allow, const std::string& method) {
  if (allow == "GET") return method == "GET" || method == "HEAD";
  if (allow == "POST") return method == "POST" || method == "PUT";
  return allow.empty() || method == allow;
}

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse r;
  r.status = 405;
  r.body = "method not allowed\n";
  r.headers.push_back({"Allow", std::string(allow)});
  return r;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

asio::awaitable<HttpResponse> Routes::route(HttpRequest req) {
  struct Route {
    std::string_view path;
    std::string_view allow;  // any other method gets 405 with this Allow header
    asio::awaitable<HttpResponse> (Routes::*handler)(HttpRequest req);
  };
  static constexpr Route kRoutes[] = {
      {"/metrics", "GET", &Routes::serve_metrics},   {"/probe", "", &Routes::serve_probe},
      {"/-/healthy", "GET", &Routes::serve_healthy}, {"/-/ready", "GET", &Routes::serve_ready},
      {"/-/reload", "POST", &Routes::serve_reload},  {"/", "GET", &Routes::serve_status},
  };
  for (const Route& r : kRoutes) {
    if (req.path != r.path) continue;
    if (!takes(r.allow, req.method)) co_return method_not_allowed(r.allow);
    co_return co_await (this->*r.handler)(std::move(req));
  }
  HttpResponse res;
  res.status = 404;
  res.body = "not found\n";
  co_return res;
}

asio::awaitable<HttpResponse> Routes::serve_metrics(HttpRequest req) {
  co_return co_await p_.metrics.handle(std::move(req));
}

asio::awaitable<HttpResponse> Routes::serve_probe(HttpRequest req) {
  co_return co_await p_.probe.handle(std::move(req));
}

asio::awaitable<HttpResponse> Routes::serve_healthy(HttpRequest) {
  HttpResponse res;
  res.body = "kscprobe is Healthy.\n";
  co_return res;
}

asio::awaitable<HttpResponse> Routes::serve_ready(HttpRequest) {
  HttpResponse res;
  const std::string local = p_.recorder.local_faults_now();
  if (!ready_) {
    res.status = 503;
    res.body = "kscprobe is not ready.\n";
  } else if (const std::string late = p_.recorder.falling_behind(); !late.empty()) {
    // Up, but the plan is not probed as written: due probes start late.
    res.status = 503;
    res.body = "kscprobe is not ready: falling behind: " + late +
               " (kscprobe_scheduler_oldest_wait_seconds)\n";
  } else if (!local.empty()) {
    // Up (/-/healthy), but the plan is not probed as written while probes fail on this host.
    res.status = 503;
    res.body = "kscprobe is not ready: probes fail on this host within the last " +
               std::to_string(static_cast<int>(LocalFaults::kWindowSeconds)) + " s: " + local +
               " (kscprobe_local_errors_total; see the log for what to do)\n";
  } else {
    res.body = "kscprobe is Ready.\n";
  }
  co_return res;
}

asio::awaitable<HttpResponse> Routes::serve_reload(HttpRequest) {
  HttpResponse res;
  std::string errors;
  if (!p_.reload(&errors)) {
    res.status = 500;
    res.body = "reload failed, the previous configuration keeps running:\n" + errors;
  } else {
    res.body = "configuration reloaded\n";
  }
  co_return res;
}

asio::awaitable<HttpResponse> Routes::serve_status(HttpRequest req) {
  StatusPageInfo info;
  info.version = KSCPROBE_VERSION;
  info.config_source = p_.composer.config_name();
  info.last_reload_ok = p_.composer.last_load_ok();
  info.now_unix = unix_now();
  // KSC's side: each server's discovery, and the server's view of the agents (shared lists,
  // not copies), which the page joins with the checks as /metrics does.
  if (p_.composer.discovers()) {
    info.ksc = p_.composer.discovery().status();
    info.agents = p_.composer.discovery().agent_sections();
  }
  info.local_faults = p_.recorder.local_faults_now();
  p_.recorder.watch_lateness();
  info.falling_behind = p_.recorder.falling_behind();
  StatusResponse page = serve_status_page(p_.table, info, req.query);
  HttpResponse res;
  res.status = page.status;
  res.content_type = std::move(page.content_type);
  res.body = std::move(page.body);
  res.compressible = true;
  co_return res;
}

}  // namespace kscprobe
