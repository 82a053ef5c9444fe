#include "config/target_file.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "config/yaml_file.hpp"

namespace kscprobe {

namespace {

constexpr std::string_view kReserved[] = {"target", "check", "port",     "transport",
                                          "reason", "phase", "instance", "job"};

bool label_name_ok(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool address_ok(const std::string& s) {
  return !s.empty() && s.size() < 256 && std::none_of(s.begin(), s.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '"';
  });
}

// Bounds that keep the work of one file proportional to its size: a label mapping is copied
// into every target of its group, and a parser that stops at the first hundred errors does not
// log a million lines for a generated file gone wrong.
constexpr std::size_t kMaxLabels = 64;
constexpr std::size_t kMaxErrors = 100;

/// Where a node starts. A YAML alias (*name) is the very node of its anchor, with the same mark.
std::pair<int, int> where_of(const YAML::Node& n) { return {n.Mark().line, n.Mark().column}; }

}  // namespace

bool parse_target_groups(const std::string& path, std::vector<TargetGroup>* groups,
                         std::vector<ConfigError>* errors) {
  std::size_t before = errors->size();
  bool gave_up = false;
  auto err = [&](const YAML::Mark& m, std::string msg) {
    if (gave_up) return;
    if (errors->size() - before >= kMaxErrors) {
      errors->push_back(
          {yaml_position(path, m), "too many errors, the rest of the file is not checked"});
      gave_up = true;
      return;
    }
    errors->push_back({yaml_position(path, m), std::move(msg)});
  };
  YAML::Node root;
  if (!load_yaml_file(path, "the target file", &root, errors)) return false;
  if (root.IsNull()) return true;  // an empty file: no targets
  if (!root.IsSequence()) {
    err(root.Mark(), "a target file is a list of {\"targets\": [...], \"labels\": {...}} groups");
    return false;
  }
  std::vector<TargetGroup> out;
  // Aliases make a small file describe a huge one ("- *group" a thousand times over a group of a
  // thousand targets). A group, target list or target met again can only repeat names, which
  // are errors anyway: say so once and do not walk it again.
  std::set<std::pair<int, int>> seen;
  std::size_t g = 0;
  for (auto it = root.begin(); it != root.end() && !gave_up; ++it, ++g) {
    const YAML::Node group = *it;
    std::string where = "group #" + std::to_string(g + 1);
    if (!group.IsMap()) {
      err(group.Mark(), where + " must be a mapping with targets and labels");
      continue;
    }
    if (!seen.insert(where_of(group)).second) {
      err(group.Mark(), where + " repeats an earlier group (a YAML alias); list each target once");
      continue;
    }
    for (const auto& kv : group) {
      std::string key = kv.first.Scalar();
      if (key != "targets" && key != "labels")
        err(kv.first.Mark(), where + ": unknown key \"" + key + "\" (targets, labels)");
    }
    TargetConfig proto;
    bool role_seen = false, ok = true;
    const YAML::Node labels = group["labels"];
    if (labels && !labels.IsMap()) {
      err(labels.Mark(), where + ": labels must be a mapping of name: value");
      ok = false;
    } else if (labels) {
      std::size_t count = 0;
      for (const auto& kv : labels) {
        if (++count > kMaxLabels) {
          err(labels.Mark(), where + ": more than " + std::to_string(kMaxLabels) + " labels");
          ok = false;
          break;
        }
        std::string name = kv.first.Scalar();
        if (!kv.second.IsScalar()) {
          err(kv.second.Mark(), where + ": label \"" + name + "\" must be a string");
          ok = false;
          continue;
        }
        std::string value = kv.second.Scalar();
        if (name == "role") {
          role_seen = true;  // present, even if invalid: one error is enough
          auto r = parse_role(value);
          if (!r) {
            err(kv.second.Mark(),
                where + ": unknown role \"" + value + "\" (" + std::string(all_role_names()) + ")");
            ok = false;
          } else {
            proto.role = *r;
          }
        } else if (name == "features") {
          std::size_t i = 0;
          while (i <= value.size()) {
            std::size_t end = value.find(',', i);
            if (end == std::string::npos) end = value.size();
            std::string f = value.substr(i, end - i);
            f.erase(0, f.find_first_not_of(' '));
            if (auto sp = f.find_last_not_of(' '); sp != std::string::npos) f.erase(sp + 1);
            i = end + 1;
            if (f.empty()) continue;
            auto flag = parse_feature(f);
            if (!flag) {
              err(kv.second.Mark(), where + ": unknown feature \"" + f + "\" (" +
                                        std::string(all_feature_names()) + ")");
              ok = false;
            } else {
              proto.features |= *flag;
            }
          }
        } else if (name == "engine") {
          auto e = parse_engine(value);
          if (!e) {
            err(kv.second.Mark(),
                where + ": unknown engine \"" + value + "\" (mysql, mssql, postgresql)");
            ok = false;
          } else {
            proto.engine = *e;
          }
        } else if (name.rfind("__", 0) == 0) {
          // Meta labels: Prometheus drops them after relabelling, so do we.
        } else if (!label_name_ok(name) || std::find(std::begin(kReserved), std::end(kReserved),
                                                     name) != std::end(kReserved)) {
          err(kv.first.Mark(), where + ": label name \"" + name +
                                   "\" is not allowed (reserved, or not [a-zA-Z_][a-zA-Z0-9_]*)");
          ok = false;
        } else {
          proto.labels.emplace_back(name, value);
        }
      }
    }
    if (!role_seen) {
      err(group.Mark(), where + ": labels must say the role (\"role\": \"agent\", ...)");
      ok = false;
    }
    if (proto.role == Role::database && !proto.engine) {
      err(group.Mark(), where + ": role database needs an \"engine\" label");
      ok = false;
    }
    std::sort(proto.labels.begin(), proto.labels.end());
    const YAML::Node list = group["targets"];
    if (!list || !list.IsSequence()) {
      err(group.Mark(), where + ": targets must be a list of addresses");
      continue;
    }
    if (!seen.insert(where_of(list)).second) {
      err(list.Mark(), where +
                           ": targets repeat an earlier list (a YAML alias); list each "
                           "target once");
      continue;
    }
    std::vector<TargetGroup::Member>* members = nullptr;  // of this group, once it has one
    for (const auto& t : list) {
      if (gave_up) break;
      if (t.IsScalar() && !seen.insert(where_of(t)).second) {
        err(t.Mark(), where + ": \"" + t.Scalar() +
                          "\" repeats an earlier target (a YAML alias); list each target once");
        continue;
      }
      if (!t.IsScalar() || !address_ok(t.Scalar())) {
        err(t.Mark(), where + ": \"" + (t.IsScalar() ? t.Scalar() : std::string("?")) +
                          "\" is not a host name or IP address");
        continue;
      }
      if (!ok) continue;
      if (members == nullptr) {
        out.push_back(TargetGroup{proto, {}});
        members = &out.back().members;
        members->reserve(list.size());
      }
      std::string address = t.Scalar();
      if (address.size() > 2 && address.front() == '[' && address.back() == ']')
        address = address.substr(1, address.size() - 2);
      members->push_back({std::move(address), t.Mark().line + 1, t.Mark().column + 1});
    }
  }
  if (errors->size() != before) return false;
  groups->insert(groups->end(), std::make_move_iterator(out.begin()),
                 std::make_move_iterator(out.end()));
  return true;
}

void expand_target_groups(const std::string& path, const std::vector<TargetGroup>& groups,
                          std::vector<TargetConfig>* targets) {
  std::size_t count = 0;
  for (const auto& g : groups) count += g.members.size();
  targets->reserve(targets->size() + count);
  for (const auto& g : groups) {
    for (const auto& m : g.members) {
      TargetConfig& tc = targets->emplace_back(g.proto);
      tc.address = m.address;
      tc.name = m.address;
      tc.pos = {path, m.line, m.column};
    }
  }
}

bool parse_target_file(const std::string& path, std::vector<TargetConfig>* targets,
                       std::vector<ConfigError>* errors) {
  std::vector<TargetGroup> groups;
  if (!parse_target_groups(path, &groups, errors)) return false;
  expand_target_groups(path, groups, targets);
  return true;
}

}  // namespace kscprobe
