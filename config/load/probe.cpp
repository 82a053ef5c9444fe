// [probe]: the /probe endpoint's networks and concurrency.
#include "config/load/walk.hpp"
#include "config/rules.hpp"

namespace kscprobe::load {

namespace {

constexpr std::string_view kProbeKeys[] = {"allow", "max_concurrent"};

}  // namespace

void Loader::load_probe(const toml::table& t, ProbeEndpointConfig& probe) {
  const std::string context = "[probe]";
  reject_unknown_keys(t, kProbeKeys, context);
  if (const toml::node* n = t.get("allow")) {
    const auto* arr = n->as_array();
    if (!arr) {
      error(n->source(), in(context, "allow must be an array of networks like [\"10.0.0.0/8\"]"));
    } else {
      for (const auto& item : *arr) {
        auto v = string_value(item, "allow entry", context);
        if (!v) continue;
        std::string why;
        if (auto net = rules::parse_network(*v, &why)) {
          probe.allow.push_back(*net);
        } else {
          error(item.source(), in(context, why));
        }
      }
    }
  }
  if (const toml::node* n = t.get("max_concurrent")) {
    const auto* v = n->as_integer();
    if (!v || v->get() < 1 || v->get() > 1024) {
      error(n->source(), in(context, "max_concurrent must be an integer in 1..1024"));
    } else {
      probe.max_concurrent = static_cast<unsigned>(v->get());
    }
  }
}

}  // namespace kscprobe::load
