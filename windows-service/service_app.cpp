// The full Windows service body: the same App as on Linux, driven by the service host. Built by
// the "windows-mingw" preset (mingw-w64, on Linux) and the "windows-msvc" one (CMakePresets.json).
#include <algorithm>
#include <boost/asio/io_context.hpp>

#include "daemon/app.hpp"
#include "daemon/logging.hpp"
#include "windows-service/service.hpp"
#include "windows-service/service_framework.hpp"

namespace kscprobe::winsvc {

namespace {

int app_body(ServiceContext& ctx, const std::vector<std::string>& args) {
  std::string err;
  if (!log::setup(flag_value(args, "--log.level").value_or("info"),
                  flag_value(args, "--log.format").value_or("logfmt"), &err)) {
    ctx.event(EventId::start_failed, err);
    return 2;
  }
  AppOptions options;
  options.config_file = flag_value(args, "--config.file").value_or("kscprobe.toml");
  options.listen_address = flag_value(args, "--web.listen-address").value_or(":9851");
  options.log_probes = std::find(args.begin(), args.end(), "--log.probes") != args.end();
  // Hooks run on the event loop; SetServiceStatus and ReportEvent are safe from any thread.
  options.hooks.ready = [&ctx, file = options.config_file] {
    ctx.report_running();
    ctx.event(EventId::started, "configuration " + file);
  };
  options.hooks.reloaded = [&ctx, file = options.config_file](bool ok) {
    ctx.event(ok ? EventId::reloaded : EventId::reload_rejected,
              file + (ok ? "" : " (the errors are in the log file)"));
  };
  options.hooks.stopping = [&ctx] { ctx.report_stopping(); };
  boost::asio::io_context io;
  App app(io, options);
  ctx.on_stop([&app] { app.stop(); });
  ctx.on_reload([&app] { app.request_reload(); });
  if (!app.start()) {
    ctx.event(EventId::start_failed,
              "invalid configuration or listen address (the errors are in the log file)");
    return 1;
  }
  io.run();
  log::info("kscprobe stopped");
  return 0;
}

}  // namespace

std::optional<int> maybe_run(int, char**) {
  ServiceInfo info{L"kscprobe", L"kscprobe (KSC port prober)",
                   L"Probes the network ports of a Kaspersky Security Center estate and serves "
                   L"Prometheus metrics."};
  // The framework reads the wide command line itself, so paths outside the ANSI code page work.
  return handle_command_line(info, app_body);
}

}  // namespace kscprobe::winsvc
