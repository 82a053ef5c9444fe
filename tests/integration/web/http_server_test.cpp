// The daemon's HTTP endpoint on a real loopback socket.
#include "daemon/web/http_server.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/exposition.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"

namespace support = kscprobe::test;

using namespace kscprobe;
namespace asio = boost::asio;

namespace {

class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<HttpServer>(
        io_.get_executor(),
        [this](HttpRequest r) -> asio::awaitable<HttpResponse> {
          ++requests_;
          HttpResponse res;
          if (r.path == "/echo") {
            res.body = r.method + " " + r.path + " q=" + r.query + " ua=" + r.header("user-agent");
          } else if (r.path == "/big") {
            for (int i = 0; i < 2000; ++i) res.body += "kscprobe_probe_success{target=\"t\"} 1\n";
            res.compressible = true;
          } else if (r.path == "/noise") {
            // Incompressible: the gzip output outgrows any estimate made from the input.
            std::uint32_t x = 12345;
            for (int i = 0; i < 300000; ++i) {
              x = x * 1664525u + 1013904223u;
              res.body += static_cast<char>(x >> 24);
            }
            res.compressible = true;
          } else if (r.path == "/huge") {
            // Past the size compressed off the event loop (256 KiB).
            for (int i = 0; i < 30000; ++i)
              res.body += "kscprobe_probe_success{target=\"pc-" + std::to_string(i) + "\"} 1\n";
            res.compressible = true;
          } else {
            res.status = 404;
            res.body = "not found";
          }
          co_return res;
        },
        HttpServer::Limits{.max_connections = 8,
                           .header_limit = 4096,
                           .body_limit = 1024,
                           .idle_timeout_seconds = 2});
    std::string err;
    ASSERT_TRUE(server_->listen("127.0.0.1:0", &err)) << err;
    port_ = server_->local_port();
    ASSERT_GT(port_, 0u);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { server_->stop(); });
    io_.stop();
    thread_.join();
  }

  std::string raw(const std::string& request) { return support::raw_exchange(port_, request); }

  asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  unsigned port_ = 0;
  std::atomic<int> requests_{0};
};

}  // namespace

TEST(ListenAddress, Parses) {
  std::string host, err;
  unsigned port = 0;
  ASSERT_TRUE(parse_listen_address(":9851", &host, &port, &err));
  EXPECT_EQ(host, "");
  EXPECT_EQ(port, 9851u);
  ASSERT_TRUE(parse_listen_address("[::1]:80", &host, &port, &err));
  EXPECT_EQ(host, "::1");
  ASSERT_TRUE(parse_listen_address("127.0.0.1:0", &host, &port, &err));
  EXPECT_EQ(port, 0u);
  EXPECT_FALSE(parse_listen_address("9851", &host, &port, &err));
  EXPECT_FALSE(parse_listen_address(":99999", &host, &port, &err));
  EXPECT_FALSE(parse_listen_address("::1:80", &host, &port, &err));
  EXPECT_NE(err.find("brackets"), std::string::npos);
}

TEST_F(ServerFixture, AnswersRequestsWithPathQueryAndHeaders) {
  auto r = support::http_request(port_, "GET", "/echo?target=ksc01");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /echo q=target=ksc01 ua=");
  auto nf = support::http_request(port_, "GET", "/other");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
}

TEST_F(ServerFixture, GzipWhenTheClientAsksForIt) {
  std::string plain = raw("GET /big HTTP/1.0\r\n\r\n");
  std::string gz = raw("GET /big HTTP/1.0\r\nAccept-Encoding: gzip, deflate\r\n\r\n");
  std::string refused = raw("GET /big HTTP/1.0\r\nAccept-Encoding: gzip;q=0\r\n\r\n");
  EXPECT_EQ(plain.find("Content-Encoding"), std::string::npos);
  EXPECT_EQ(refused.find("Content-Encoding"), std::string::npos);
  ASSERT_NE(gz.find("Content-Encoding: gzip"), std::string::npos) << gz.substr(0, 300);
  std::string body = gz.substr(gz.find("\r\n\r\n") + 4);
  ASSERT_GE(body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(body[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(body[1]), 0x8b);
  EXPECT_LT(body.size() * 5, plain.size());
  // The body inflates back to exactly the uncompressed answer.
  EXPECT_EQ(support::gunzip(body, plain.size() * 2), plain.substr(plain.find("\r\n\r\n") + 4));
}

TEST_F(ServerFixture, LargeBodiesAreCompressedOffTheLoopIntactUnderConcurrentScrapes) {
  std::string plain = raw("GET /huge HTTP/1.0\r\n\r\n");
  std::string expected = plain.substr(plain.find("\r\n\r\n") + 4);
  ASSERT_GT(expected.size(), 256u * 1024);
  // Four clients at once: the compressions run on the worker while the loop serves the others.
  std::vector<std::string> answers(4);
  std::vector<std::thread> clients;
  for (auto& a : answers)
    clients.emplace_back(
        [this, &a] { a = raw("GET /huge HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n"); });
  // Meanwhile the loop keeps answering small requests.
  std::string echo = raw("GET /echo HTTP/1.0\r\n\r\n");
  for (auto& c : clients) c.join();
  EXPECT_NE(echo.find("GET /echo"), std::string::npos);
  for (const auto& a : answers) {
    ASSERT_NE(a.find("Content-Encoding: gzip"), std::string::npos) << a.substr(0, 300);
    std::string body = a.substr(a.find("\r\n\r\n") + 4);
    EXPECT_LT(body.size() * 5, expected.size());
    EXPECT_EQ(support::gunzip(body, expected.size() * 2), expected);
  }
}

TEST_F(ServerFixture, IncompressibleBodiesAreStillGzippedIntact) {
  std::string plain = raw("GET /noise HTTP/1.0\r\n\r\n");
  std::string expected = plain.substr(plain.find("\r\n\r\n") + 4);
  ASSERT_EQ(expected.size(), 300000u);
  std::string gz = raw("GET /noise HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
  ASSERT_NE(gz.find("Content-Encoding: gzip"), std::string::npos) << gz.substr(0, 300);
  std::string body = gz.substr(gz.find("\r\n\r\n") + 4);
  EXPECT_GT(body.size(), expected.size());  // gzip adds its framing to random bytes
  EXPECT_EQ(support::gunzip(body, expected.size() * 2), expected);
}

TEST(AcceptEncoding, Parses) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip(""));
}

TEST_F(ServerFixture, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::string two =
      "GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?2 HTTP/1.1\r\nHost: x\r\nConnection: "
      "close\r\n\r\n";
  std::string out = raw(two);
  EXPECT_NE(out.find("q= ua="), std::string::npos) << out;
  EXPECT_NE(out.find("q=2 ua="), std::string::npos) << out;
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(ServerFixture, OversizedHeadersAndGarbageGetErrorsNotCrashes) {
  std::string big =
      "GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n";
  std::string out = raw(big);
  EXPECT_NE(out.find("431"), std::string::npos) << out.substr(0, 200);
  out = raw("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n");
  EXPECT_NE(out.find("400"), std::string::npos) << out.substr(0, 200);
  auto r = support::http_request(port_, "GET", "/echo");  // still serving
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerFixture, IdleConnectionsAreClosedByTheTimeout) {
  int fd = support::connect_loopback(port_, std::chrono::seconds(6));
  ASSERT_GE(fd, 0);
  send(fd, "GET /ec", 7, MSG_NOSIGNAL);  // a slow client that never finishes
  char buf[64];
  auto start = std::chrono::steady_clock::now();
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_LE(n, 0);  // closed by the server, not answered
  EXPECT_LT(took, std::chrono::seconds(5));
}

namespace {

/// True once the server has closed `fd` (end of stream or reset), waiting up to `limit`.
bool closed_by_server(int fd, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
  char buf[256];
  return recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0;
}

}  // namespace

TEST_F(ServerFixture, ATricklingClientCannotPushTheRequestDeadlineBack) {
  // Slowloris: one byte of a never-ending header every 200 ms. The deadline (2 s here) counts
  // from the start of the request, so the server closes the connection although bytes keep
  // coming.
  int fd = support::connect_loopback(port_);
  ASSERT_GE(fd, 0);
  const std::string header = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a');
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (std::size_t i = 0; i < header.size() && !closed; ++i) {
    if (send(fd, &header[i], 1, MSG_NOSIGNAL) != 1) {
      closed = true;
      break;
    }
    closed = closed_by_server(fd, std::chrono::milliseconds(200));
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(8)) break;
  }
  auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_TRUE(closed);
  EXPECT_GE(took, std::chrono::milliseconds(1800));
  EXPECT_LT(took, std::chrono::milliseconds(3500));
}

TEST_F(ServerFixture, AtTheConnectionLimitTheLongestWaitingConnectionMakesRoom) {
  // Eight (the limit) clients connect and send nothing; a ninth still gets its answer, and the
  // connection that waited longest is the one closed for it.
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) {
    int fd = support::connect_loopback(port_);
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // all accepted
  for (std::size_t round = 0; round < 3; ++round) {
    auto r = support::http_request(port_, "GET", "/echo");
    ASSERT_TRUE(r) << "round " << round;
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(closed_by_server(idle[round], std::chrono::milliseconds(1000))) << round;
    // Back to eight idle connections, once the answered one is gone.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int fd = support::connect_loopback(port_);
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The younger idle connections are still open: only as many were closed as needed.
  for (std::size_t i = 3; i < idle.size(); ++i)
    EXPECT_FALSE(closed_by_server(idle[i], std::chrono::milliseconds(0))) << i;
  for (int fd : idle) close(fd);
}
