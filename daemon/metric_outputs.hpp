#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

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
};

/// The pushes so far, for the log's tests and the status.
struct PushStatus {
  std::uint64_t attempts = 0;  // pushes ended, well or not
  std::uint64_t failures = 0;
  std::string last_error;  // empty after a push that worked
};

/// Writes `path` atomically: a temporary file in the same directory, then rename(2), so a
/// collector never reads half a file. Returns false with errno text in *error.
bool write_file_atomically(const std::string& path, const std::string& content, std::string* error);

/// Splits "http://host[:port][/prefix]" into its parts (only http is supported).
bool parse_push_url(const std::string& url, std::string* host, std::string* port,
                    std::string* prefix, std::string* error);

/// Periodic textfile writes and Pushgateway pushes, on the event loop (never blocking it).
class MetricOutputs {
 public:
  MetricOutputs(boost::asio::any_io_executor ex, MetricOutputOptions options,
                std::function<std::string()> render);
  ~MetricOutputs();
  /// Validates the options and starts the timers; false with a message if they are unusable.
  bool start(std::string* error);
  void stop();
  /// Writes the textfile / pushes once now (also used at shutdown so the last state lands).
  void flush_textfile();
  PushStatus push_status() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kscprobe
