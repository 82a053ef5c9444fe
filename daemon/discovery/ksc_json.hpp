#pragma once
// Reading the values of KSC's OpenAPI answers. KSC writes plain JSON ints, strings and bools as
// they are, and wraps the types JSON lacks: {"type": "long", "value": 167772161},
// {"type": "datetime", "value": "2026-03-19T16:18:53Z"}, and records as
// {"type": "params", "value": {...}}. Every accessor tolerates a missing field or a value of
// another type (nullopt / null), and none throws: the answers come from the network.
#include <boost/json/fwd.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kscprobe::ksc {

/// `v` without its {"type": ..., "value": ...} wrapper (any type name), else `v` itself.
const boost::json::value& unwrap(const boost::json::value& v);

/// A whole number: a JSON integer, a wrapped long, or an integral double within range.
std::optional<std::int64_t> as_int(const boost::json::value& v);
/// Any number (integer, double, wrapped long or double): what a statistic may be.
std::optional<double> as_number(const boost::json::value& v);
/// A string, plain or wrapped.
std::optional<std::string_view> as_string(const boost::json::value& v);
/// A bool, plain or wrapped.
std::optional<bool> as_bool(const boost::json::value& v);
/// A datetime (wrapped or a plain string) as unix seconds; nullopt for anything unreadable.
std::optional<std::int64_t> as_datetime(const boost::json::value& v);
/// A record: a JSON object, or a wrapped params object; null otherwise.
const boost::json::object* as_params(const boost::json::value& v);
/// An array, plain or wrapped; null otherwise.
const boost::json::array* as_array(const boost::json::value& v);

/// The field `name` of `record`, or null when it is absent.
const boost::json::value* field(const boost::json::object& record, std::string_view name);
/// Shorthands: the field read as above, nullopt when absent or of another type.
std::optional<std::int64_t> int_field(const boost::json::object& record, std::string_view name);
std::optional<std::string_view> string_field(const boost::json::object& record,
                                             std::string_view name);
std::optional<bool> bool_field(const boost::json::object& record, std::string_view name);
std::optional<std::int64_t> datetime_field(const boost::json::object& record,
                                           std::string_view name);

/// "YYYY-MM-DDTHH:MM:SS" with optional fraction and "Z" (or "+00:00"), as unix seconds (the
/// fraction dropped). nullopt for anything else, including impossible dates and other offsets.
std::optional<std::int64_t> parse_datetime(std::string_view text);

/// An IPv4 address as KSC's KLHST_WKS_IP_LONG holds it (first octet most significant: 10.0.0.1
/// is 167772161; a negative 32-bit value is the same address read as signed). nullopt for 0 (no
/// address) and values outside 32 bits.
std::optional<std::uint32_t> ipv4_of_long(std::int64_t value);
/// Dotted text of an address from ipv4_of_long.
std::string ipv4_text(std::uint32_t address);

/// What KSC says when a call fails: {"PxgError": {"code", "subcode", "module", "message",
/// "file", "line", "locdata"}} (the fields of KlAkOAPI's KlAkError, Error.py, and go-ksc's Error,
/// kaspersky/Helper.go). Public clients look for it in 200 answers (KlAkOAPI's Base.py
/// ParseResponse), and a server may send it with 500 too: it counts whatever the status. The
/// texts are the server's: bounded, and made printable (control characters as \xNN).
struct PxgError {
  std::int64_t code = 0;
  std::int64_t subcode = 0;
  std::string module;   // e.g. "KLSTD"
  std::string message;  // printable, at most 512 bytes
  std::string file;     // the server's source file, when it says
  std::int64_t line = 0;
};
/// The PxgError of an answer, if it has one (a PxgError that is not a record still counts, with
/// code 0 and an empty message).
std::optional<PxgError> pxg_error(const boost::json::value& answer);

/// Server text made safe to print and log: control characters and DEL as \xNN, a backslash
/// doubled, invalid UTF-8 as \xNN too, cut at `max_bytes` (on a character boundary) with "...".
std::string printable(std::string_view text, std::size_t max_bytes = 512);

/// Parses an answer's body (bounded nesting, no comments). On failure returns false with a short
/// reason in *error ("syntax error at offset 12", "not an object"): the body itself is never
/// quoted, as it may hold anything.
bool parse_answer(std::string_view body, boost::json::value* out, std::string* error);

/// The nesting limit of parse_answer.
inline constexpr std::size_t kMaxJsonDepth = 32;

}  // namespace kscprobe::ksc
