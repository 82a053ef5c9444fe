#include "collectors/exposition_parser.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "platform/ascii.hpp"

namespace kscprobe {
namespace {

enum class Type : std::uint8_t { none, counter, gauge, histogram, summary, untyped };

struct Family {
  Type type = Type::none;
  bool help = false;
  bool sampled = false;
};

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_name_start(char c) { return is_alpha(c) || c == '_' || c == ':'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
bool is_label_start(char c) { return is_alpha(c) || c == '_'; }
bool is_label_char(char c) { return is_label_start(c) || is_digit(c); }

// Go's strconv.ParseFloat is the reference (the exposition format is defined by it), minus hex
// floats and digit separators, which no exporter emits.
bool valid_float(std::string_view s) {
  if (s.empty()) return false;
  if (ascii::iequals(s, "nan")) return true;
  std::size_t i = 0;
  if (s[0] == '+' || s[0] == '-') i = 1;
  std::string_view rest = s.substr(i);
  if (ascii::iequals(rest, "inf") || ascii::iequals(rest, "infinity")) return true;
  std::size_t digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// A signed 64-bit integer (milliseconds since the epoch), as Go's strconv.ParseInt(s, 10, 64).
bool valid_timestamp(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 19) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  if (s.size() < 19) return true;
  return s <= (negative ? std::string_view("9223372036854775808")
                        : std::string_view("9223372036854775807"));
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// Names in messages are cut so that a hostile input cannot make the error text huge.
std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  out.append(s.substr(0, kMax));
  if (s.size() > kMax) out += "...";
  out += '"';
  return out;
}

std::string describe_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7F) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xF];
}

class Parser {
 public:
  explicit Parser(ExpositionSummary* summary) : summary_(summary) {}

  bool run(std::string_view text) {
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      if (line_no_ < kMaxLineNumber) ++line_no_;
      if (!parse_line(text.substr(start, end - start))) return false;
      start = end + 1;
    }
    summary_->families = families_.size();
    return true;
  }

 private:
  static constexpr int kMaxLineNumber = 2'000'000'000;

  bool fail(std::string message) {
    summary_->error = std::move(message);
    summary_->error_line = line_no_;
    summary_->families = families_.size();
    return false;
  }

  void skip_blanks() {
    while (pos_ < line_.size() && is_blank(line_[pos_])) ++pos_;
  }
  bool at_end() const { return pos_ >= line_.size(); }

  std::string_view read_until_blank() {
    std::size_t begin = pos_;
    while (pos_ < line_.size() && !is_blank(line_[pos_])) ++pos_;
    return line_.substr(begin, pos_ - begin);
  }

  std::string_view read_metric_name() {
    std::size_t begin = pos_;
    if (pos_ < line_.size() && is_name_start(line_[pos_])) {
      ++pos_;
      while (pos_ < line_.size() && is_name_char(line_[pos_])) ++pos_;
    }
    return line_.substr(begin, pos_ - begin);
  }

  bool parse_line(std::string_view line) {
    line_ = line;
    pos_ = 0;
    if (!line_.empty() && line_.back() == '\r') {
      return fail("carriage return at end of line (line endings must be \\n, not \\r\\n)");
    }
    skip_blanks();
    if (at_end()) return true;
    if (line_[pos_] == '#') return parse_comment();
    return parse_sample();
  }

  bool parse_comment() {
    ++pos_;  // '#'
    skip_blanks();
    std::string_view keyword = read_until_blank();
    bool help = keyword == "HELP";
    if (!help && keyword != "TYPE") return true;  // an ordinary comment
    skip_blanks();
    // "# HELP" with nothing after it is an ordinary comment too, as in the reference parser.
    if (at_end()) return true;
    std::string_view name = read_metric_name();
    if (name.empty() || (!at_end() && !is_blank(line_[pos_]))) {
      return fail(std::string("invalid metric name in ") + (help ? "HELP" : "TYPE") + " line");
    }
    Family& family = families_[name];
    if (help) {
      if (family.help) return fail("second HELP line for metric family " + quote(name));
      family.help = true;
      if (!at_end()) ++pos_;  // the single blank before the docstring
      return check_help_text(line_.substr(pos_));
    }
    skip_blanks();
    std::string_view type_name = read_until_blank();
    Type type = Type::none;
    if (type_name == "counter") {
      type = Type::counter;
    } else if (type_name == "gauge") {
      type = Type::gauge;
    } else if (type_name == "histogram") {
      type = Type::histogram;
    } else if (type_name == "summary") {
      type = Type::summary;
    } else if (type_name == "untyped") {
      type = Type::untyped;
    } else if (type_name.empty()) {
      return fail("TYPE line for " + quote(name) + " without a type");
    } else {
      return fail("unknown metric type " + quote(type_name) + " for " + quote(name));
    }
    skip_blanks();
    if (!at_end()) return fail("unexpected text after the type in TYPE line");
    if (family.type != Type::none) return fail("second TYPE line for metric family " + quote(name));
    if (family.sampled) return fail("TYPE line for " + quote(name) + " after its samples");
    family.type = type;
    return true;
  }

  bool check_help_text(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '\\') continue;
      if (i + 1 >= text.size() || (text[i + 1] != '\\' && text[i + 1] != 'n')) {
        return fail("invalid escape sequence in HELP text (only \\\\ and \\n are allowed)");
      }
      ++i;
    }
    if (!valid_utf8(text)) return fail("HELP text is not valid UTF-8");
    return true;
  }

  bool parse_sample() {
    std::string_view name = read_metric_name();
    if (name.empty()) return fail("invalid metric name: unexpected " + describe_char(line_[pos_]));
    if (!at_end() && !is_blank(line_[pos_]) && line_[pos_] != '{') {
      return fail("invalid character " + describe_char(line_[pos_]) + " after metric name " +
                  quote(name));
    }
    skip_blanks();
    label_names_.clear();
    std::string_view le;
    std::string_view quantile;
    bool has_le = false;
    bool has_quantile = false;
    if (!at_end() && line_[pos_] == '{') {
      ++pos_;
      for (;;) {
        skip_blanks();
        if (at_end()) return fail("unterminated label set of " + quote(name));
        if (line_[pos_] == '}') break;
        std::size_t begin = pos_;
        if (!is_label_start(line_[pos_])) {
          return fail("invalid label name: unexpected " + describe_char(line_[pos_]));
        }
        while (pos_ < line_.size() && is_label_char(line_[pos_])) ++pos_;
        std::string_view label = line_.substr(begin, pos_ - begin);
        skip_blanks();
        if (at_end() || line_[pos_] != '=') {
          return fail("expected '=' after label name " + quote(label));
        }
        ++pos_;
        skip_blanks();
        if (at_end() || line_[pos_] != '"') {
          return fail("expected '\"' to start the value of label " + quote(label));
        }
        ++pos_;
        std::size_t value_begin = pos_;
        bool closed = false;
        while (pos_ < line_.size()) {
          char c = line_[pos_];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (pos_ + 1 >= line_.size()) break;
            char e = line_[pos_ + 1];
            if (e != '\\' && e != '"' && e != 'n') {
              return fail("invalid escape sequence in value of label " + quote(label) +
                          " (only \\\\, \\\" and \\n are allowed)");
            }
            pos_ += 2;
            continue;
          }
          ++pos_;
        }
        if (!closed) return fail("unterminated value of label " + quote(label));
        std::string_view value = line_.substr(value_begin, pos_ - value_begin);
        ++pos_;  // closing quote
        if (!valid_utf8(value)) return fail("value of label " + quote(label) + " is not UTF-8");
        if (label == "le") {
          has_le = true;
          le = value;
        } else if (label == "quantile") {
          has_quantile = true;
          quantile = value;
        }
        label_names_.push_back(label);
        skip_blanks();
        if (at_end()) return fail("unterminated label set of " + quote(name));
        if (line_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (line_[pos_] != '}') {
          return fail("expected ',' or '}' after the value of label " + quote(label));
        }
      }
      ++pos_;  // '}'
      if (label_names_.size() > 1) {
        std::sort(label_names_.begin(), label_names_.end());
        auto dup = std::adjacent_find(label_names_.begin(), label_names_.end());
        if (dup != label_names_.end()) return fail("duplicate label name " + quote(*dup));
      }
      if (!at_end() && !is_blank(line_[pos_])) {
        return fail("expected a blank after the label set of " + quote(name));
      }
      skip_blanks();
    }
    if (at_end()) return fail("sample " + quote(name) + " has no value");
    std::string_view value = read_until_blank();
    if (!valid_float(value)) return fail("invalid sample value " + quote(value));
    skip_blanks();
    if (!at_end()) {
      std::string_view timestamp = read_until_blank();
      if (!valid_timestamp(timestamp)) return fail("invalid timestamp " + quote(timestamp));
      skip_blanks();
      if (!at_end()) return fail("unexpected text after the timestamp");
    }
    return account_sample(name, has_le, le, has_quantile, quantile);
  }

  // Attributes the sample to its family (histogram and summary samples carry suffixes) and checks
  // the labels those types require.
  bool account_sample(std::string_view name, bool has_le, std::string_view le, bool has_quantile,
                      std::string_view quantile) {
    static constexpr std::string_view kSuffixes[] = {"_bucket", "_count", "_sum"};
    for (std::string_view suffix : kSuffixes) {
      if (name.size() <= suffix.size() || !name.ends_with(suffix)) continue;
      auto it = families_.find(name.substr(0, name.size() - suffix.size()));
      if (it == families_.end()) continue;
      Family& family = it->second;
      if (family.type == Type::histogram) {
        if (suffix == "_bucket" && (!has_le || !valid_float(le))) {
          return fail("histogram bucket " + quote(name) + " without a valid \"le\" label");
        }
        family.sampled = true;
        return count_sample();
      }
      if (family.type == Type::summary && suffix != "_bucket") {
        family.sampled = true;
        return count_sample();
      }
    }
    Family& family = families_[name];
    if (family.type == Type::summary && (!has_quantile || !valid_float(quantile))) {
      return fail("summary sample " + quote(name) + " without a valid \"quantile\" label");
    }
    if (family.type == Type::histogram) {
      return fail("histogram " + quote(name) + " has a sample without _bucket, _sum or _count");
    }
    family.sampled = true;
    return count_sample();
  }

  bool count_sample() {
    ++summary_->samples;
    return true;
  }

  ExpositionSummary* summary_;
  std::unordered_map<std::string_view, Family> families_;
  std::vector<std::string_view> label_names_;
  std::string_view line_;
  std::size_t pos_ = 0;
  int line_no_ = 0;
};

}  // namespace

bool parse_exposition(std::string_view text, ExpositionSummary* out) {
  ExpositionSummary local;
  ExpositionSummary* summary = out ? out : &local;
  *summary = ExpositionSummary{};
  Parser parser(summary);
  return parser.run(text);
}

}  // namespace kscprobe
