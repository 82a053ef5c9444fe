#include "tests/bench/exposition.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>

namespace kscprobe::bench {

namespace {

struct Line {
  std::string_view name;
  std::string_view labels;  // between the braces, empty without
  double value = 0;
  bool ok = false;
};

Line parse_line(std::string_view line) {
  Line out;
  if (line.empty() || line.front() == '#') return out;
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  out.name = line.substr(0, i);
  if (i < line.size() && line[i] == '{') {
    std::size_t start = ++i;
    bool quoted = false;
    for (; i < line.size(); ++i) {
      char c = line[i];
      if (quoted && c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && c == '}') {
        break;
      }
    }
    if (i >= line.size()) return out;
    out.labels = line.substr(start, i - start);
    ++i;
  }
  while (i < line.size() && line[i] == ' ') ++i;
  std::size_t end = i;
  while (end < line.size() && line[end] != ' ') ++end;
  std::string value(line.substr(i, end - i));
  if (value.empty()) return out;
  char* stop = nullptr;
  out.value = std::strtod(value.c_str(), &stop);
  out.ok = stop != nullptr && *stop == '\0';
  return out;
}

template <typename F>
void for_each_line(std::string_view text, F&& f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    f(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

std::optional<double> label_value(std::string_view labels, std::string_view key) {
  std::string needle = std::string(key) + "=\"";
  std::size_t at = 0;
  while ((at = labels.find(needle, at)) != std::string_view::npos) {
    if (at == 0 || labels[at - 1] == ',') {
      std::size_t start = at + needle.size();
      std::size_t end = labels.find('"', start);
      if (end == std::string_view::npos) return std::nullopt;
      std::string v(labels.substr(start, end - start));
      if (v == "+Inf" || v == "Inf") return std::numeric_limits<double>::infinity();
      return std::strtod(v.c_str(), nullptr);
    }
    at += needle.size();
  }
  return std::nullopt;
}

}  // namespace

Total sum_samples(std::string_view text, std::string_view name,
                  const std::vector<std::string_view>& with) {
  Total t;
  for_each_line(text, [&](std::string_view line) {
    if (line.size() <= name.size() || line.compare(0, name.size(), name) != 0) return;
    char next = line[name.size()];
    if (next != '{' && next != ' ') return;
    Line l = parse_line(line);
    if (!l.ok || l.name != name) return;
    for (std::string_view pair : with) {
      // A whole label pair: at the start of the set or after a comma.
      std::size_t at = l.labels.find(pair);
      while (at != std::string_view::npos && at != 0 && l.labels[at - 1] != ',')
        at = l.labels.find(pair, at + 1);
      if (at == std::string_view::npos) return;
    }
    t.sum += l.value;
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
  for_each_line(text, [&](std::string_view line) {
    if (line.size() <= bucket.size() || line.compare(0, bucket.size(), bucket) != 0) return;
    Line l = parse_line(line);
    if (!l.ok || l.name != bucket) return;
    if (auto le = label_value(l.labels, "le")) by_le[*le] += l.value;
  });
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

}  // namespace kscprobe::bench
