// The full Windows service body: the same App as on Linux, driven by the service host. Built
// by MSVC with vcpkg (CMakePresets.json); the mingw-w64 build on Linux cannot link the App
// (no OpenSSL or prometheus-cpp there) and uses mingw/reduced_main.cpp instead.
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
    ctx.event(EventType::error, err);
    return 2;
  }
  AppOptions options;
  options.config_file = flag_value(args, "--config.file").value_or("kscprobe.toml");
  options.listen_address = flag_value(args, "--web.listen-address").value_or(":9851");
  options.log_probes = flag_value(args, "--log.probes").has_value();
  // Hooks run on the event loop; SetServiceStatus and ReportEvent are safe from any thread.
  options.hooks.ready = [&ctx] {
    ctx.report_running();
    ctx.event(EventType::info, "kscprobe started");
  };
  options.hooks.reloaded = [&ctx](bool ok) {
    ctx.event(ok ? EventType::info : EventType::warning,
              ok ? "configuration reloaded"
                 : "configuration reload rejected; the previous configuration keeps running "
                   "(see the log file)");
  };
  options.hooks.stopping = [&ctx] { ctx.report_stopping(); };
  boost::asio::io_context io;
  App app(io, options);
  ctx.on_stop([&app] { app.stop(); });
  ctx.on_reload([&app] { app.request_reload(); });
  if (!app.start()) {
    ctx.event(EventType::error,
              "kscprobe could not start: invalid configuration or listen "
              "address (see the log file)");
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
