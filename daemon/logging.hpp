#pragma once
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/runtime/log_sink.hpp"

namespace kscprobe::log {

using Level = LogLevel;
enum class Format { logfmt, json };

/// Configures the process-wide logger (stderr). Returns false for unknown names.
bool setup(std::string_view level, std::string_view format, std::string* error);

using Field = LogField;

/// Writes one structured line: `ts=... level=info msg="..." key=value ...` or a JSON object.
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, m, f);
}
bool enabled(Level level);

/// This log as a sink for the runtime's parts (daemon/runtime/log_sink.hpp).
inline LogSink sink() { return LogSink{&write, &enabled}; }

}  // namespace kscprobe::log
