#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "collectors/name_resolver.hpp"

namespace kscprobe {

/// Where the metrics also go, for hosts Prometheus cannot scrape.
struct MetricOutputOptions {
  /// node_exporter / windows_exporter textfile collector: written atomically (temp + rename).
  std::string textfile_path;
  std::chrono::milliseconds textfile_interval{15000};
  /// Pushgateway base URL (http://host:9091); PUT to /metrics/job/<job>/instance/<instance>.
  std::string push_url;
  std::string push_job = "kscprobe";
  std::string push_instance;  // default: the host name
  std::chrono::milliseconds push_interval{30000};
  /// One push, the lookup of the Pushgateway's name included, ends by then: a DNS server or a
  /// Pushgateway that stalls fails the push, never stops the pushes.
  std::chrono::milliseconds push_timeout{10000};
  /// How the Pushgateway's name is looked up (the probers' resolver, an instance of its own).
  ResolverOptions resolver;
  /// For the tests: runs before each periodic textfile write is committed (synced to disk and
  /// renamed), on the thread that commits it.
  std::function<void()> before_commit;

  /// The outputs that run (a path or URL set), a descriptor each: a new output counts here.
  unsigned count() const {
    return (textfile_path.empty() ? 0u : 1u) + (push_url.empty() ? 0u : 1u);
  }
};

/// The pushes so far, for the log's tests and the status.
struct PushStatus {
  std::uint64_t attempts = 0;  // pushes ended, well or not
  std::uint64_t failures = 0;
  std::string last_error;  // empty after a push that worked
};

/// A file written atomically: a temporary file in the same directory, written piece by piece,
/// then renamed over `path` (rename(2); std::filesystem::rename on Windows), so a collector never
/// reads half a file. Destroyed before commit(), it removes the temporary file.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  /// False with errno text in *error when the temporary file cannot be created.
  bool open(std::string* error);
  /// Appends; a failure is remembered and reported by commit().
  void write(std::string_view piece);
  /// Flushes, syncs and renames; false with the reason in *error (the temporary file removed).
  bool commit(std::string* error);

 private:
  void discard();
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  int write_errno_ = 0;
};

/// Writes `path` atomically in one piece (AtomicFile). Returns false with errno text in *error.
bool write_file_atomically(const std::string& path, const std::string& content, std::string* error);

/// The metrics text, two ways: whole within the call (at shutdown, when the loop has nothing
/// else to do), and in pieces as a coroutine that lets the event loop run between them (every
/// periodic write: at 100 000 agents the text is tens of megabytes). `pieces` hands each piece
/// to the sink and returns false when a reload abandoned the render (the pieces so far then
/// describe no plan whole; start again).
struct MetricText {
  using Sink = std::function<void(std::string& piece)>;
  std::function<std::string()> whole;
  std::function<boost::asio::awaitable<bool>(Sink)> pieces;
};

/// Splits "http://host[:port][/prefix]" into its parts (only http is supported).
bool parse_push_url(const std::string& url, std::string* host, std::string* port,
                    std::string* prefix, std::string* error);

/// Periodic textfile writes and Pushgateway pushes, on the event loop (never blocking it).
class MetricOutputs {
 public:
  MetricOutputs(boost::asio::any_io_executor ex, MetricOutputOptions options, MetricText text);
  ~MetricOutputs();
  /// Validates the options and starts the timers; false with a message if they are unusable.
  bool start(std::string* error);
  void stop();
  /// Writes the textfile whole, now, within the call: at shutdown, so the last state lands.
  void flush_textfile();
  PushStatus push_status() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kscprobe
