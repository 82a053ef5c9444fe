// App's entry points for service managers (stop, request_reload) are called from other threads:
// the Windows service control handler's, for one. Run under ThreadSanitizer by
// scripts/test.d/20-sanitizers.sh.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>

#include "daemon/app.hpp"

using namespace kscprobe;

TEST(AppThreads, ReloadAndStopFromAnotherThread) {
  boost::asio::io_context io;
  AppOptions options;
  options.config_text =
      "[daemon]\ninterval = \"200ms\"\ntimeout = \"100ms\"\n"
      "[[target]]\nname = \"ksc\"\nrole = \"server\"\naddress = \"127.0.0.1\"\n"
      "disable = [\"packages_http\", \"packages_https\", \"console_tls\", \"openapi_tls\",\n"
      "  \"activation_tls\", \"tunnel_https\", \"metrics_https\", \"shutdown_udp\"]\n";
  options.listen_address = "127.0.0.1:0";
  int reloads = 0;
  options.hooks.reloaded = [&](bool ok) {
    EXPECT_TRUE(ok);
    ++reloads;  // on the loop's thread
  };
  App app(io, options);
  ASSERT_TRUE(app.start());
  std::thread loop([&] { io.run(); });
  for (int i = 0; i < 5; ++i) {
    app.request_reload();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto stop_at = std::chrono::steady_clock::now();
  app.stop();
  loop.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_at, std::chrono::seconds(2));
  EXPECT_EQ(reloads, 5);
  EXPECT_NE(app.render_metrics().find("kscprobe_probes_total{target=\"ksc\""), std::string::npos);
}
