#include "daemon/app.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <sstream>

#include "collectors/probe_resources.hpp"
#include "collectors/prober.hpp"
#include "config/compose.hpp"
#include "config/target_files.hpp"
#include "daemon/discovery/discovery.hpp"
#include "daemon/exposition/discovery_metrics.hpp"
#include "daemon/exposition/text_writer.hpp"
#include "daemon/logging.hpp"
#include "daemon/probe_setup.hpp"
#include "daemon/runtime/local_faults.hpp"
#include "daemon/runtime/open_files.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "daemon/web/http_server.hpp"
#include "daemon/web/metrics_endpoint.hpp"
#include "daemon/web/probe_endpoint.hpp"
#include "daemon/web/status_page.hpp"
#include "daemon/web/web_security.hpp"
#include "platform/files.hpp"
#include "platform/platform.hpp"

namespace kscprobe {

namespace asio = boost::asio;

ConfigSources config_sources(const AppOptions& options) {
  ConfigSources sources;
  sources.file = options.config_file;
  sources.text = options.config_text;
  sources.text_name = options.config_name;
  if (!options.web_config_file.empty()) {
    sources.web_file = [path = options.web_config_file](WebConfig* web,
                                                        std::vector<ConfigError>* errors) {
      return load_web_config_file(path, web, errors);
    };
  }
  sources.shard = options.shard;
  return sources;
}

namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Discovery's own lines (a run's outcome, never a password) into the daemon's log.
void log_discovery_line(bool warning, const std::string& line) {
  if (warning) {
    log::warn(line);
  } else {
    log::info(line);
  }
}

ksc::Discovery::Options discovery_options() {
  ksc::Discovery::Options o;
  o.wall_clock = unix_now;
  o.log = log_discovery_line;
  return o;
}

// What weakens a [[ksc]] section's secrets or trust, said at start, each reload and --once.
void warn_ksc_security(const Config& cfg) {
  for (const auto& k : cfg.ksc)
    for (const std::string& w : ksc_security_warnings(k))
      log::warn("KSC discovery: " + w, {{"ksc_server", k.name}, {"url", redact_url(k.url)}});
}

// One discovery of every [[ksc]] section of `base` by `discovery` (on `io`), for --once: every
// section must answer (as every target file must parse). The lists stay in `discovery`.
bool discover_once(asio::io_context& io, ksc::Discovery& discovery, const Config& base,
                   std::vector<ConfigError>* errors) {
  const ksc::Discovery::Options o = discovery_options();
  warn_ksc_security(base);
  discovery.set_sources(base.ksc);
  const auto deadline = std::chrono::steady_clock::now() + o.run_timeout + std::chrono::seconds(5);
  io.restart();
  while (!discovery.settled() && std::chrono::steady_clock::now() < deadline)
    io.run_one_for(std::chrono::milliseconds(100));
  discovery.stop();
  const std::vector<ksc::DiscoveryStatus> status = discovery.status();
  for (std::size_t i = 0; i < status.size() && i < base.ksc.size(); ++i) {
    if (status[i].ran && status[i].success) continue;
    errors->push_back(
        ConfigError{base.ksc[i].pos, "ksc \"" + status[i].name + "\": discovery failed: " +
                                         (status[i].ran ? status[i].error : "no answer in time")});
  }
  return errors->empty();
}

}  // namespace

LoadedPlan load_plan(const AppOptions& options, asio::io_context* io) {
  LoadedPlan out;
  Config base;
  if (!compose_base(config_sources(options), &base, &out.errors)) return out;
  std::optional<ksc::Discovery> discovery;
  if (io != nullptr && !base.ksc.empty()) {
    discovery.emplace(io->get_executor(), discovery_options());
    if (!discover_once(*io, *discovery, base, &out.errors)) return out;
  }
  TargetFiles files;
  std::vector<ConfigError> target_errors, warnings;
  const DiscoveredTargets lists = discovery ? discovery->target_lists() : DiscoveredTargets{};
  std::shared_ptr<const Plan> composed =
      compose_plan(base, &files, &target_errors, &lists, &warnings);
  for (const auto& w : warnings) log::warn("discovered target not used", {{"warning", w.format()}});
  if (!target_errors.empty()) {
    out.errors = std::move(target_errors);
    return out;
  }
  out.plan = std::move(composed);
  return out;
}

namespace {

std::string config_source(const AppOptions& o) {
  return o.config_file.empty() ? o.config_name : o.config_file;
}

}  // namespace

struct App::Impl {
  Impl(asio::io_context& io_, AppOptions o)
      : io(io_),
        options(std::move(o)),
        signals(io_, SIGTERM, SIGINT),
        probes(io_.get_executor(), logged_probe_options(/*warn_without_icmp=*/true)),
        scheduler(
            io_.get_executor(),
            [this](const CheckSpec& spec, asio::cancellation_slot slot, Scheduler::Done done) {
              start_probe(spec, probes.env(), slot, std::move(done));
            },
            [this](std::uint32_t index, const ProbeResult& r) { on_result(index, r); }),
        http(io_.get_executor(), [this](HttpRequest req) { return route(std::move(req)); }),
        probe_endpoint(io_.get_executor(), probes.env()),
        metrics_endpoint(io_.get_executor(), table, scheduler,
                         [this](std::string& out) { write_self_metrics(out); }) {
    // SIGHUP reloads the configuration; Windows has none (the service reload control does it).
    if constexpr (platform::kReloadSignal != 0) signals.add(platform::kReloadSignal);
  }

  /// The daemon's own families, ahead of the result table's.
  void write_self_metrics(std::string& out) const {
    using exposition::FamilyWriter;
    FamilyWriter(out, "kscprobe_build_info",
                 "A metric with a constant 1 labelled by version of kscprobe.", "gauge")
        .sample(exposition::label("version", KSCPROBE_VERSION), {}, 1.0);
    FamilyWriter(out, "kscprobe_config_last_reload_successful",
                 "1 if the last configuration load succeeded.", "gauge")
        .sample({}, {}, last_reload_ok ? 1.0 : 0.0);
    FamilyWriter(out, "kscprobe_config_last_reload_success_timestamp_seconds",
                 "Unix time of the last successful configuration load.", "gauge")
        .sample({}, {}, last_reload_success_ts);
    if (!base.ksc.empty()) {
      const std::vector<ksc::DiscoveryStatus> status = discovery.status();
      exposition::write_discovery_metrics(out, status);
    }
    write_limit_metrics(out);
    write_resolver_metrics(out);
  }

  /// The name resolver that every probe, the KSC client and the Pushgateway output share: what
  /// its lookups cost the DNS servers, and its queue.
  void write_resolver_metrics(std::string& out) const {
    using exposition::FamilyWriter;
    const ResolverStats r = probes.resolver().stats();
    {
      FamilyWriter f(out, "kscprobe_resolver_lookups_total",
                     "Host-name lookups by how they were answered: cache (an answer or failure "
                     "still within its TTL), joined (a query for the same name already running), "
                     "query (asked of the DNS servers), queue_full (refused: a local fault).",
                     "counter");
      f.sample(exposition::label("outcome", "cache"), {}, r.cache_hits);
      f.sample(exposition::label("outcome", "joined"), {}, r.joined);
      f.sample(exposition::label("outcome", "query"), {}, r.queries);
      f.sample(exposition::label("outcome", "queue_full"), {}, r.queue_full);
    }
    FamilyWriter(out, "kscprobe_resolver_queries_in_flight", "Host-name queries in progress now.",
                 "gauge")
        .sample({}, {}, r.in_flight);
    FamilyWriter(out, "kscprobe_resolver_queued", "Host names waiting for a query slot now.",
                 "gauge")
        .sample({}, {}, r.queued);
  }

  /// The host's own limits: local faults and the budgets fitted to the open-file limit.
  void write_limit_metrics(std::string& out) const {
    using exposition::FamilyWriter;
    {
      FamilyWriter f(out, "kscprobe_local_errors_total",
                     "Probes that failed on this host (out of descriptors, local ports, buffers, "
                     "memory, or no right to an ICMP socket) and say nothing of their target.",
                     "counter");
      for (int k = 1; k < kLocalFaultCount; ++k) {
        const auto kind = static_cast<LocalFault>(k);
        f.sample(exposition::label("kind", to_string(kind)), {},
                 static_cast<double>(local_faults.total(kind)));
      }
    }
    FamilyWriter(out, "kscprobe_local_errors_active",
                 "1 while probes fail on this host (one within the last minute): /-/ready "
                 "answers 503.",
                 "gauge")
        .sample({}, {}, local_faults.active(steady_now()) ? 1.0 : 0.0);
    FamilyWriter(out, "kscprobe_open_files_limit",
                 "The open-file limit the in-flight budgets are fitted to (0: none).", "gauge")
        .sample({}, {}, static_cast<double>(fit.limit));
    FamilyWriter(out, "kscprobe_probe_budget_clamped",
                 "1 when the plan's in-flight budgets were lowered to fit the open-file limit.",
                 "gauge")
        .sample({}, {}, fit.clamped ? 1.0 : 0.0);
    {
      FamilyWriter f(out, "kscprobe_probe_budget",
                     "Probes allowed in flight at once, per budget lane, as in force.", "gauge");
      for (int l = 0; l < kLaneCount; ++l) {
        f.sample(exposition::label("lane", to_string(static_cast<Lane>(l))), {},
                 scheduler.budgets()[l]);
      }
    }
  }

  /// A probe failed on this host: counted, logged when a kind starts failing, never recorded
  /// against its target.
  void on_local_fault(const CheckSpec& c, const ProbeResult& r) {
    if (local_faults.note(r.local, steady_now())) {
      log::error(
          "probes are failing on this host, not on the network; their targets keep "
          "their last verdict",
          {{"kind", std::string(to_string(r.local))},
           {"check", c.check},
           {"address", c.address},
           {"detail", r.detail},
           {"open_files_limit", std::to_string(fit.limit)},
           {"max_in_flight", std::to_string(scheduler.budgets()[0])},
           {"what_to_do", std::string(remedy(r.local))}});
    }
  }

  /// The lane whose longest-waiting due probe has waited longest for a slot, and how long.
  std::pair<Lane, double> longest_wait() const {
    std::pair<Lane, double> worst{Lane::connect, 0};
    for (int l = 0; l < kLaneCount; ++l) {
      const double waited = scheduler.oldest_wait_seconds(static_cast<Lane>(l));
      if (waited > worst.second) worst = {static_cast<Lane>(l), waited};
    }
    return worst;
  }

  /// What limits the schedule while it falls behind, "" when it does not: a due probe has
  /// waited more than Scheduler::kBehindSeconds for a slot of its lane's budget.
  std::string falling_behind() const {
    const auto [lane, waited] = longest_wait();
    if (waited <= Scheduler::kBehindSeconds) return "";
    const int l = static_cast<int>(lane);
    return "lane " + std::string(to_string(lane)) + ": a due probe has waited " +
           std::to_string(static_cast<long long>(waited)) + " s for a slot (budget " +
           std::to_string(scheduler.budgets()[l]) + ", " +
           std::to_string(scheduler.in_flight(lane)) + " in flight, " +
           std::to_string(scheduler.queued(lane)) + " queued" +
           (fit.clamped ? ", budgets lowered to the open-file limit " + std::to_string(fit.limit)
                        : std::string()) +
           ")";
  }

  /// Says once when the schedule starts falling behind, with what limits it, and once when it
  /// has caught up (nothing waits more than a second).
  void watch_lateness() {
    if (!behind) {
      const std::string why = falling_behind();
      if (why.empty()) return;
      behind = true;
      log::warn("falling behind: due probes wait for a slot, results get older than the interval",
                {{"limit", why},
                 {"open_files_limit", std::to_string(fit.limit)},
                 {"what_to_do",
                  "raise the budget of that lane ([daemon] max_in_flight, max_quiet_in_flight, "
                  "max_datagram_in_flight), lower timeouts, lengthen intervals, or shard"}});
    } else if (longest_wait().second < 1) {
      behind = false;
      log::info("caught up: due probes start on time again",
                {{"skipped_total", std::to_string(scheduler.skipped())}});
    }
  }

  /// Local faults whose episode ended: said once each.
  void log_ended_local_faults() {
    for (LocalFault kind : local_faults.take_ended(steady_now())) {
      log::info("probes no longer fail on this host",
                {{"kind", std::string(to_string(kind))},
                 {"probes", std::to_string(local_faults.in_episode(kind))}});
    }
  }

  /// Fits the plan's budgets, the listener's connections and /probe's concurrency to the
  /// open-file limit (open_files.hpp); says so when it must lower them.
  std::pair<SchedulerCore::Budgets, OpenFileFit> fit_budgets(const Plan& plan) {
    SchedulerCore::Budgets budgets = Scheduler::plan_budgets(plan);
    const unsigned outputs_count = (options.outputs.textfile_path.empty() ? 0u : 1u) +
                                   (options.outputs.push_url.empty() ? 0u : 1u);
    const OpenFileDemand demand = demand_of(plan, budgets, static_cast<unsigned>(web_connections),
                                            base.ksc.size(), outputs_count);
    OpenFileFit f = fit_open_files(demand, open_file_limit);
    budgets[static_cast<int>(Lane::connect)] = f.connect;
    budgets[static_cast<int>(Lane::quiet)] = f.quiet;
    const std::string clamp = f.clamped ? describe_clamp(demand, f) : "";
    if (clamp != logged_clamp && f.clamped) {
      log::warn("the plan's concurrency does not fit the open-file limit: budgets lowered",
                {{"open_files_limit", std::to_string(f.limit)},
                 {"needed", std::to_string(f.needed)},
                 {"lowered", clamp},
                 {"what_to_do", "raise LimitNOFILE= (systemd) or ulimit -n to at least " +
                                    std::to_string(f.recommended)}});
    }
    logged_clamp = clamp;
    return {budgets, f};
  }

  /// Builds the listener's TLS and auth settings; false (and the error) if a file is bad.
  bool prepare_security(const Plan& plan, std::shared_ptr<const WebSecurity>* sec,
                        std::string* error) {
    if (!build_web_security(plan.web, sec, error)) return false;
    return true;
  }

  /// Target file errors: the daemon runs on, with the files' last good content.
  static void log_target_errors(const std::vector<ConfigError>& errors) {
    for (const auto& e : errors)
      log::error("target file error, keeping its last good content", {{"error", e.format()}});
  }

  /// The plan of `cfg` plus the targets of its target files (re-scanned now).
  std::shared_ptr<const Plan> plan_from(const Config& cfg) {
    std::vector<ConfigError> errors, warnings;
    const DiscoveredTargets discovered = discovery.target_lists();
    std::shared_ptr<const Plan> plan = compose_plan(cfg, &files, &errors, &discovered, &warnings);
    log_target_errors(errors);
    log_new_warnings(warnings);
    return plan;
  }

  /// A discovered target whose name is already configured: said once, not at every compose.
  void log_new_warnings(const std::vector<ConfigError>& warnings) {
    std::set<std::string> now;
    for (const auto& w : warnings) {
      std::string text = w.format();
      if (!warned.count(text)) log::warn("discovered target not used", {{"warning", text}});
      now.insert(std::move(text));
    }
    warned = std::move(now);
  }

  /// Starts, keeps or stops the discovery of each [[ksc]] section of `cfg`; true when the
  /// discovered targets changed.
  bool set_discovery(const Config& cfg) {
    warn_ksc_security(cfg);
    return discovery.set_sources(cfg.ksc);
  }

  /// A discovery run changed the targets: the plan is composed again, keeping the state of
  /// every check that did not change.
  void on_discovery_change() {
    if (stopping) return;
    auto plan = plan_from(base);
    install(plan, current_sec);
    log::info("KSC discovery changed the targets",
              {{"discovered", std::to_string(discovery.target_count())},
               {"targets", std::to_string(plan->targets.size())},
               {"checks", std::to_string(plan->checks.size())}});
  }

  void watch_files() {
    if (base.target_files.patterns.empty() || stopping) return;
    files_timer.expires_after(base.target_files.refresh);
    files_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping) return;
      std::vector<ConfigError> errors;
      bool changed = files.scan(base.target_files.patterns, &errors);
      log_target_errors(errors);
      if (changed) {
        auto plan = plan_from(base);
        install(plan, current_sec);
        log::info("target files changed", {{"files", std::to_string(files.files())},
                                           {"targets", std::to_string(plan->targets.size())},
                                           {"checks", std::to_string(plan->checks.size())}});
      }
      watch_files();
    });
  }

  void install(std::shared_ptr<const Plan> plan, std::shared_ptr<const WebSecurity> sec) {
    current_sec = sec;
    http.set_security(std::move(sec));
    std::vector<std::uint32_t> old_to_new;
    table = ResultTable::carry_over(plan, table, &old_to_new);
    auto [budgets, fitted] = fit_budgets(*plan);
    fit = fitted;
    scheduler.set_plan(plan, old_to_new, budgets);
    http.set_max_connections(fit.web_connections);
    // The networks were parsed (and any error reported) by the loader.
    probe_endpoint.configure(plan, AllowList(plan->probe.allow), fit.probe_requests);
    last_reload_ok = true;
    last_reload_success_ts = unix_now();
    // Parsing 100 000 targets leaves tens of megabytes of freed parser memory in the heap; hand
    // it back to the system instead of carrying it as resident memory until the next reload.
    platform::release_free_memory();
  }

  void on_result(std::uint32_t index, const ProbeResult& r) {
    const Plan& plan = table.plan();
    const CheckSpec& c = plan.checks[index];
    if (r.local != LocalFault::none) {
      on_local_fault(c, r);
      return;
    }
    log_ended_local_faults();
    watch_lateness();
    Transition t = table.record(index, r, unix_now());
    const PlannedTarget& tgt = plan.target_of(c);
    if (options.log_probes && log::enabled(log::Level::debug)) {
      log::debug("probe", {{"target", tgt.name},
                           {"check", c.check},
                           {"success", r.success ? "1" : "0"},
                           {"reason", std::string(to_string(r.reason))},
                           {"duration", std::to_string(r.duration)},
                           {"detail", r.detail}});
    }
    if (t == Transition::went_down || t == Transition::first_down) {
      log::warn(t == Transition::went_down ? "check down" : "check down at first probe",
                {{"target", tgt.name},
                 {"check", c.check},
                 {"address", c.address},
                 {"port", std::to_string(c.port)},
                 {"reason", std::string(to_string(r.reason))},
                 {"detail", r.detail}});
    } else if (t == Transition::went_up) {
      log::info("check up", {{"target", tgt.name},
                             {"check", c.check},
                             {"port", std::to_string(c.port)},
                             {"detail", r.detail}});
    }
  }

  /// The routes: a path, the methods it takes, and its handler. "GET" takes HEAD too and
  /// "POST" takes PUT; any other method gets 405 with that Allow header. An empty `allow`
  /// leaves the methods to the handler (/probe answers as blackbox_exporter does).
  struct Route {
    std::string_view path;
    std::string_view allow;
    asio::awaitable<HttpResponse> (Impl::*handler)(HttpRequest req);
  };

  asio::awaitable<HttpResponse> route(HttpRequest req) {
    static constexpr Route kRoutes[] = {
        {"/metrics", "GET", &Impl::serve_metrics},   {"/probe", "", &Impl::serve_probe},
        {"/-/healthy", "GET", &Impl::serve_healthy}, {"/-/ready", "GET", &Impl::serve_ready},
        {"/-/reload", "POST", &Impl::serve_reload},  {"/", "GET", &Impl::serve_status},
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

  static bool takes(std::string_view allow, const std::string& method) {
    if (allow == "GET") return method == "GET" || method == "HEAD";
    if (allow == "POST") return method == "POST" || method == "PUT";
    return allow.empty() || method == allow;
  }

  asio::awaitable<HttpResponse> serve_metrics(HttpRequest req) {
    co_return co_await metrics_endpoint.handle(std::move(req));
  }

  asio::awaitable<HttpResponse> serve_probe(HttpRequest req) {
    co_return co_await probe_endpoint.handle(std::move(req));
  }

  asio::awaitable<HttpResponse> serve_healthy(HttpRequest) {
    HttpResponse res;
    res.body = "kscprobe is Healthy.\n";
    co_return res;
  }

  asio::awaitable<HttpResponse> serve_ready(HttpRequest) {
    HttpResponse res;
    log_ended_local_faults();
    const std::string local = local_faults.describe(steady_now());
    if (!ready) {
      res.status = 503;
      res.body = "kscprobe is not ready.\n";
    } else if (const std::string late = falling_behind(); !late.empty()) {
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

  asio::awaitable<HttpResponse> serve_reload(HttpRequest) {
    HttpResponse res;
    std::string errors;
    if (!do_reload(&errors)) {
      res.status = 500;
      res.body = "reload failed, the previous configuration keeps running:\n" + errors;
    } else {
      res.body = "configuration reloaded\n";
    }
    co_return res;
  }

  asio::awaitable<HttpResponse> serve_status(HttpRequest req) {
    StatusPageInfo info;
    info.version = KSCPROBE_VERSION;
    info.config_source = config_source(options);
    info.last_reload_ok = last_reload_ok;
    info.now_unix = unix_now();
    // KSC's side: each server's discovery, and the server's view of the agents (shared lists,
    // not copies), which the page joins with the checks as /metrics does.
    if (!base.ksc.empty()) {
      info.ksc = discovery.status();
      info.agents = discovery.agent_sections();
    }
    log_ended_local_faults();
    info.local_faults = local_faults.describe(steady_now());
    watch_lateness();
    info.falling_behind = falling_behind();
    StatusResponse page = serve_status_page(table, info, req.query);
    HttpResponse res;
    res.status = page.status;
    res.content_type = std::move(page.content_type);
    res.body = std::move(page.body);
    res.compressible = true;
    co_return res;
  }

  static HttpResponse method_not_allowed(std::string_view allow) {
    HttpResponse r;
    r.status = 405;
    r.body = "method not allowed\n";
    r.headers.push_back({"Allow", std::string(allow)});
    return r;
  }

  std::string render() const { return metrics_endpoint.render(); }

  bool do_reload(std::string* error_text) {
    if (options.hooks.reloading) options.hooks.reloading();
    // How long the event loop is held: probes and scrapes wait for a reload to finish.
    auto start = std::chrono::steady_clock::now();
    double cpu_start = platform::thread_cpu_seconds();
    bool ok = reload_inner(error_text);
    double cpu = platform::thread_cpu_seconds() - cpu_start;
    std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
    log::info("configuration reload time", {{"success", ok ? "1" : "0"},
                                            {"seconds", std::to_string(wall.count())},
                                            {"cpu_seconds", std::to_string(cpu)}});
    if (options.hooks.reloaded) options.hooks.reloaded(ok);
    return ok;
  }

  bool reload_inner(std::string* error_text) {
    const DiscoveredTargets discovered = discovery.target_lists();
    ComposedConfig composed = compose(config_sources(options), &files, &discovered);
    if (!composed.ok()) {
      last_reload_ok = false;
      log::error(
          "configuration reload failed, keeping the running configuration",
          {{"file", config_source(options)}, {"errors", std::to_string(composed.errors.size())}});
      for (const auto& e : composed.errors) {
        log::error("configuration error", {{"error", e.format()}});
        if (error_text) *error_text += e.format() + "\n";
      }
      return false;
    }
    log_target_errors(composed.target_errors);
    log_new_warnings(composed.warnings);
    std::shared_ptr<const Plan> plan = std::move(composed.plan);
    std::shared_ptr<const WebSecurity> sec;
    std::string sec_error;
    if (!prepare_security(*plan, &sec, &sec_error)) {
      last_reload_ok = false;
      log::error("configuration reload failed, keeping the running configuration",
                 {{"file", config_source(options)}, {"error", sec_error}});
      if (error_text) *error_text += sec_error + "\n";
      return false;
    }
    if (sec->tls.operator bool() != http.tls_enabled()) {
      log::warn("TLS on the listener changes for new connections only",
                {{"tls", sec->tls ? "on" : "off"}});
    }
    bool watch = base.target_files.patterns.empty() && !composed.base.target_files.patterns.empty();
    base = std::move(composed.base);
    // The sections of the new file: a changed or removed one takes its targets away.
    if (set_discovery(base)) plan = plan_from(base);
    install(plan, std::move(sec));
    if (watch) watch_files();
    log::info("configuration reloaded", {{"file", config_source(options)},
                                         {"targets", std::to_string(plan->targets.size())},
                                         {"checks", std::to_string(plan->checks.size())}});
    return true;
  }

  void wait_signal() {
    signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == platform::kReloadSignal) {
        log::info("SIGHUP received, reloading configuration");
        do_reload(nullptr);
        wait_signal();
      } else {
        log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        stop();
      }
    });
  }

  void stop() {
    if (stopping) return;
    stopping = true;
    ready = false;
    if (options.hooks.stopping) options.hooks.stopping();
    if (outputs) {
      outputs->flush_textfile();  // the last state, not one from up to an interval ago
      outputs->stop();
    }
    heartbeat_timer.cancel();
    files_timer.cancel();
    discovery.stop();
    boost::system::error_code ignored;
    signals.cancel(ignored);
    http.stop();
    scheduler.stop();
    // Give cancelled probes a moment to unwind, then stop the loop whatever is left.
    stop_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
    poll_stop();
  }

  void heartbeat() {
    if (!options.hooks.heartbeat || options.hooks.heartbeat_interval.count() <= 0) return;
    heartbeat_timer.expires_after(options.hooks.heartbeat_interval);
    heartbeat_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping) return;
      options.hooks.heartbeat();
      heartbeat();
    });
  }

  void poll_stop() {
    if (scheduler.in_flight() == 0 || std::chrono::steady_clock::now() >= stop_deadline) {
      io.stop();
      return;
    }
    stop_timer.expires_after(std::chrono::milliseconds(10));
    stop_timer.async_wait([this](boost::system::error_code) { poll_stop(); });
  }

  asio::io_context& io;
  AppOptions options;
  asio::signal_set signals;
  ProbeResources probes;  // the TLS contexts and datagram sockets every probe shares
  ResultTable table;
  Scheduler scheduler;
  HttpServer http;
  ProbeEndpoint probe_endpoint;
  MetricsEndpoint metrics_endpoint;  // /metrics: the self-metrics, then the table's families
  std::unique_ptr<MetricOutputs> outputs;
  Config base;  // the last good configuration file, without the target files' targets
  TargetFiles files;
  // The [[ksc]] sections' refresh loops; their targets join the plan (plan_from).
  ksc::Discovery discovery{io.get_executor(), discovery_options()};
  std::set<std::string> warned;  // compose warnings already logged
  std::shared_ptr<const WebSecurity> current_sec;
  asio::steady_timer files_timer{io};
  asio::steady_timer stop_timer{io};
  asio::steady_timer heartbeat_timer{io};
  std::chrono::steady_clock::time_point stop_deadline;
  LocalFaults local_faults;                // probes that failed on this host
  unsigned long long open_file_limit = 0;  // set by start()
  std::size_t web_connections = HttpServer::Limits{}.max_connections;  // before fitting
  OpenFileFit fit;           // the budgets in force against the limit
  std::string logged_clamp;  // the last lowering logged
  bool behind = false;       // falling behind was logged, and its end not yet
  bool ready = false;
  bool last_reload_ok = true;
  double last_reload_success_ts = 0;  // unix seconds of the last successful load
  bool stopping = false;
};

App::App(asio::io_context& io, AppOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

App::~App() = default;

bool App::start() {
  auto& im = *impl_;
  // Every TCP, TLS and HTTP(S) probe in flight holds a descriptor: the budgets must fit.
  im.open_file_limit =
      im.options.open_file_limit ? im.options.open_file_limit : platform::raise_open_file_limit();
  ComposedConfig composed = compose(config_sources(im.options), &im.files);
  if (!composed.ok()) {
    log::error("invalid configuration", {{"file", config_source(im.options)},
                                         {"errors", std::to_string(composed.errors.size())}});
    for (const auto& e : composed.errors)
      log::error("configuration error", {{"error", e.format()}});
    return false;
  }
  Impl::log_target_errors(composed.target_errors);
  im.base = std::move(composed.base);
  std::shared_ptr<const Plan> plan = std::move(composed.plan);
  std::string err;
  std::shared_ptr<const WebSecurity> sec;
  if (!im.prepare_security(*plan, &sec, &err)) {
    log::error("invalid web configuration", {{"error", err}});
    return false;
  }
  im.http.set_security(sec);
  bool listening = im.options.listen_fd >= 0 ? im.http.adopt(im.options.listen_fd, &err)
                                             : im.http.listen(im.options.listen_address, &err);
  if (!listening) {
    log::error("cannot start the web listener", {{"error", err}});
    return false;
  }
  im.install(plan, sec);
  im.watch_files();
  // Probing starts with the configured targets; discovered ones join as each server answers.
  im.discovery.on_change = [&im] { im.on_discovery_change(); };
  im.metrics_endpoint.set_agents([&im] { return im.discovery.agent_sections(); });
  im.set_discovery(im.base);
  if (!im.options.outputs.textfile_path.empty() || !im.options.outputs.push_url.empty()) {
    MetricText text;
    text.whole = [&im] { return im.render(); };
    text.pieces = [&im](MetricText::Sink sink) {
      return im.metrics_endpoint.render_pieces(std::move(sink));
    };
    im.outputs =
        std::make_unique<MetricOutputs>(im.io.get_executor(), im.options.outputs, std::move(text));
    if (!im.outputs->start(&err)) {
      log::error("cannot start the metric outputs", {{"error", err}});
      return false;
    }
  }
  im.wait_signal();
  im.ready = true;
  im.heartbeat();
  if (im.options.hooks.ready) im.options.hooks.ready();
  std::array<unsigned, kRoleCount> per_role{};
  for (const auto& t : plan->targets) ++per_role[static_cast<int>(t.role)];
  std::string roles;
  for (int r = 0; r < kRoleCount; ++r) {
    if (!per_role[r]) continue;
    if (!roles.empty()) roles += ',';
    roles += std::string(to_string(static_cast<Role>(r))) + ':' + std::to_string(per_role[r]);
  }
  log::info("kscprobe started", {{"version", KSCPROBE_VERSION},
                                 {"config", config_source(im.options)},
                                 {"targets", std::to_string(plan->targets.size())},
                                 {"roles", roles},
                                 {"checks", std::to_string(plan->checks.size())},
                                 {"max_in_flight", std::to_string(im.scheduler.budgets()[0])},
                                 {"max_quiet_in_flight", std::to_string(im.scheduler.budgets()[2])},
                                 {"open_files_limit", std::to_string(im.fit.limit)},
                                 {"budgets_clamped", im.fit.clamped ? "1" : "0"},
                                 {"listen_address", im.http.local_address()},
                                 {"tls", sec->tls ? "on" : "off"},
                                 {"basic_auth", sec->users.empty() ? "off" : "on"}});
  return true;
}

bool App::reload() { return impl_->do_reload(nullptr); }
void App::stop() {
  asio::post(impl_->io, [im = impl_.get()] { im->stop(); });
}
void App::request_reload() {
  asio::post(impl_->io, [im = impl_.get()] { im->do_reload(nullptr); });
}
std::string App::listen_address() const { return impl_->http.local_address(); }
std::shared_ptr<const Plan> App::plan() const { return impl_->table.plan_ptr(); }
std::string App::render_metrics() const { return impl_->render(); }

}  // namespace kscprobe
