#pragma once
// An in-memory SyncReadStream for the HTTP fuzzers: hands out the input in pieces whose sizes
// come from the input itself, so the fuzzer also explores how a message split across reads is
// parsed (what async_read sees from a slow or hostile peer), then reports end of stream.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kscprobe::fuzz {

class ChunkedStream {
 public:
  using executor_type = void;
  // The first byte picks the read size (1..256 bytes); the rest is the stream's content.
  ChunkedStream(const std::uint8_t* data, std::size_t size) {
    if (size > 0) {
      chunk_ = static_cast<std::size_t>(data[0]) + 1;
      data_ = std::string_view(reinterpret_cast<const char*>(data + 1), size - 1);
    }
  }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    if (pos_ >= data_.size()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    std::size_t n = std::min(chunk_, data_.size() - pos_);
    n = boost::asio::buffer_copy(buffers, boost::asio::buffer(data_.data() + pos_, n));
    pos_ += n;
    ec = {};
    return n;
  }
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    return read_some(buffers, ec);
  }

 private:
  std::string_view data_;
  std::size_t chunk_ = 1;
  std::size_t pos_ = 0;
};

}  // namespace kscprobe::fuzz
