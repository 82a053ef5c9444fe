#include "daemon/gzip_stream.hpp"

#include <zlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <mutex>

namespace kscprobe {

namespace asio = boost::asio;

asio::any_io_executor compression_executor() {
  // One thread: pieces of one stream are deflated in the order they were posted.
  static asio::thread_pool pool(1);
  return pool.get_executor();
}

struct GzipStream::State {
  z_stream zs{};
  bool ok = false;
  std::string out;
  std::mutex mutex;
  std::condition_variable drained;
  std::size_t pending = 0;  // bytes written and not deflated yet

  State() {
    // windowBits 15 + 16: gzip wrapper. Level 1: /metrics is large and scraped often.
    ok = deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    out.resize(64 * 1024);
  }
  ~State() {
    if (ok) deflateEnd(&zs);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // Runs on the worker only.
  void deflate_piece(std::string_view in, int flush) {
    if (!ok) return;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    int rc = Z_OK;
    do {
      // Exposition text shrinks about 15 times: grow the output as it comes.
      if (zs.total_out == out.size()) out.resize(out.size() * 2);
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + zs.total_out);
      zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
      rc = deflate(&zs, flush);
    } while (rc == Z_OK && (zs.avail_in > 0 || zs.avail_out == 0 || flush == Z_FINISH));
    if (flush == Z_FINISH ? rc != Z_STREAM_END : (rc != Z_OK && rc != Z_BUF_ERROR)) ok = false;
  }
};

GzipStream::GzipStream() : state_(std::make_shared<State>()) {}

void GzipStream::write(std::string piece) {
  if (piece.empty()) return;
  {
    std::lock_guard lock(state_->mutex);
    state_->pending += piece.size();
  }
  asio::post(compression_executor(), [st = state_, piece = std::move(piece)] {
    st->deflate_piece(piece, Z_NO_FLUSH);
    {
      std::lock_guard lock(st->mutex);
      st->pending -= piece.size();
    }
    st->drained.notify_all();
  });
}

void GzipStream::wait_below(std::size_t bytes) {
  std::unique_lock lock(state_->mutex);
  state_->drained.wait(lock, [&] { return state_->pending < bytes; });
}

asio::awaitable<std::optional<std::string>> GzipStream::finish() {
  auto st = state_;
  co_return co_await asio::co_spawn(
      compression_executor(),
      [st]() -> asio::awaitable<std::optional<std::string>> {
        st->deflate_piece({}, Z_FINISH);
        if (!st->ok) co_return std::nullopt;
        st->out.resize(st->zs.total_out);
        co_return std::move(st->out);
      },
      asio::use_awaitable);
}

}  // namespace kscprobe
