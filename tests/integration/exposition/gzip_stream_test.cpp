#include "daemon/exposition/gzip_stream.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <random>
#include <thread>

using namespace kscprobe;
namespace asio = boost::asio;

namespace {

std::string gunzip(const std::string& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(gz.size() * 4 + 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (zs.total_out == out.size()) out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + zs.total_out);
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::optional<std::string> finish(GzipStream& gz) {
  asio::io_context io;
  std::optional<std::string> result;
  asio::co_spawn(io, gz.finish(), [&](std::exception_ptr e, std::optional<std::string> r) {
    EXPECT_FALSE(e);
    result = std::move(r);
  });
  io.run_for(std::chrono::seconds(30));
  return result;
}

}  // namespace

// Pieces written one after another come out as one gzip body of their text, in order, whatever
// their sizes (empty, tiny, larger than the output buffer, incompressible).
TEST(GzipStream, PiecesBecomeOneBodyInOrder) {
  std::mt19937 rng(7);
  std::string expected;
  GzipStream gz;
  for (int i = 0; i < 200; ++i) {
    std::string piece;
    std::size_t n = i % 17 == 0 ? 0 : (i % 5 == 0 ? 300000 : rng() % 2000);
    for (std::size_t k = 0; k < n; ++k)
      piece += i % 3 ? static_cast<char>('a' + rng() % 26) : static_cast<char>(rng());
    piece += "# piece " + std::to_string(i) + "\n";
    expected += piece;
    gz.write(std::move(piece));
  }
  auto body = finish(gz);
  ASSERT_TRUE(body);
  ASSERT_GE(body->size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>((*body)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*body)[1]), 0x8b);
  EXPECT_EQ(gunzip(*body), expected);
}

TEST(GzipStream, NothingWrittenIsAnEmptyBody) {
  GzipStream gz;
  auto body = finish(gz);
  ASSERT_TRUE(body);
  EXPECT_EQ(gunzip(*body), "");
}

// The writer can see how far the worker is behind, and the worker catches up.
TEST(GzipStream, PendingFollowsTheWorker) {
  GzipStream gz;
  std::string expected;
  std::size_t written = 0;
  for (int i = 0; i < 64; ++i) {
    std::string piece(1 << 18, static_cast<char>('a' + i % 26));
    piece += "\n";
    expected += piece;
    written += piece.size();
    gz.write(std::move(piece));
    EXPECT_LE(gz.pending(), written);
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (gz.pending() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(gz.pending(), 0u);
  auto body = finish(gz);
  ASSERT_TRUE(body);
  EXPECT_EQ(gunzip(*body), expected);
}
