#include "daemon/discovery/ksc_json.hpp"

#include <algorithm>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <ctime>
#include <limits>

#include "config/utf8.hpp"
#include "platform/platform.hpp"

namespace kscprobe::ksc {

namespace json = boost::json;

namespace {

// {"type": "<name>", "value": ...} and nothing else: a wrapped value. A record that happens to
// have more fields is a record.
const json::value* wrapped(const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr || o->size() != 2) return nullptr;
  auto type = o->find("type");
  if (type == o->end() || !type->value().is_string()) return nullptr;
  auto value = o->find("value");
  if (value == o->end()) return nullptr;
  return &value->value();
}

// Decimal digits of text[pos, pos + n) as a number, or -1.
int digits(std::string_view text, std::size_t pos, std::size_t n) {
  if (pos + n > text.size()) return -1;
  int out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return -1;
    out = out * 10 + (c - '0');
  }
  return out;
}

bool leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap(year) ? 29 : kDays[month - 1];
}

// A decimal integer written as text (some servers wrap a long's value as a string).
std::optional<std::int64_t> int_of_text(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  bool negative = s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    std::uint64_t next = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (next / 10 != value) return std::nullopt;  // overflow
    value = next;
  }
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (!negative && value > kMax) return std::nullopt;
  if (negative && value > kMax + 1) return std::nullopt;
  if (negative)
    return value == kMax + 1 ? std::numeric_limits<std::int64_t>::min()
                             : -static_cast<std::int64_t>(value);
  return static_cast<std::int64_t>(value);
}

std::optional<std::int64_t> int_of_json(const json::value& v) {
  if (const std::int64_t* i = v.if_int64()) return *i;
  if (const std::uint64_t* u = v.if_uint64()) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return static_cast<std::int64_t>(*u);
  }
  if (const double* d = v.if_double()) {
    // 2^63 is exactly representable; anything at or past it is out of range.
    if (!std::isfinite(*d) || *d != std::trunc(*d) || *d < -9223372036854775808.0 ||
        *d >= 9223372036854775808.0)
      return std::nullopt;
    return static_cast<std::int64_t>(*d);
  }
  return std::nullopt;
}

}  // namespace

const json::value& unwrap(const json::value& v) {
  const json::value* inner = wrapped(v);
  return inner ? *inner : v;
}

std::optional<std::int64_t> as_int(const json::value& v) {
  const json::value& u = unwrap(v);
  if (auto i = int_of_json(u)) return i;
  if (&u != &v) {
    if (const json::string* s = u.if_string()) return int_of_text(*s);
  }
  return std::nullopt;
}

std::optional<double> as_number(const json::value& v) {
  const json::value& u = unwrap(v);
  if (const std::int64_t* i = u.if_int64()) return static_cast<double>(*i);
  if (const std::uint64_t* n = u.if_uint64()) return static_cast<double>(*n);
  if (const double* d = u.if_double()) {
    if (!std::isfinite(*d)) return std::nullopt;
    return *d;
  }
  if (&u != &v) {
    if (const json::string* s = u.if_string()) {
      if (auto i = int_of_text(*s)) return static_cast<double>(*i);
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> as_string(const json::value& v) {
  if (const json::string* s = unwrap(v).if_string()) return std::string_view(*s);
  return std::nullopt;
}

std::optional<bool> as_bool(const json::value& v) {
  if (const bool* b = unwrap(v).if_bool()) return *b;
  return std::nullopt;
}

std::optional<std::int64_t> as_datetime(const json::value& v) {
  if (auto s = as_string(v)) return parse_datetime(*s);
  return std::nullopt;
}

const json::object* as_params(const json::value& v) {
  const json::value* inner = wrapped(v);
  if (inner != nullptr) return inner->if_object();
  return v.if_object();
}

const json::array* as_array(const json::value& v) { return unwrap(v).if_array(); }

const json::value* field(const json::object& record, std::string_view name) {
  auto it = record.find(name);
  return it == record.end() ? nullptr : &it->value();
}

std::optional<std::int64_t> int_field(const json::object& record, std::string_view name) {
  const json::value* v = field(record, name);
  return v ? as_int(*v) : std::nullopt;
}

std::optional<std::string_view> string_field(const json::object& record, std::string_view name) {
  const json::value* v = field(record, name);
  return v ? as_string(*v) : std::nullopt;
}

std::optional<bool> bool_field(const json::object& record, std::string_view name) {
  const json::value* v = field(record, name);
  return v ? as_bool(*v) : std::nullopt;
}

std::optional<std::int64_t> datetime_field(const json::object& record, std::string_view name) {
  const json::value* v = field(record, name);
  return v ? as_datetime(*v) : std::nullopt;
}

std::optional<std::int64_t> parse_datetime(std::string_view text) {
  // 2026-03-19T16:18:53[.fff][Z|+00:00]
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':')
    return std::nullopt;
  const int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  const int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60)
    return std::nullopt;
  if (day > days_in(year, month)) return std::nullopt;
  std::string_view rest = text.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    std::size_t i = 1;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
    if (i == 1) return std::nullopt;
    rest.remove_prefix(i);
  }
  if (!rest.empty() && rest != "Z" && rest != "z" && rest != "+00:00" && rest != "-00:00")
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second == 60 ? 59 : second;  // a leap second is the second before it
  std::int64_t seconds = platform::utc_seconds(&tm);
  if (seconds < 0) return std::nullopt;  // out of the platform's range
  return seconds;
}

std::optional<std::uint32_t> ipv4_of_long(std::int64_t value) {
  if (value < 0) {
    if (value < std::numeric_limits<std::int32_t>::min()) return std::nullopt;
    value += std::int64_t{1} << 32;
  }
  if (value == 0 || value > 0xFFFFFFFFLL) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

std::string ipv4_text(std::uint32_t address) {
  std::string out;
  out.reserve(15);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out += std::to_string((address >> shift) & 0xFF);
    if (shift) out += '.';
  }
  return out;
}

std::optional<PxgError> pxg_error(const json::value& answer) {
  const json::object* o = answer.if_object();
  if (o == nullptr) return std::nullopt;
  const json::value* e = field(*o, "PxgError");
  if (e == nullptr || e->is_null()) return std::nullopt;
  PxgError out;
  if (const json::object* record = as_params(*e)) {
    if (auto code = int_field(*record, "code")) out.code = *code;
    if (auto subcode = int_field(*record, "subcode")) out.subcode = *subcode;
    if (auto line = int_field(*record, "line")) out.line = *line;
    // Bounded and printable: these go into logs, --once's output and the status page.
    if (auto module = string_field(*record, "module")) out.module = printable(*module, 64);
    if (auto message = string_field(*record, "message")) out.message = printable(*message, 512);
    if (auto file = string_field(*record, "file")) out.file = printable(*file, 128);
  }
  return out;
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  constexpr std::string_view kEllipsis = "...";
  // Nothing is ever longer than max_bytes, the "..." of a cut included, and a cut falls between
  // two pieces (an escape or a whole character).
  const std::size_t room = max_bytes > kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 4);
  std::size_t cut = 0;  // the end of the last piece that ends within `room`
  for (std::size_t i = 0; i < text.size() && out.size() <= max_bytes;) {
    const auto u = static_cast<unsigned char>(text[i]);
    const std::size_t len = u < 0x80 ? 1 : utf8_sequence_length(text, i);
    if (u < 0x20 || u == 0x7f || len == 0) {
      // A control byte, or one that starts no UTF-8 sequence.
      out += '\\';
      out += 'x';
      out += kHex[u >> 4];
      out += kHex[u & 15];
      ++i;
    } else if (u == '\\') {
      out += "\\\\";
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
    if (out.size() <= room) cut = out.size();
  }
  if (out.size() <= max_bytes) return out;
  out.resize(cut);
  out += kEllipsis;
  return out;
}

bool parse_answer(std::string_view body, json::value* out, std::string* error) {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return false;
  };
  if (body.empty()) return fail("empty body");
  try {
    json::parse_options options;
    options.max_depth = kMaxJsonDepth;
    json::parser parser(json::storage_ptr(), options);
    boost::system::error_code ec;
    std::size_t used = parser.write(body.data(), body.size(), ec);
    if (ec) return fail(ec.message() + " at offset " + std::to_string(used));
    json::value v = parser.release();
    if (!v.is_object()) return fail("the answer is not a JSON object");
    *out = std::move(v);
    return true;
  } catch (const std::bad_alloc&) {
    return fail("out of memory parsing the answer");
  } catch (const std::exception& e) {
    return fail(std::string("cannot parse the answer: ") + e.what());
  }
}

}  // namespace kscprobe::ksc
