#include "config/target_file.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <utility>

#include "config/rules.hpp"
#include "config/yaml_file.hpp"

namespace kscprobe {

namespace {

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
          std::string why;
          if (auto flags = rules::parse_feature_list(value, &why)) {
            proto.features |= *flags;
          } else {
            err(kv.second.Mark(), where + ": " + why);
            ok = false;
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
        } else if (!rules::is_label_name(name)) {
          err(kv.first.Mark(),
              where + ": label name \"" + name + "\" must match [a-zA-Z_][a-zA-Z0-9_]*");
          ok = false;
        } else if (rules::is_reserved_label(name)) {
          err(kv.first.Mark(), where + ": label name \"" + name + "\" is reserved (" +
                                   std::string(rules::reserved_labels_text()) + ")");
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
      std::string why;
      std::optional<std::string> address;
      if (!t.IsScalar()) {
        why = "must be a host name or IP address";
      } else {
        address = rules::parse_address(t.Scalar(), &why);
      }
      if (!address) {
        err(t.Mark(),
            where + ": address \"" + (t.IsScalar() ? t.Scalar() : std::string("?")) + "\" " + why);
        continue;
      }
      if (!ok) continue;
      if (members == nullptr) {
        out.push_back(TargetGroup{proto, {}});
        members = &out.back().members;
        members->reserve(list.size());
      }
      members->push_back({std::move(*address), t.Mark().line + 1, t.Mark().column + 1});
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
