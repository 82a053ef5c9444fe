// [metrics]: detail per role, aggregate labels.
#include <algorithm>

#include "config/load/walk.hpp"
#include "config/rules.hpp"

namespace kscprobe::load {

namespace {

constexpr std::string_view kMetricsKeys[] = {"detail", "aggregate_labels"};

}  // namespace

void Loader::load_metrics(const toml::table& t, MetricsConfig& metrics) {
  const std::string context = "[metrics]";
  reject_unknown_keys(t, kMetricsKeys, context);
  if (const toml::node* n = t.get("detail")) {
    if (const auto* roles = n->as_table()) {
      for (auto&& [role_key, level] : *roles) {
        auto role = parse_role(role_key.str());
        if (!role) {
          error(role_key.source(),
                in(context, "detail: unknown role " + quote(role_key.str()) +
                                suggestion(role_key.str(), kRoles.names()) +
                                "; valid roles: " + std::string(all_role_names())));
          continue;
        }
        auto name = string_value(level, "detail." + std::string(role_key.str()), context);
        if (!name) continue;
        const std::optional<Detail> detail = kDetails.parse(*name);
        if (!detail) {
          error(level.source(),
                in(context, "detail." + std::string(role_key.str()) + ": " + quote(*name) +
                                " is not a detail level" + suggestion(*name, kDetails.names()) +
                                "; levels are " + kDetails.joined()));
          continue;
        }
        metrics.detail[static_cast<int>(*role)] = *detail;
      }
    } else {
      error(n->source(), in(context,
                            "detail must be a table of role = level, like "
                            "{ agent = \"basic\" }, not " +
                                std::string(type_name(*n))));
    }
  }
  if (const toml::node* n = t.get("aggregate_labels")) {
    const auto* arr = n->as_array();
    if (!arr) {
      error(n->source(), in(context,
                            "aggregate_labels must be an array of label names like "
                            "[\"site\"], not " +
                                std::string(type_name(*n))));
      return;
    }
    metrics.aggregate_labels.clear();  // the list replaces the default ["site"]
    for (const auto& item : *arr) {
      auto v = string_value(item, "aggregate_labels entry", context);
      if (!v) continue;
      if (!rules::is_label_name(*v) || rules::is_reserved_label(*v)) {
        error(item.source(), in(context, "aggregate_labels: " + quote(*v) +
                                             " is not a target label name (it must match "
                                             "[a-zA-Z_][a-zA-Z0-9_]* and not be one of the "
                                             "exporter's own labels)"));
        continue;
      }
      if (std::find(metrics.aggregate_labels.begin(), metrics.aggregate_labels.end(), *v) !=
          metrics.aggregate_labels.end()) {
        error(item.source(), in(context, "aggregate_labels: " + quote(*v) + " is listed twice"));
        continue;
      }
      metrics.aggregate_labels.push_back(*v);
    }
  }
}

}  // namespace kscprobe::load
