#pragma once
// Where the runtime's log lines go. The daemon's log (daemon/logging.hpp) sits above this layer:
// whoever owns a part of the runtime hands it a sink, the daemon's log in the daemon
// (log::sink()), a list of lines in a test.
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace kscprobe {

enum class LogLevel { debug, info, warn, error };

/// One structured field of a line: a key and its value.
using LogField = std::pair<std::string_view, std::string>;

struct LogSink {
  /// Writes one line (log::write's shape).
  std::function<void(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields)>
      write;
  /// Whether lines of `level` are written at all, so that a costly one is not built for nothing.
  std::function<bool(LogLevel level)> enabled;
};

}  // namespace kscprobe
