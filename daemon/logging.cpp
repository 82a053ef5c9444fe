#include "daemon/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#ifdef _WIN32
#include <spdlog/sinks/stdout_color_sinks.h>
#endif

#include <chrono>
#include <cstdio>
#include <ctime>

#include "daemon/exposition/json_string.hpp"
#include "platform/platform.hpp"

namespace kscprobe::log {

namespace {

Format g_format = Format::logfmt;
Level g_level = Level::info;

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
#ifdef _WIN32
    // The Win32 standard error handle rather than the C runtime's stderr stream: a service
    // starts without standard handles, windows-service/ then points the handle at the log file
    // (SetStdHandle), and not every C runtime lets its stderr stream follow.
    auto lg = spdlog::stderr_color_mt("kscprobe", spdlog::color_mode::never);
#else
    auto lg = spdlog::stderr_logger_mt("kscprobe");
#endif
    // Every line is fully formatted here (logfmt or JSON); spdlog only does the I/O.
    lg->set_pattern("%v");
    lg->set_level(spdlog::level::trace);
    lg->flush_on(spdlog::level::trace);
    return lg;
  }();
  return l;
}

std::string_view level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm = platform::utc_tm(secs);
  // Room for any int the fields could hold (GCC's -Wformat-truncation counts them so); a real
  // time takes 24 bytes.
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  return buf;
}

void append_logfmt_value(std::string& out, std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '=' || c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      quote = true;
      break;
    }
  }
  // Quoted as JSON strings are, which logfmt parsers accept.
  if (quote)
    append_json_string(out, v);
  else
    out += v;
}

}  // namespace

bool setup(std::string_view level, std::string_view format, std::string* error) {
  if (level == "debug")
    g_level = Level::debug;
  else if (level == "info")
    g_level = Level::info;
  else if (level == "warn")
    g_level = Level::warn;
  else if (level == "error")
    g_level = Level::error;
  else {
    if (error)
      *error = "unknown --log.level \"" + std::string(level) + "\" (debug, info, warn, error)";
    return false;
  }
  if (format == "logfmt")
    g_format = Format::logfmt;
  else if (format == "json")
    g_format = Format::json;
  else {
    if (error) *error = "unknown --log.format \"" + std::string(format) + "\" (logfmt, json)";
    return false;
  }
  logger();
  return true;
}

bool enabled(Level level) { return level >= g_level; }

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(128);
  if (g_format == Format::logfmt) {
    line += "ts=" + timestamp() + " level=";
    line += level_name(level);
    line += " msg=";
    append_logfmt_value(line, msg);
    for (const auto& [k, v] : fields) {
      line += ' ';
      line += k;
      line += '=';
      append_logfmt_value(line, v);
    }
  } else {
    line += "{\"ts\":\"" + timestamp() + "\",\"level\":\"";
    line += level_name(level);
    line += "\",\"msg\":";
    append_json_string(line, msg);
    for (const auto& [k, v] : fields) {
      line += ',';
      append_json_string(line, k);
      line += ':';
      append_json_string(line, v);
    }
    line += '}';
  }
  logger()->info(line);
}

}  // namespace kscprobe::log
