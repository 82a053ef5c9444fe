#include "tests/support/exposition.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>

namespace kscprobe::test {

namespace {

bool name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

bool parse_value(std::string_view text, double* out) {
  if (text == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text == "+Inf" || text == "-Inf") {
    *out = text[0] == '-' ? -std::numeric_limits<double>::infinity()
                          : std::numeric_limits<double>::infinity();
    return true;
  }
  if (text.empty()) return false;
  std::string value(text);
  char* end = nullptr;
  *out = std::strtod(value.c_str(), &end);
  return *end == '\0';
}

// A cheap test before the parse: does `line` start with the metric name `name`?
bool starts_with_name(std::string_view line, std::string_view name) {
  return line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
         (line[name.size()] == '{' || line[name.size()] == ' ');
}

}  // namespace

std::string Sample::label(std::string_view key) const {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return {};
}

bool Sample::has(const Labels& want) const {
  for (const auto& w : want) {
    if (std::find(labels.begin(), labels.end(), w) == labels.end()) return false;
  }
  return true;
}

LineKind parse_line(std::string_view line, Sample* out) {
  if (line.empty()) return LineKind::blank;
  if (line.front() == '#') return LineKind::comment;
  Sample s;
  std::size_t i = 0;
  while (i < line.size() && name_char(line[i], i == 0)) ++i;
  if (i == 0) return LineKind::malformed;
  s.name = line.substr(0, i);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      std::size_t start = i;
      while (i < line.size() && name_char(line[i], i == start)) ++i;
      if (i == start || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
        return LineKind::malformed;
      }
      std::string key(line.substr(start, i - start));
      i += 2;
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) {
          ++i;
          value += line[i] == 'n' ? '\n' : line[i];
          ++i;
          continue;
        }
        value += line[i++];
      }
      if (i >= line.size()) return LineKind::malformed;
      ++i;  // the closing quote
      s.labels.emplace_back(std::move(key), std::move(value));
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return LineKind::malformed;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return LineKind::malformed;
  std::string_view rest = line.substr(i + 1);
  std::size_t space = rest.find(' ');
  if (!parse_value(rest.substr(0, space), &s.value)) return LineKind::malformed;
  if (space != std::string_view::npos) {
    std::string_view ts = rest.substr(space + 1);
    if (ts.empty() || !std::all_of(ts.begin(), ts.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) || c == '-';
        })) {
      return LineKind::malformed;
    }
    s.timestamp = std::strtoll(std::string(ts).c_str(), nullptr, 10);
  }
  if (out) *out = std::move(s);
  return LineKind::sample;
}

std::vector<Sample> parse_samples(std::string_view text, std::string* malformed) {
  std::vector<Sample> out;
  bool bad = false;
  for_each_line(text, [&](std::string_view line) {
    if (bad) return;
    Sample s;
    switch (parse_line(line, &s)) {
      case LineKind::sample:
        out.push_back(std::move(s));
        break;
      case LineKind::malformed:
        bad = true;
        if (malformed) *malformed = line;
        break;
      default:
        break;
    }
  });
  return out;
}

std::vector<Sample> samples_of(std::string_view text, std::string_view name, const Labels& with) {
  std::vector<Sample> out;
  for_each_line(text, [&](std::string_view line) {
    if (!starts_with_name(line, name)) return;
    Sample s;
    if (parse_line(line, &s) == LineKind::sample && s.name == name && s.has(with)) {
      out.push_back(std::move(s));
    }
  });
  return out;
}

std::vector<std::string> sample_lines(std::string_view text, std::string_view name) {
  std::vector<std::string> out;
  for_each_line(text, [&](std::string_view line) {
    if (starts_with_name(line, name)) out.emplace_back(line);
  });
  return out;
}

std::optional<double> sample(std::string_view text, std::string_view name, const Labels& with) {
  std::optional<double> found;
  for_each_line(text, [&](std::string_view line) {
    if (found || !starts_with_name(line, name)) return;
    Sample s;
    if (parse_line(line, &s) == LineKind::sample && s.name == name && s.has(with)) {
      found = s.value;
    }
  });
  return found;
}

Total sum_samples(std::string_view text, std::string_view name, const Labels& with) {
  Total t;
  for_each_line(text, [&](std::string_view line) {
    if (!starts_with_name(line, name)) return;
    Sample s;
    if (parse_line(line, &s) != LineKind::sample || s.name != name || !s.has(with)) return;
    t.sum += s.value;
    ++t.samples;
  });
  return t;
}

std::size_t series_count(std::string_view text) {
  std::size_t n = 0;
  for_each_line(text, [&](std::string_view line) {
    if (!line.empty() && line.front() != '#') ++n;
  });
  return n;
}

Buckets histogram_buckets(std::string_view text, std::string_view name) {
  std::string bucket = std::string(name) + "_bucket";
  std::map<double, double> by_le;
  for (const Sample& s : samples_of(text, bucket)) {
    std::string le = s.label("le");
    if (le.empty()) continue;
    double bound = 0;
    if (le == "+Inf" || le == "Inf") {
      bound = std::numeric_limits<double>::infinity();
    } else {
      bound = std::strtod(le.c_str(), nullptr);
    }
    by_le[bound] += s.value;
  }
  return Buckets(by_le.begin(), by_le.end());
}

Buckets bucket_delta(const Buckets& earlier, const Buckets& later) {
  Buckets out;
  for (const auto& [le, count] : later) {
    double before = 0;
    for (const auto& [le0, count0] : earlier) {
      if (le0 == le) before = count0;
    }
    out.emplace_back(le, count - before);
  }
  return out;
}

std::optional<double> histogram_quantile(double q, const Buckets& buckets) {
  if (buckets.empty() || buckets.back().second <= 0) return std::nullopt;
  double total = buckets.back().second;
  double rank = q * total;
  double lower = 0, below = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    auto [le, count] = buckets[i];
    if (count >= rank) {
      if (std::isinf(le)) return i == 0 ? 0 : buckets[i - 1].first;
      if (count == below) return le;
      return lower + (le - lower) * (rank - below) / (count - below);
    }
    lower = le;
    below = count;
  }
  return buckets.back().first;
}

std::optional<double> quantile_bucket_bound(double q, const Buckets& buckets) {
  if (buckets.empty() || buckets.back().second <= 0) return std::nullopt;
  double rank = q * buckets.back().second;
  for (const auto& [le, count] : buckets) {
    if (count >= rank) return le;
  }
  return buckets.back().first;
}

}  // namespace kscprobe::test
