#include "daemon/exposition/text_writer.hpp"

#include <cmath>

#include "config/utf8.hpp"

namespace kscprobe::exposition {

void append_escaped(std::string& out, std::string_view value) {
  // Prometheus's parser rejects the whole exposition for one byte that is not UTF-8, and label
  // values come from elsewhere (target files, KSC, certificates): such bytes become U+FFFD.
  // Runs of plain ASCII, nearly every label value, are copied whole.
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t run = i;
    while (run < value.size()) {
      const auto u = static_cast<unsigned char>(value[run]);
      if (u >= 0x80 || u == '\\' || u == '"' || u == '\n') break;
      ++run;
    }
    out.append(value.data() + i, run - i);
    i = run;
    if (i == value.size()) break;
    switch (value[i]) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (const std::size_t len = utf8_sequence_length(value, i)) {
          out.append(value.data() + i, len);
          i += len;
          continue;
        }
        out += kUtf8Replacement;
    }
    ++i;
  }
}

void append_label(std::string& labels, std::string_view name, std::string_view value) {
  if (!labels.empty()) labels += ',';
  labels += name;
  labels += "=\"";
  append_escaped(labels, value);
  labels += '"';
}

std::string label(std::string_view name, std::string_view value) {
  std::string s;
  append_label(s, name, value);
  return s;
}

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  std::to_chars_result r;
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back the same
  }
  out.append(buf, r.ptr);
}

void FamilyWriter::header() {
  started_ = true;
  out_ += "# HELP ";
  out_ += name_;
  out_ += ' ';
  // HELP escapes backslash and newline only. Help texts are this program's own, but one may
  // quote a name a server chose: repaired like a label value.
  std::string repaired;
  std::string_view help = help_;
  if (!valid_utf8(help)) {
    repaired = utf8_repaired(help);
    help = repaired;
  }
  for (char c : help) {
    if (c == '\\')
      out_ += "\\\\";
    else if (c == '\n')
      out_ += "\\n";
    else
      out_ += c;
  }
  out_ += "\n# TYPE ";
  out_ += name_;
  out_ += ' ';
  out_ += type_;
  out_ += '\n';
}

void FamilyWriter::histogram(std::string_view labels, std::span<const double> bounds,
                             std::span<const std::uint64_t> buckets, std::uint64_t count,
                             double sum) {
  std::uint64_t cumulative = 0;
  std::string le;
  for (std::size_t i = 0; i < bounds.size() && i < buckets.size(); ++i) {
    cumulative += buckets[i];
    le = "le=\"";
    append_double(le, bounds[i]);
    le += '"';
    sample(labels, le, cumulative, "_bucket");
  }
  sample(labels, "le=\"+Inf\"", count, "_bucket");
  sample(labels, {}, sum, "_sum");
  sample(labels, {}, count, "_count");
}

}  // namespace kscprobe::exposition
