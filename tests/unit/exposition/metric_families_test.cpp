// The registry of families (daemon/exposition/metric_families.hpp) against what README.md says
// of them: the tables of its "## Metrics" section list each kscprobe_ family with its type, and
// its statistics table sums up ksc::known_statistics() in patterns, and its blackbox-style
// /probe section names blackbox_exporter's families. A family added, renamed
// or retyped in one place and not the other fails here.
#include "daemon/exposition/metric_families.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/discovery/ksc_statistics.hpp"

namespace kscprobe::exposition {
namespace {

std::vector<std::string> readme_lines() {
  std::ifstream in(std::string(KSCPROBE_SOURCE_DIR) + "/README.md");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The lines of the section that starts with `heading`, up to the next heading of its level or
/// above.
std::vector<std::string> section(const std::vector<std::string>& lines,
                                 const std::string& heading) {
  const std::size_t level = heading.find(' ');
  std::vector<std::string> out;
  bool in = false;
  for (const auto& line : lines) {
    if (in) {
      const std::size_t hashes = line.find_first_not_of('#');
      if (hashes > 0 && hashes != std::string::npos && hashes <= level && line[hashes] == ' ')
        break;
      out.push_back(line);
    } else if (line == heading) {
      in = true;
    }
  }
  return out;
}

std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(row.substr(1));
  while (std::getline(in, cell, '|')) {
    const auto b = cell.find_first_not_of(' ');
    const auto e = cell.find_last_not_of(' ');
    out.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
  }
  return out;
}

/// The families the README's metric tables list, with their type: a row's first cell starts
/// with the family in backquotes, its labels in braces after the name. Rows that stand for
/// several families (`kscprobe_ksc_*_in_progress`, `kscprobe_ksc_{fast,full}_scan_percent`)
/// are left out.
std::multimap<std::string, std::string> readme_families() {
  std::multimap<std::string, std::string> out;
  static const std::regex row(R"(^`(kscprobe_[a-z0-9_]+)(\{[^}`]*\})?`)");
  for (const auto& line : section(readme_lines(), "## Metrics")) {
    if (line.rfind("| `kscprobe_", 0) != 0) continue;
    const auto c = cells(line);
    std::smatch m;
    if (c.size() < 2 || !std::regex_search(c[0], m, row)) continue;
    out.emplace(m[1].str(), c[1]);
  }
  return out;
}

std::string_view type_of(ksc::StatisticKind kind) {
  return kind == ksc::StatisticKind::counter ? "counter" : "gauge";
}

TEST(MetricFamilies, NamesAreUniqueAndTyped) {
  std::set<std::string_view> names;
  for (const auto& f : metric_families()) {
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    EXPECT_EQ(f.name.rfind("kscprobe_", 0), 0u) << f.name;
    EXPECT_TRUE(f.type == "gauge" || f.type == "counter" || f.type == "histogram") << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    if (f.type == "counter") {
      EXPECT_TRUE(f.name.ends_with("_total")) << f.name;
    }
  }
  for (const auto& s : ksc::known_statistics())
    EXPECT_TRUE(names.insert(s.metric).second) << s.metric;
  std::set<std::string_view> blackbox;
  for (const auto& f : blackbox_families()) {
    EXPECT_TRUE(blackbox.insert(f.name).second) << f.name;
    EXPECT_EQ(f.name.rfind("probe_", 0), 0u) << f.name;
  }
  EXPECT_EQ(&family(Metric::probe_success), metric_families().data());
  EXPECT_EQ(family(Metric::resolver_queued).name, "kscprobe_resolver_queued");
  EXPECT_EQ(family(BlackboxMetric::probe_local_error_info).name, "probe_local_error_info");
}

TEST(MetricFamilies, ReadmeTablesListEveryFamilyWithItsType) {
  const auto readme = readme_families();
  ASSERT_FALSE(readme.empty()) << "no metric table in README.md's \"## Metrics\"";
  std::map<std::string, std::string, std::less<>> known;
  for (const auto& f : metric_families()) known.emplace(f.name, f.type);
  for (const auto& s : ksc::known_statistics()) known.emplace(s.metric, type_of(s.kind));

  for (const auto& f : metric_families())
    EXPECT_TRUE(readme.count(std::string(f.name)))
        << f.name << " (" << f.type << ") is missing from README.md's metric tables";
  for (const auto& [name, type] : readme) {
    const auto it = known.find(name);
    if (it == known.end()) {
      ADD_FAILURE() << "README.md lists " << name << ", which kscprobe does not write";
      continue;
    }
    EXPECT_EQ(type, it->second) << "README.md's type of " << name;
  }
}

/// A name of the README's statistics table as the patterns it stands for: `{a,b}` is either,
/// `*` any part of a name, a name that starts with `_` ends a kscprobe_ksc_ one; labels in
/// braces at the end are left out.
// NOLINTNEXTLINE(misc-no-recursion): one level per `{a,b}` of the name
std::vector<std::regex> name_patterns(std::string token) {
  static const std::regex labels(R"(\{[^}]*\}$)");
  token = std::regex_replace(token, labels, "");
  const auto open = token.find('{');
  if (open != std::string::npos) {
    const auto close = token.find('}', open);
    std::vector<std::regex> out;
    std::istringstream alternatives(token.substr(open + 1, close - open - 1));
    for (std::string a; std::getline(alternatives, a, ',');)
      for (auto& p : name_patterns(token.substr(0, open) + a + token.substr(close + 1)))
        out.push_back(std::move(p));
    return out;
  }
  std::string rx = token.starts_with("_") ? "kscprobe_ksc(_[a-z0-9_]*)?" : "";
  for (char c : token) rx += c == '*' ? std::string("[a-z0-9_]*") : std::string(1, c);
  return {std::regex(rx)};
}

TEST(MetricFamilies, ReadmeStatisticsTableCoversEveryKnownStatistic) {
  // The rows of the table whose header ends in "attribute |", each with its names and types.
  struct Row {
    std::vector<std::regex> names;
    std::string types;
    std::string text;
  };
  std::vector<Row> rows;
  bool in_table = false;
  static const std::regex token("`([^`]+)`");
  for (const auto& line : section(readme_lines(), "## Metrics")) {
    if (line.rfind("| metric | type | attribute |", 0) == 0) in_table = true;
    if (line.empty()) in_table = false;
    if (!in_table || line.rfind("| `", 0) != 0) continue;
    const auto c = cells(line);
    Row row{{}, c.size() > 1 ? c[1] : "", line};
    for (std::sregex_iterator i(c[0].begin(), c[0].end(), token), end; i != end; ++i)
      for (auto& p : name_patterns((*i)[1].str())) row.names.push_back(std::move(p));
    rows.push_back(std::move(row));
  }
  ASSERT_FALSE(rows.empty()) << "no \"| metric | type | attribute |\" table in README.md";

  for (const auto& s : ksc::known_statistics()) {
    const std::string name(s.metric);
    bool listed = false;
    for (const auto& row : rows)
      for (const auto& p : row.names)
        if (std::regex_match(name, p)) {
          listed = true;
          EXPECT_NE(row.types.find(type_of(s.kind)), std::string::npos)
              << "README.md's type of " << name << ": " << row.text;
        }
    EXPECT_TRUE(listed) << name << " is missing from README.md's statistics table";
  }
  for (const auto& row : rows)
    for (const auto& p : row.names) {
      bool known = false;
      for (const auto& s : ksc::known_statistics())
        known = known || std::regex_match(std::string(s.metric), p);
      for (const auto& f : metric_families())
        known = known || std::regex_match(std::string(f.name), p);
      EXPECT_TRUE(known) << "README.md's statistics table names a family kscprobe does not "
                            "write: "
                         << row.text;
    }
}

TEST(MetricFamilies, ReadmeProbeSectionNamesEveryBlackboxFamily) {
  std::string text;
  for (const auto& line : section(readme_lines(), "### blackbox-style `/probe`"))
    text += line + '\n';
  ASSERT_FALSE(text.empty()) << "no \"### blackbox-style `/probe`\" in README.md";
  std::set<std::string> named;
  static const std::regex token(R"(`(probe_[a-z0-9_]+)[`{])");
  for (std::sregex_iterator i(text.begin(), text.end(), token), end; i != end; ++i)
    named.insert((*i)[1].str());
  std::set<std::string> written;
  for (const auto& f : blackbox_families()) written.emplace(f.name);
  for (const auto& name : written)
    EXPECT_TRUE(named.count(name)) << name << " is missing from README.md's /probe section";
  for (const auto& name : named)
    EXPECT_TRUE(written.count(name))
        << "README.md's /probe section names " << name << ", which /probe does not write";
}

}  // namespace
}  // namespace kscprobe::exposition
