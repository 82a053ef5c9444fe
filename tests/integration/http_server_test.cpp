// The daemon's HTTP endpoint on a real loopback socket.
#include "daemon/http_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <thread>

#include "tests/e2e/process.hpp"

using namespace kscprobe;
namespace asio = boost::asio;

namespace {

class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<HttpServer>(
        io_.get_executor(),
        [this](const HttpRequest& r) {
          ++requests_;
          HttpResponse res;
          if (r.path == "/echo") {
            res.body = r.method + " " + r.path + " q=" + r.query + " ua=" + r.header("user-agent");
          } else {
            res.status = 404;
            res.body = "not found";
          }
          return res;
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

  std::string raw(const std::string& request) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      return {};
    }
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    return out;
  }

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
  auto r = e2e::http_request(port_, "GET", "/echo?target=ksc01");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /echo q=target=ksc01 ua=");
  auto nf = e2e::http_request(port_, "GET", "/other");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
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
  auto r = e2e::http_request(port_, "GET", "/echo");  // still serving
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerFixture, IdleConnectionsAreClosedByTheTimeout) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port_));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  send(fd, "GET /ec", 7, MSG_NOSIGNAL);  // a slow client that never finishes
  timeval tv{6, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[64];
  auto start = std::chrono::steady_clock::now();
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_LE(n, 0);  // closed by the server, not answered
  EXPECT_LT(took, std::chrono::seconds(5));
}
