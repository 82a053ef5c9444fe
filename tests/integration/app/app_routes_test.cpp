// App's HTTP routes: each path answers the methods it takes, and 405 (with Allow) or 404
// otherwise. The loop runs on a thread of its own while the test asks over loopback, hence the
// AppThreads suite (the ThreadSanitizer stage runs it).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "daemon/app.hpp"
#include "tests/support/http_client.hpp"

using namespace kscprobe;

namespace {

unsigned port_of(const std::string& address) {
  return static_cast<unsigned>(std::stoul(address.substr(address.rfind(':') + 1)));
}

}  // namespace

TEST(AppThreads, RoutesAnswerTheirMethods) {
  boost::asio::io_context io;
  AppOptions options;
  options.config_text = "[[target]]\nname = \"ksc\"\nrole = \"agent\"\naddress = \"127.0.0.1\"\n";
  options.listen_address = "127.0.0.1:0";
  App app(io, options);
  ASSERT_TRUE(app.start());
  const unsigned port = port_of(app.listen_address());  // before the loop's thread starts
  std::thread loop([&] { io.run(); });

  struct Case {
    const char* method;
    const char* path;
    int status;
    const char* body;   // the whole body, or null when not checked
    const char* allow;  // the Allow header of a 405, or null when none is expected
  };
  const Case cases[] = {
      {"GET", "/metrics", 200, nullptr, nullptr},
      {"HEAD", "/metrics", 200, "", nullptr},
      {"POST", "/metrics", 405, "method not allowed\n", "GET"},
      {"GET", "/-/healthy", 200, "kscprobe is Healthy.\n", nullptr},
      {"HEAD", "/-/healthy", 200, "", nullptr},
      {"DELETE", "/-/healthy", 405, "method not allowed\n", "GET"},
      {"GET", "/-/ready", 200, "kscprobe is Ready.\n", nullptr},
      {"POST", "/-/ready", 405, "method not allowed\n", "GET"},
      {"POST", "/-/reload", 200, "configuration reloaded\n", nullptr},
      {"PUT", "/-/reload", 200, "configuration reloaded\n", nullptr},
      {"GET", "/-/reload", 405, "method not allowed\n", "POST"},
      {"GET", "/", 200, nullptr, nullptr},
      {"POST", "/", 405, "method not allowed\n", "GET"},
      {"GET", "/probe", 400, "target parameter is missing\n", nullptr},
      {"POST", "/probe", 405, "method not allowed\n", nullptr},
      {"GET", "/nope", 404, "not found\n", nullptr},
      {"POST", "/nope", 404, "not found\n", nullptr},
      {"GET", "/metrics/", 404, "not found\n", nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.path);
    auto r = test::http_request(port, c.method, c.path);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, c.status) << r->body;
    if (c.body) {
      EXPECT_EQ(r->body, c.body);
    }
    const bool has_allow = r->headers.find("\r\nAllow: ") != std::string::npos;
    if (c.allow) {
      EXPECT_NE(r->headers.find(std::string("\r\nAllow: ") + c.allow + "\r\n"), std::string::npos)
          << r->headers;
    } else {
      EXPECT_FALSE(has_allow) << r->headers;
    }
  }
  auto metrics = test::http_request(port, "GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->headers.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics->body.find("kscprobe_build_info"), std::string::npos);
  auto status = test::http_request(port, "GET", "/");
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(status->body.find("ksc"), std::string::npos);

  app.stop();
  loop.join();
}
