#include "daemon/plan_composer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <utility>

#include "config/target_files.hpp"
#include "daemon/discovery/discovery.hpp"
#include "daemon/logging.hpp"
#include "daemon/runtime/open_files.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "daemon/web/http_server.hpp"
#include "daemon/web/probe_endpoint.hpp"
#include "daemon/web/web_security.hpp"
#include "platform/files.hpp"
#include "platform/platform.hpp"

namespace kscprobe {

namespace asio = boost::asio;

namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
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

// Target file errors: the daemon runs on, with the files' last good content.
void log_target_errors(const std::vector<ConfigError>& errors) {
  for (const auto& e : errors)
    log::error("target file error, keeping its last good content", {{"error", e.format()}});
}

}  // namespace

LoadedPlan load_plan(const ConfigSources& sources, asio::io_context* io) {
  LoadedPlan out;
  Config base;
  if (!compose_base(sources, &base, &out.errors)) return out;
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

struct PlanComposer::Impl {
  Impl(asio::io_context& io_, Targets targets, Options o)
      : io(io_), t(targets), options(std::move(o)), open_file_limit(options.open_file_limit) {
    // Probing starts with the configured targets; discovered ones join as each server answers.
    discovery.on_change = [this] { apply(Reason::discovery, nullptr, {}); };
  }

  bool apply(Reason reason, std::string* error_text, const Gate& gate) {
    std::shared_ptr<const Plan> plan;
    if (reason == Reason::start || reason == Reason::reload) {
      std::optional<Loaded> next = load(reason, error_text);
      if (!next) return false;
      t.http.set_security(next->sec);
      if (gate && !gate()) return false;
      const bool watch =
          base.target_files.patterns.empty() && !next->base.target_files.patterns.empty();
      base = std::move(next->base);
      plan = std::move(next->plan);
      // The sections of the new file: a changed or removed one takes its targets away.
      if (set_discovery(base)) plan = plan_from(base);
      install(plan, std::move(next->sec));
      if (watch) watch_files();
    } else {
      if (stopped) return false;
      plan = plan_from(base);
      install(plan, current_sec);
    }
    announce(reason, *plan);
    return true;
  }

  /// A configuration read and composed again, with its web security.
  struct Loaded {
    Config base;  // the file's own, without the target files' targets
    std::shared_ptr<const Plan> plan;
    std::shared_ptr<const WebSecurity> sec;
  };

  /// Reads and composes the configuration again and builds its web security; nothing, with
  /// every error logged, when the configuration or the web configuration is refused.
  std::optional<Loaded> load(Reason reason, std::string* error_text) {
    const bool start = reason == Reason::start;
    // Every TCP, TLS and HTTP(S) probe in flight holds a descriptor: the budgets must fit.
    if (start && open_file_limit == 0) open_file_limit = platform::raise_open_file_limit();
    const DiscoveredTargets discovered = discovery.target_lists();
    ComposedConfig composed = compose(options.sources, &files, &discovered);
    const std::string& file = options.sources.name();
    if (!composed.ok()) {
      const std::string count = std::to_string(composed.errors.size());
      if (start) {
        log::error("invalid configuration", {{"file", file}, {"errors", count}});
      } else {
        last_ok = false;
        log::error("configuration reload failed, keeping the running configuration",
                   {{"file", file}, {"errors", count}});
      }
      for (const auto& e : composed.errors) {
        log::error("configuration error", {{"error", e.format()}});
        if (error_text) *error_text += e.format() + "\n";
      }
      return std::nullopt;
    }
    log_target_errors(composed.target_errors);
    log_new_warnings(composed.warnings);
    Loaded next{std::move(composed.base), std::move(composed.plan), nullptr};
    std::string sec_error;
    if (!build_web_security(next.plan->web, &next.sec, &sec_error)) {
      if (start) {
        log::error("invalid web configuration", {{"error", sec_error}});
      } else {
        last_ok = false;
        log::error("configuration reload failed, keeping the running configuration",
                   {{"file", file}, {"error", sec_error}});
      }
      if (error_text) *error_text += sec_error + "\n";
      return std::nullopt;
    }
    if (!start && next.sec->tls.operator bool() != t.http.tls_enabled()) {
      log::warn("TLS on the listener changes for new connections only",
                {{"tls", next.sec->tls ? "on" : "off"}});
    }
    return next;
  }

  /// What the new plan came from, said once it runs (start: App says more).
  void announce(Reason reason, const Plan& plan) const {
    const std::string targets = std::to_string(plan.targets.size());
    const std::string checks = std::to_string(plan.checks.size());
    switch (reason) {
      case Reason::start:
        break;
      case Reason::reload:
        log::info("configuration reloaded",
                  {{"file", options.sources.name()}, {"targets", targets}, {"checks", checks}});
        break;
      case Reason::target_files:
        log::info(
            "target files changed",
            {{"files", std::to_string(files.files())}, {"targets", targets}, {"checks", checks}});
        break;
      case Reason::discovery:
        log::info("KSC discovery changed the targets",
                  {{"discovered", std::to_string(discovery.target_count())},
                   {"targets", targets},
                   {"checks", checks}});
        break;
    }
  }

  /// The plan of `cfg` plus the targets of its target files (re-scanned now) and discovery's.
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

  void watch_files() {
    if (base.target_files.patterns.empty() || stopped) return;
    files_timer.expires_after(base.target_files.refresh);
    files_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopped) return;
      std::vector<ConfigError> errors;
      bool changed = files.scan(base.target_files.patterns, &errors);
      log_target_errors(errors);
      if (changed) apply(Reason::target_files, nullptr, {});
      watch_files();
    });
  }

  void install(std::shared_ptr<const Plan> plan, std::shared_ptr<const WebSecurity> sec) {
    current_sec = sec;
    t.http.set_security(std::move(sec));
    std::vector<std::uint32_t> old_to_new;
    t.table = ResultTable::carry_over(plan, t.table, &old_to_new);
    auto [budgets, fitted] = fit_budgets(*plan);
    fit = fitted;
    t.scheduler.set_plan(plan, old_to_new, budgets);
    t.http.set_max_connections(fit.web_connections);
    // The networks were parsed (and any error reported) by the loader.
    t.probe.configure(plan, AllowList(plan->probe.allow), fit.probe_requests);
    last_ok = true;
    last_success_ts = unix_now();
    // Parsing 100 000 targets leaves tens of megabytes of freed parser memory in the heap; hand
    // it back to the system instead of carrying it as resident memory until the next reload.
    platform::release_free_memory();
  }

  /// Fits the plan's budgets, the listener's connections and /probe's concurrency to the
  /// open-file limit (open_files.hpp); says so when it must lower them.
  std::pair<SchedulerCore::Budgets, OpenFileFit> fit_budgets(const Plan& plan) {
    SchedulerCore::Budgets budgets = Scheduler::plan_budgets(plan);
    const OpenFileDemand demand = demand_of(
        plan, budgets, kWebConnections, static_cast<unsigned>(base.ksc.size()), options.outputs);
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

  // The listener's connections before fitting.
  static constexpr unsigned kWebConnections =
      static_cast<unsigned>(HttpServer::Limits{}.max_connections);

  asio::io_context& io;
  Targets t;
  Options options;
  Config base;  // the last good configuration file, without the target files' targets
  TargetFiles files;
  // The [[ksc]] sections' refresh loops; their targets join the plan (plan_from).
  ksc::Discovery discovery{io.get_executor(), discovery_options()};
  std::set<std::string> warned;  // compose warnings already logged
  std::shared_ptr<const WebSecurity> current_sec;
  asio::steady_timer files_timer{io};
  unsigned long long open_file_limit = 0;
  OpenFileFit fit;           // the budgets in force against the limit
  std::string logged_clamp;  // the last lowering logged
  bool last_ok = true;
  double last_success_ts = 0;  // unix seconds of the last successful load
  bool stopped = false;
};

PlanComposer::PlanComposer(asio::io_context& io, Targets targets, Options options)
    : impl_(std::make_unique<Impl>(io, targets, std::move(options))) {}

PlanComposer::~PlanComposer() = default;

bool PlanComposer::apply(Reason reason, std::string* error_text, const Gate& gate) {
  return impl_->apply(reason, error_text, gate);
}

void PlanComposer::stop() {
  impl_->stopped = true;
  impl_->files_timer.cancel();
  impl_->discovery.stop();
}

const std::string& PlanComposer::config_name() const { return impl_->options.sources.name(); }
bool PlanComposer::last_load_ok() const { return impl_->last_ok; }
double PlanComposer::last_load_success_unix() const { return impl_->last_success_ts; }
const OpenFileFit& PlanComposer::fit() const { return impl_->fit; }
const WebSecurity& PlanComposer::security() const { return *impl_->current_sec; }
bool PlanComposer::discovers() const { return !impl_->base.ksc.empty(); }
const ksc::Discovery& PlanComposer::discovery() const { return impl_->discovery; }

}  // namespace kscprobe
