#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kscprobe {

/// Gzip-compresses `data` (RFC 1952) at a fast level. Returns false on a zlib error.
bool gzip_compress(std::string_view data, std::string* out);

/// The one worker thread that compresses large HTTP bodies, so the event loop keeps starting
/// probes on time meanwhile.
boost::asio::any_io_executor compression_executor();

/// A gzip body built from pieces deflated on the compression worker, in the order written, while
/// the caller goes on producing the next ones: a body of tens of megabytes (a large estate's
/// /metrics) is never held whole before compression, and its compression stays off the event
/// loop.
class GzipStream {
 public:
  GzipStream();
  /// Queues `piece` for the worker and returns at once.
  void write(std::string piece);
  /// Bytes written and not deflated yet: how far the worker is behind the writer.
  std::size_t pending() const;
  /// The gzip body once every piece is deflated; nullopt on a zlib error.
  boost::asio::awaitable<std::optional<std::string>> finish();

 private:
  struct State;
  static boost::asio::awaitable<std::optional<std::string>> finish_on_worker(
      std::shared_ptr<State> st);
  std::shared_ptr<State> state_;
};

}  // namespace kscprobe
