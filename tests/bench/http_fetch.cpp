#include "tests/bench/http_fetch.hpp"

#include <zlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <limits>

namespace kscprobe::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpReply http_get(const std::string& host, std::uint16_t port, const std::string& target,
                   bool gzip, std::chrono::milliseconds timeout) {
  HttpReply reply;
  auto start = std::chrono::steady_clock::now();
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, host + ":" + std::to_string(port));
  request.set(http::field::user_agent, "kscprobe-bench");
  if (gzip) request.set(http::field::accept_encoding, "gzip");
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  boost::system::error_code error;
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host, error), port);
  if (error) {
    reply.error = error.message();
    return reply;
  }
  stream.expires_after(timeout);
  stream.async_connect(endpoint, [&](boost::system::error_code ec) {
    if (ec) {
      error = ec;
      return;
    }
    http::async_write(stream, request, [&](boost::system::error_code ec, std::size_t) {
      if (ec) {
        error = ec;
        return;
      }
      http::async_read(stream, buffer, parser,
                       [&](boost::system::error_code ec, std::size_t) { error = ec; });
    });
  });
  io.run();
  reply.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (error) {
    reply.error = error.message();
    return reply;
  }
  auto response = parser.release();
  reply.status = static_cast<int>(response.result_int());
  reply.content_encoding = std::string(response[http::field::content_encoding]);
  reply.body = std::move(response.body());
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return reply;
}

std::string gunzip(std::string_view data) {
  z_stream z{};
  // 15 window bits + 32: detect gzip or zlib headers.
  if (inflateInit2(&z, 15 + 32) != Z_OK) return {};
  std::string out;
  out.resize(std::max<std::size_t>(data.size() * 4, 4096));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  for (;;) {
    if (z.total_out == out.size()) out.resize(out.size() * 2);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(out.size() - z.total_out);
    rc = inflate(&z, Z_NO_FLUSH);
    // Z_BUF_ERROR with a full output buffer only asks for more room.
    if (rc == Z_OK || (rc == Z_BUF_ERROR && z.avail_out == 0)) continue;
    break;
  }
  std::size_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return {};
  out.resize(produced);
  return out;
}

}  // namespace kscprobe::bench
