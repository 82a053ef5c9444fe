#include "daemon/app.hpp"

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>

#include "collectors/probe_resources.hpp"
#include "collectors/prober.hpp"
#include "daemon/discovery/discovery.hpp"
#include "daemon/exposition/self_metrics.hpp"
#include "daemon/logging.hpp"
#include "daemon/probe_setup.hpp"
#include "daemon/routes.hpp"
#include "daemon/runtime/open_files.hpp"
#include "daemon/runtime/result_recorder.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "daemon/web/http_server.hpp"
#include "daemon/web/metrics_endpoint.hpp"
#include "daemon/web/probe_endpoint.hpp"
#include "daemon/web/web_security.hpp"
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

LoadedPlan load_plan(const AppOptions& options, asio::io_context* io) {
  return load_plan(config_sources(options), io);
}

/// The parts put together: the composer owns the plan, the recorder what probes found, the
/// routes the HTTP answers; the App owns the loop's lifetime (signals, heartbeat, shutdown).
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
            [this](std::uint32_t index, const ProbeResult& r) { recorder.record(index, r); }),
        http(io_.get_executor(), [this](HttpRequest req) { return routes.route(std::move(req)); }),
        probe_endpoint(io_.get_executor(), probes.env()),
        metrics_endpoint(io_.get_executor(), table, scheduler,
                         [this](std::string& out) { write_self_metrics(out); }),
        composer(io_, {http, table, scheduler, probe_endpoint},
                 {config_sources(options), options.open_file_limit, options.outputs.count()}),
        recorder(table, scheduler, composer.fit(), log::sink(), options.log_probes),
        routes({metrics_endpoint, probe_endpoint, table, recorder, composer,
                [this](std::string* errors) { return reload(errors); }}) {
    // SIGHUP reloads the configuration; Windows has none (the service reload control does it).
    if constexpr (platform::kReloadSignal != 0) signals.add(platform::kReloadSignal);
    metrics_endpoint.set_agents([this] { return composer.discovery().agent_sections(); });
  }

  /// The daemon's own families, ahead of the result table's.
  void write_self_metrics(std::string& out) const {
    exposition::SelfMetrics m;
    m.last_reload_ok = composer.last_load_ok();
    m.last_reload_success_ts = composer.last_load_success_unix();
    std::vector<ksc::DiscoveryStatus> status;
    if (composer.discovers()) status = composer.discovery().status();
    m.discovery = status;
    m.local_faults = &recorder.local_faults();
    m.local_faults_active = recorder.local_faults_active();
    m.fit = composer.fit();
    m.budgets = scheduler.budgets();
    const ResolverStats resolver = probes.resolver().stats();
    m.resolver = &resolver;
    exposition::write_self_metrics(out, m);
  }

  /// A reload from any source: the service manager is told, and the time it holds the loop
  /// (probes and scrapes wait for it) is logged.
  bool reload(std::string* error_text) {
    if (options.hooks.reloading) options.hooks.reloading();
    auto start = std::chrono::steady_clock::now();
    double cpu_start = platform::thread_cpu_seconds();
    bool ok = composer.apply(PlanComposer::Reason::reload, error_text);
    double cpu = platform::thread_cpu_seconds() - cpu_start;
    std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
    log::info("configuration reload time", {{"success", ok ? "1" : "0"},
                                            {"seconds", std::to_string(wall.count())},
                                            {"cpu_seconds", std::to_string(cpu)}});
    if (options.hooks.reloaded) options.hooks.reloaded(ok);
    return ok;
  }

  /// Binds the listener (or adopts the socket-activated one): at start, once the first plan's
  /// web security is set and before the plan runs.
  bool listen() {
    std::string err;
    bool listening = options.listen_fd >= 0 ? http.adopt(options.listen_fd, &err)
                                            : http.listen(options.listen_address, &err);
    if (!listening) log::error("cannot start the web listener", {{"error", err}});
    return listening;
  }

  /// The textfile and Pushgateway outputs write what /metrics serves.
  bool start_outputs() {
    MetricText text;
    text.whole = [this] { return metrics_endpoint.render(); };
    text.pieces = [this](MetricText::Sink sink) {
      return metrics_endpoint.render_pieces(std::move(sink));
    };
    outputs = std::make_unique<MetricOutputs>(io.get_executor(), options.outputs, std::move(text));
    std::string err;
    if (outputs->start(&err)) return true;
    log::error("cannot start the metric outputs", {{"error", err}});
    return false;
  }

  void log_started() const {
    const Plan& plan = table.plan();
    std::array<unsigned, kRoleCount> per_role{};
    for (const auto& t : plan.targets) ++per_role[static_cast<int>(t.role)];
    std::string roles;
    for (int r = 0; r < kRoleCount; ++r) {
      if (!per_role[r]) continue;
      if (!roles.empty()) roles += ',';
      roles += std::string(to_string(static_cast<Role>(r))) + ':' + std::to_string(per_role[r]);
    }
    const WebSecurity& sec = composer.security();
    log::info("kscprobe started",
              {{"version", KSCPROBE_VERSION},
               {"config", composer.config_name()},
               {"targets", std::to_string(plan.targets.size())},
               {"roles", roles},
               {"checks", std::to_string(plan.checks.size())},
               {"max_in_flight", std::to_string(scheduler.budgets()[0])},
               {"max_datagram_in_flight", std::to_string(scheduler.budgets()[1])},
               {"max_quiet_in_flight", std::to_string(scheduler.budgets()[2])},
               {"open_files_limit", std::to_string(composer.fit().limit)},
               {"budgets_clamped", composer.fit().clamped ? "1" : "0"},
               {"listen_address", http.local_address()},
               {"tls", sec.tls ? "on" : "off"},
               {"basic_auth", sec.users.empty() ? "off" : "on"}});
  }

  void wait_signal() {
    signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == platform::kReloadSignal) {
        log::info("SIGHUP received, reloading configuration");
        reload(nullptr);
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
    routes.set_ready(false);
    if (options.hooks.stopping) options.hooks.stopping();
    if (outputs) {
      outputs->flush_textfile();  // the last state, not one from up to an interval ago
      outputs->stop();
    }
    heartbeat_timer.cancel();
    composer.stop();
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
  PlanComposer composer;             // the plan: composed, checked, installed
  ResultRecorder recorder;           // what each probe found, and the host's own faults
  Routes routes;
  std::unique_ptr<MetricOutputs> outputs;
  asio::steady_timer stop_timer{io};
  asio::steady_timer heartbeat_timer{io};
  std::chrono::steady_clock::time_point stop_deadline;
  bool stopping = false;
};

App::App(asio::io_context& io, AppOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

App::~App() = default;

bool App::start() {
  auto& im = *impl_;
  if (!im.composer.apply(PlanComposer::Reason::start, nullptr, [&im] { return im.listen(); }))
    return false;
  if (im.options.outputs.count() > 0 && !im.start_outputs()) return false;
  im.wait_signal();
  im.routes.set_ready(true);
  im.heartbeat();
  if (im.options.hooks.ready) im.options.hooks.ready();
  im.log_started();
  return true;
}

bool App::reload() { return impl_->reload(nullptr); }
void App::stop() {
  asio::post(impl_->io, [im = impl_.get()] { im->stop(); });
}
void App::request_reload() {
  asio::post(impl_->io, [im = impl_.get()] { im->reload(nullptr); });
}
std::string App::listen_address() const { return impl_->http.local_address(); }
std::shared_ptr<const Plan> App::plan() const { return impl_->table.plan_ptr(); }
std::string App::render_metrics() const { return impl_->metrics_endpoint.render(); }

}  // namespace kscprobe
