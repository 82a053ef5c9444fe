// kscprobe: probes the network ports of a Kaspersky Security Center estate and serves the
// results as Prometheus metrics.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <iostream>
#include <optional>

#include "config/compose.hpp"
#include "config/target_files.hpp"
#include "daemon/app.hpp"
#include "daemon/demo.hpp"
#include "daemon/logging.hpp"
#include "daemon/once_runner.hpp"
#include "daemon/runtime/open_files.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "daemon/web/http_server.hpp"
#include "platform/files.hpp"
#ifdef _WIN32
#include "windows-service/service.hpp"
#else
#include "systemd/sd_notify.hpp"
#endif

namespace {

constexpr const char* kDefaultListen = ":9851";
constexpr const char* kDemoListen = "127.0.0.1:9851";

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kscprobe;
#ifdef _WIN32
  // `kscprobe service ...`: install/uninstall/start/stop, or run under the service manager.
  if (auto rc = winsvc::maybe_run(argc, argv)) return *rc;
#endif
  CLI::App cli{
      "kscprobe: watches the network paths of a Kaspersky Security Center estate (administration "
      "servers, distribution points, agents, Web Console, iOS MDM, database) and serves "
      "reachability, latency, certificate and failure-reason metrics for Prometheus."};
  cli.get_formatter()->column_width(34);
  std::string config_file, listen, log_level = "info", log_format = "logfmt";
  bool config_check = false, show_catalog = false, once = false, demo = false,
       demo_ephemeral = false, version = false, log_probes = false;
  std::string probe_host, probe_role = "server", probe_engine;
  std::vector<std::string> probe_features;
  std::string probe_timeout = "5s";

  cli.add_option("--config.file", config_file, "TOML file describing the estate");
  cli.add_flag("--config.check", config_check,
               "Validate --config.file, print every error as file:line:column and exit (0: valid)");
  std::string web_config_file, textfile_interval = "15s", push_interval = "30s";
  MetricOutputOptions outputs;
  cli.add_option("--write-textfile", outputs.textfile_path,
                 "Also write the metrics to this .prom file (textfile collector), atomically");
  cli.add_option("--write-textfile.interval", textfile_interval, "How often to write it")
      ->capture_default_str();
  cli.add_option("--push.url", outputs.push_url,
                 "Also push the metrics to this Pushgateway (http://host:9091)");
  cli.add_option("--push.job", outputs.push_job, "Pushgateway job label")->capture_default_str();
  cli.add_option("--push.instance", outputs.push_instance,
                 "Pushgateway instance label (default: host name)");
  cli.add_option("--push.interval", push_interval, "How often to push")->capture_default_str();
  cli.add_option("--web.config.file", web_config_file,
                 "exporter-toolkit web configuration (YAML): TLS and basic auth of the endpoint");
  cli.add_option("--web.listen-address", listen,
                 std::string("Address of /metrics (default ") + kDefaultListen + ", demo " +
                     kDemoListen + ")");
  cli.add_option("--log.level", log_level, "debug, info, warn or error")->capture_default_str();
  cli.add_option("--log.format", log_format, "logfmt or json")->capture_default_str();
  cli.add_flag("--log.probes", log_probes, "Log every probe result at debug level");
  cli.add_flag("--catalog", show_catalog, "Print the built-in KSC port catalog and exit");
  cli.add_flag("--once", once,
               "Probe every check once, print a table, exit 0 if all passed, 1 otherwise");
  cli.add_option("--probe", probe_host,
                 "With --once: probe this host with its role's catalog checks, no file needed");
  cli.add_option("--role", probe_role, "With --probe: the host's KSC role")->capture_default_str();
  cli.add_option("--features", probe_features, "With --probe: features (e.g. ksn_proxy,mobile)")
      ->delimiter(',');
  cli.add_option("--engine", probe_engine,
                 "With --probe --role database: mysql, mssql, postgresql");
  cli.add_option("--timeout", probe_timeout, "With --probe: probe timeout")->capture_default_str();
  // Only the executable with a demo estate (kscprobe-demo) offers it. The installed kscprobe
  // keeps the flags out of its --help (an empty group hides them) and answers them with where
  // the demo is.
  const char* demo_group = demo::available() ? "Options" : "";
  cli.add_flag("--demo", demo,
               "Start the built-in demo estate on 127.77.x.x and probe it (no config needed)")
      ->group(demo_group);
  cli.add_flag("--demo.ephemeral-ports", demo_ephemeral,
               "Demo estate on random ports instead of KSC's defaults")
      ->group(demo_group);
  std::string shard;
  cli.add_option("--shard", shard,
                 "Probe only the targets of shard i of n (\"i/n\", from 0), so n instances "
                 "sharing one configuration cover the estate once; overrides [daemon] shard");
  cli.add_flag("--version", version, "Print the version and exit");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }

  if (version) {
    std::cout << "kscprobe " << KSCPROBE_VERSION << '\n';
    return 0;
  }
  if (show_catalog) {
    print_catalog(std::cout);
    return 0;
  }
  std::optional<Shard> shard_override;
  if (!shard.empty()) {
    std::string why;
    shard_override = parse_shard(shard, &why);
    if (!shard_override) {
      std::cerr << "kscprobe: --shard: " << why << '\n';
      return 2;
    }
  }
  std::string log_error;
  if (!log::setup(log_level, log_format, &log_error)) {
    std::cerr << "kscprobe: " << log_error << '\n';
    return 2;
  }

  if (config_check) {
    if (config_file.empty()) {
      std::cerr << "kscprobe: --config.check needs --config.file\n";
      return 2;
    }
    // The daemon's composition (config/compose.hpp), strict: target files are part of the
    // configuration, and an error in one fails the check.
    AppOptions check;
    check.config_file = config_file;
    check.web_config_file = web_config_file;
    check.shard = shard_override;
    TargetFiles files;
    // What the daemon would do at start: fit the plan's concurrency to the open-file limit.
    auto warn_limits = [&outputs](const Plan& plan, const Config& base) {
      const unsigned long long limit = platform::raise_open_file_limit();
      const SchedulerCore::Budgets budgets = Scheduler::plan_budgets(plan);
      const OpenFileDemand demand =
          demand_of(plan, budgets, static_cast<unsigned>(HttpServer::Limits{}.max_connections),
                    static_cast<unsigned>(base.ksc.size()), outputs.count());
      const OpenFileFit fit = fit_open_files(demand, limit);
      if (!fit.clamped) return;
      std::cerr << "warning: the plan's concurrency needs " << fit.needed
                << " open files (a reserve of " << fit.reserve << " included) and the limit is "
                << fit.limit << ": the daemon will lower " << describe_clamp(demand, fit)
                << "; raise LimitNOFILE= (systemd) or ulimit -n to at least " << fit.recommended
                << '\n';
    };
    return check_config(config_sources(check), &files, std::cout, std::cerr, warn_limits);
  }

  boost::asio::io_context io;
  std::unique_ptr<demo::Estate> estate;
  AppOptions options;
  options.log_probes = log_probes;
  options.shard = shard_override;
  if (demo) {
    if (!demo::available()) {
      std::cerr << "kscprobe: this executable has no demo estate: run kscprobe-demo --demo "
                   "(scripts/demo.sh builds and starts it)\n";
      return 2;
    }
    try {
      estate = demo::start(io, demo_ephemeral);
    } catch (const std::exception& e) {
      std::cerr << "kscprobe: cannot start the demo estate: " << e.what() << '\n';
      return 1;
    }
    options.config_text = estate->config_toml();
    options.config_name = "demo.toml";
  } else if (!probe_host.empty()) {
    if (!once) {
      std::cerr << "kscprobe: --probe is for troubleshooting and needs --once\n";
      return 2;
    }
    // Built as TOML so the command line gets exactly the file's validation and messages.
    std::string toml = "[daemon]\ninterval = \"1h\"\ntimeout = " + quote(probe_timeout) +
                       "\n[[target]]\nname = " + quote(probe_host) +
                       "\naddress = " + quote(probe_host) + "\nrole = " + quote(probe_role) + "\n";
    if (!probe_engine.empty()) toml += "engine = " + quote(probe_engine) + "\n";
    toml += "features = [";
    for (std::size_t i = 0; i < probe_features.size(); ++i)
      toml += (i ? ", " : "") + quote(probe_features[i]);
    toml += "]\n";
    options.config_text = toml;
    options.config_name = "command line";
  } else if (config_file.empty()) {
    std::cerr << "kscprobe: no configuration: pass --config.file=FILE"
              << (demo::available() ? ", or --demo to try the built-in demo estate"
                                    : ", or run kscprobe-demo --demo to try the demo estate")
              << " (see --help)\n";
    return 2;
  } else {
    options.config_file = config_file;
  }

  if (once) {
    LoadedPlan loaded = load_plan(options, &io);
    if (!loaded.ok()) {
      print_errors(loaded.errors, std::cerr);
      return 1;
    }
    return run_once(io, *loaded.plan, std::cout);
  }

  if (listen.empty()) listen = demo ? kDemoListen : kDefaultListen;
  options.listen_address = listen;
  options.web_config_file = web_config_file;
  {
    std::string why;
    auto ti = parse_duration(textfile_interval, &why);
    auto pi = ti ? parse_duration(push_interval, &why) : std::nullopt;
    if (!ti || !pi) {
      std::cerr << "kscprobe: " << why << '\n';
      return 2;
    }
    outputs.textfile_interval = *ti;
    outputs.push_interval = *pi;
    options.outputs = outputs;
  }
#ifndef _WIN32
  // READY/RELOADING/STOPPING, watchdog and socket activation; a no-op outside systemd.
  systemd::configure(options);
#endif
  // Probes in flight hold descriptors; a large estate needs more than the soft default.
  platform::raise_open_file_limit();
  {
    App app(io, options);
    if (!app.start()) return 1;
    if (demo) {
      std::string addr = app.listen_address();
      if (addr.rfind("[::]", 0) == 0 || addr.rfind("0.0.0.0", 0) == 0)
        addr = "127.0.0.1" + addr.substr(addr.rfind(':'));
      std::cout << "kscprobe demo: " << app.plan()->targets.size() << " simulated KSC hosts on "
                << "127.77.x.x, " << app.plan()->checks.size() << " checks\n"
                << "  metrics: http://" << addr << "/metrics\n"
                << "  health:  http://" << addr << "/-/healthy\n"
                << "Press Ctrl-C to stop." << std::endl;
    }
    io.run();
  }
  log::info("kscprobe stopped");
  return 0;
}
