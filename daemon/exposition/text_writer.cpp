#include "daemon/exposition/text_writer.hpp"

#include <cmath>

namespace kscprobe::exposition {

void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
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
        out += c;
    }
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
  out_ += help_;
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
