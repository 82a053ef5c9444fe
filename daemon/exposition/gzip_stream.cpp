#include "daemon/exposition/gzip_stream.hpp"

#include <zlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

namespace kscprobe {

namespace asio = boost::asio;

asio::any_io_executor compression_executor() {
  // One thread: pieces of one stream are deflated in the order they were posted.
  static asio::thread_pool pool(1);
  return pool.get_executor();
}

namespace {

/// One gzip deflate stream, its output grown as it comes: the one place that drives zlib, for
/// whole bodies (gzip_compress) and for pieces (GzipStream).
class Deflater {
 public:
  explicit Deflater(std::size_t first_output) {
    // windowBits 15 + 16: gzip wrapper. Level 1: /metrics is large and scraped often.
    ok_ = deflateInit2(&zs_, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    out_.resize(first_output > 64 ? first_output : 64);
  }
  ~Deflater() {
    if (ok_) deflateEnd(&zs_);
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  void write(std::string_view in) { run(in, Z_NO_FLUSH); }
  /// The gzip body; nullopt on a zlib error.
  std::optional<std::string> finish() {
    run({}, Z_FINISH);
    if (!ok_) return std::nullopt;
    out_.resize(zs_.total_out);
    return std::move(out_);
  }

 private:
  void run(std::string_view in, int flush) {
    if (!ok_) return;
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    int rc = Z_OK;
    do {
      // Exposition text shrinks about 15 times: grow the output as it comes rather than
      // allocate (and touch) the worst case, which is larger than the input.
      if (zs_.total_out == out_.size()) out_.resize(out_.size() * 2);
      zs_.next_out = reinterpret_cast<Bytef*>(out_.data() + zs_.total_out);
      zs_.avail_out = static_cast<uInt>(out_.size() - zs_.total_out);
      rc = deflate(&zs_, flush);
    } while (rc == Z_OK && (zs_.avail_in > 0 || zs_.avail_out == 0 || flush == Z_FINISH));
    if (flush == Z_FINISH ? rc != Z_STREAM_END : (rc != Z_OK && rc != Z_BUF_ERROR)) ok_ = false;
  }

  z_stream zs_{};
  bool ok_ = false;
  std::string out_;
};

}  // namespace

bool gzip_compress(std::string_view data, std::string* out) {
  Deflater d(data.size() / 8 + 4096);
  d.write(data);
  auto body = d.finish();
  if (!body) return false;
  *out = std::move(*body);
  return true;
}

struct GzipStream::State {
  Deflater deflater{64 * 1024};
  std::mutex mutex;
  std::size_t pending = 0;  // bytes written and not deflated yet
};

GzipStream::GzipStream() : state_(std::make_shared<State>()) {}

void GzipStream::write(std::string piece) {
  if (piece.empty()) return;
  {
    std::lock_guard lock(state_->mutex);
    state_->pending += piece.size();
  }
  asio::post(compression_executor(), [st = state_, piece = std::move(piece)] {
    st->deflater.write(piece);
    std::lock_guard lock(st->mutex);
    st->pending -= piece.size();
  });
}

std::size_t GzipStream::pending() const {
  std::lock_guard lock(state_->mutex);
  return state_->pending;
}

asio::awaitable<std::optional<std::string>> GzipStream::finish_on_worker(
    std::shared_ptr<State> st) {
  co_return st->deflater.finish();
}

asio::awaitable<std::optional<std::string>> GzipStream::finish() {
  // The state goes to the worker as a coroutine's parameter (kept in its frame): a lambda's
  // captures would live in a closure that does not outlast the call that made the coroutine.
  co_return co_await asio::co_spawn(compression_executor(), finish_on_worker(state_),
                                    asio::use_awaitable);
}

}  // namespace kscprobe
