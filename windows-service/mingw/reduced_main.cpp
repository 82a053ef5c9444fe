// The reduced Windows build made with mingw-w64 on Linux (scripts/test.d/40-windows.sh).
// Debian ships no mingw OpenSSL, so this binary runs the real service host
// (windows-service/service_framework.cpp), configuration loader, catalog, plan expansion and
// logger, with a small Beast endpoint (/-/healthy, /-/ready, /metrics with the plan's sizes)
// standing in for the App. The MSVC build (windows-service/service_app.cpp) runs the full App
// in the same service host.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "config/catalog.hpp"
#include "config/compose.hpp"
#include "config/plan.hpp"
#include "daemon/logging.hpp"
#include "windows-service/mingw/config_check.hpp"
#include "windows-service/service_framework.hpp"

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

using namespace kscprobe;

struct State {
  std::string config_file;
  std::shared_ptr<const Plan> plan;
};

bool load(State& s, winsvc::ServiceContext& ctx, bool reload) {
  ConfigSources sources;
  sources.file = s.config_file;
  // Without target files, the web config file or --shard: see config_check.cpp.
  ComposedConfig c = compose(sources, nullptr);
  if (!c.ok()) {
    log::error("invalid configuration",
               {{"file", s.config_file}, {"errors", std::to_string(c.errors.size())}});
    std::string text;
    for (const auto& e : c.errors) {
      log::error("configuration error", {{"error", e.format()}});
      text += e.format() + "\n";
    }
    ctx.event(reload ? winsvc::EventId::reload_rejected : winsvc::EventId::start_failed,
              "invalid configuration " + s.config_file + ":\n" + text);
    return false;
  }
  s.plan = std::move(c.plan);
  return true;
}

std::string metrics(const State& s) {
  std::map<std::string, int> per_role;
  for (const auto& t : s.plan->targets) ++per_role[std::string(to_string(t.role))];
  std::string out = "# TYPE kscprobe_build_info gauge\nkscprobe_build_info{version=\"" +
                    std::string(KSCPROBE_VERSION) + "\"} 1\n# TYPE kscprobe_targets gauge\n" +
                    "kscprobe_targets " + std::to_string(s.plan->targets.size()) +
                    "\n# TYPE kscprobe_checks_total gauge\nkscprobe_checks_total " +
                    std::to_string(s.plan->checks.size()) + "\n";
  return out;
}

// One request per connection, answered synchronously: enough for health checks and the test.
void accept_loop(tcp::acceptor& acc, State& s) {
  acc.async_accept([&acc, &s](boost::system::error_code ec, tcp::socket sock) {
    if (ec) return;  // closed by stop
    boost::beast::flat_buffer buf;
    http::request<http::string_body> req;
    boost::system::error_code rec;
    http::read(sock, buf, req, rec);
    if (!rec) {
      http::response<http::string_body> res;
      res.version(req.version());
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      std::string target(req.target());
      if (target == "/-/healthy" || target == "/-/ready") {
        res.result(http::status::ok);
        res.body() = "OK\n";
      } else if (target == "/metrics") {
        res.result(http::status::ok);
        res.body() = metrics(s);
      } else {
        res.result(http::status::not_found);
        res.body() = "not found\n";
      }
      res.keep_alive(false);
      res.prepare_payload();
      http::write(sock, res, rec);
    }
    accept_loop(acc, s);
  });
}

int body(winsvc::ServiceContext& ctx, const std::vector<std::string>& args) {
  std::string err;
  if (!log::setup(winsvc::flag_value(args, "--log.level").value_or("info"),
                  winsvc::flag_value(args, "--log.format").value_or("logfmt"), &err)) {
    ctx.event(winsvc::EventType::error, err);
    return 2;
  }
  State s;
  s.config_file = winsvc::flag_value(args, "--config.file").value_or("kscprobe.toml");
  if (!load(s, ctx, false)) return 1;

  std::string listen = winsvc::flag_value(args, "--web.listen-address").value_or("127.0.0.1:9851");
  auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  unsigned port = static_cast<unsigned>(std::stoul(listen.substr(colon + 1)));
  asio::io_context io;
  tcp::acceptor acc(io);
  boost::system::error_code ec;
  tcp::endpoint ep(asio::ip::make_address(host, ec), static_cast<unsigned short>(port));
  if (!ec) acc.open(ep.protocol(), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    log::error("cannot start the web listener", {{"address", listen}, {"error", ec.message()}});
    ctx.event(winsvc::EventId::start_failed, "cannot listen on " + listen + ": " + ec.message());
    return 1;
  }
  accept_loop(acc, s);
  ctx.on_stop([&] {
    asio::post(io, [&] {
      log::info("stopping");
      ctx.report_stopping();
      acc.close();
      io.stop();
    });
  });
  ctx.on_reload([&] {
    asio::post(io, [&] {
      bool ok = load(s, ctx, true);
      std::string checks = std::to_string(s.plan->checks.size());
      log::info(ok ? "configuration reloaded" : "configuration reload failed",
                {{"checks", checks}});
      if (ok) ctx.event(winsvc::EventId::reloaded, s.config_file + ", " + checks + " checks");
    });
  });
  std::string bound = acc.local_endpoint().address().to_string() + ":" +
                      std::to_string(acc.local_endpoint().port());
  ctx.report_running();
  log::info("kscprobe started", {{"version", KSCPROBE_VERSION},
                                 {"config", s.config_file},
                                 {"targets", std::to_string(s.plan->targets.size())},
                                 {"checks", std::to_string(s.plan->checks.size())},
                                 {"listen_address", bound},
                                 {"build", "reduced (mingw-w64: no probers)"}});
  ctx.event(winsvc::EventId::started, "listening on " + bound);
  io.run();
  log::info("kscprobe stopped");
  return 0;
}

}  // namespace

int wmain(int, wchar_t**) {
  winsvc::ServiceInfo info{L"kscprobe", L"kscprobe (KSC port prober)",
                           L"Probes the network ports of a Kaspersky Security Center estate "
                           L"and serves Prometheus metrics."};
  if (auto rc = winsvc::handle_command_line(info, body)) return *rc;
  auto args = winsvc::utf8_args();
  args.erase(args.begin());
  if (std::find(args.begin(), args.end(), "--config.check") != args.end()) {
    auto file = winsvc::flag_value(args, "--config.file");
    if (!file) {
      std::fprintf(stderr, "kscprobe: --config.check needs --config.file\n");
      return 2;
    }
    return config_check(*file, std::cout);
  }
  std::fprintf(stderr,
               "kscprobe %s (reduced Windows build)\nusage: kscprobe --config.check "
               "--config.file=FILE\n       kscprobe service "
               "install|uninstall|start|stop|status|reload|run [--config.file=FILE] "
               "[--web.listen-address=ADDR] [--log.file=FILE]\n",
               KSCPROBE_VERSION);
  return 2;
}
