#include "daemon/discovery/ksc_inventory.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <unordered_set>

#include "config/rules.hpp"
#include "config/utf8.hpp"
#include "daemon/discovery/ksc_json.hpp"

namespace kscprobe::ksc {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// KSC's strings go into target names and label values: bounded, and without control characters
// (which would make log lines and the status page ambiguous).
constexpr std::size_t kMaxText = 256;

std::string clean(std::string_view text) {
  text = utf8_prefix(text, kMaxText);  // a split character would be invalid UTF-8 downstream
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  std::size_t begin = out.find_first_not_of(' ');
  if (begin == std::string::npos) return {};
  std::size_t end = out.find_last_not_of(' ');
  return out.substr(begin, end - begin + 1);
}

std::string text_field(const json::object& record, std::string_view name) {
  auto s = string_field(record, name);
  return s ? clean(*s) : std::string();
}

json::array string_array(const std::vector<std::string>& names) {
  json::array out;
  for (const auto& n : names) out.emplace_back(n);
  return out;
}

json::object find_params(std::string_view filter, const std::vector<std::string>& fields) {
  json::object p;
  p["wstrFilter"] = filter;
  p["vecFieldsToReturn"] = string_array(fields);
  p["vecFieldsToOrder"] = json::array();
  json::object options;
  options["KLGRP_FIND_FROM_CUR_VS_ONLY"] = true;
  p["pParams"] = std::move(options);
  p["lMaxLifeTime"] = 600;
  return p;
}

Error malformed(std::string message) {
  Error e;
  e.kind = ErrorKind::malformed;
  e.message = std::move(message);
  return e;
}

// A search whose results are read through a ChunkAccessor.
struct Listing {
  std::string_view method;
  json::object params;
  std::function<void()> reset;                      // before each (re)start
  std::function<bool(const json::value&)> on_item;  // false: stop reading (a limit)
  std::function<void(std::size_t)> on_count;        // the server's item count, when known
};

asio::awaitable<Error> read_pages(Client& client, const KscLimits& limits, Listing& listing,
                                  const std::string& accessor, std::size_t* listed) {
  json::object by_accessor;
  by_accessor["strAccessor"] = accessor;
  CallResult counted = co_await client.call("ChunkAccessor.GetItemsCount", by_accessor);
  if (!counted.ok()) co_return counted.error;
  auto count = int_field(counted.answer.get_object(), "PxgRetVal");
  if (!count || *count < 0) co_return malformed("ChunkAccessor.GetItemsCount: no count");
  *listed = static_cast<std::size_t>(*count);
  if (listing.on_count) listing.on_count(*listed);
  const std::int64_t page = std::max<std::int64_t>(1, limits.page_size);
  std::size_t pages = 0;
  for (std::int64_t start = 0; start < *count; start += page) {
    if (++pages > limits.max_pages) break;
    json::object ask;
    ask["strAccessor"] = accessor;
    ask["nStart"] = start;
    ask["nCount"] = std::min(page, *count - start);
    CallResult chunk = co_await client.call("ChunkAccessor.GetItemsChunk", ask);
    if (!chunk.ok()) co_return chunk.error;
    const json::array* items = chunk_items(chunk.answer);
    if (items == nullptr) co_return malformed("ChunkAccessor.GetItemsChunk: no item array");
    if (items->empty()) break;  // fewer than counted: the listing changed meanwhile
    for (const json::value& item : *items) {
      if (!listing.on_item(item)) co_return Error{};
    }
  }
  co_return Error{};
}

// Runs the search, reads every page, and releases the accessor. Starts over once when the
// session was renewed while the accessor was in use.
asio::awaitable<Error> read_listing(Client& client, const KscLimits& limits, Listing& listing,
                                    std::size_t* listed) {
  Error error;
  for (int attempt = 0; attempt < 2; ++attempt) {
    listing.reset();
    *listed = 0;
    CallResult found = co_await client.call(listing.method, listing.params);
    if (!found.ok()) co_return found.error;
    auto accessor_text = string_field(found.answer.get_object(), "strAccessor");
    if (!accessor_text || accessor_text->empty())
      co_return malformed(std::string(listing.method) + ": no strAccessor");
    const std::string accessor(*accessor_text);
    const std::uint64_t session = client.session_generation();
    error = co_await read_pages(client, limits, listing, accessor, listed);
    if (error.kind != ErrorKind::timeout) {
      // Best effort: an accessor left behind expires on the server after lMaxLifeTime.
      json::object release;
      release["strAccessor"] = accessor;
      co_await client.call("ChunkAccessor.Release", release);
    }
    const bool renewed = client.session_generation() != session;
    if (!error || !renewed) co_return error;
  }
  co_return error;
}

}  // namespace

std::string_view Inventory::group_name(std::int64_t id) const {
  auto it = group_names.find(id);
  return it == group_names.end() ? std::string_view() : std::string_view(it->second);
}

const std::vector<std::string>& host_fields() {
  static const std::vector<std::string> fields = {
      "KLHST_WKS_HOSTNAME",     "KLHST_WKS_DN",
      "KLHST_WKS_FQDN",         "KLHST_WKS_DNSNAME",
      "KLHST_WKS_IP_LONG",      "KLHST_WKS_GROUPID",
      "KLHST_WKS_LAST_VISIBLE", "KLHST_WKS_LAST_NAGENT_CONNECTED",
      "KLHST_WKS_STATUS"};
  return fields;
}

const json::array* chunk_items(const json::value& answer) {
  const json::object* o = answer.if_object();
  if (o == nullptr) return nullptr;
  const json::value* chunk = field(*o, "pChunk");
  if (chunk == nullptr) return nullptr;
  const json::object* chunk_record = as_params(*chunk);
  if (chunk_record == nullptr) return nullptr;
  const json::value* items = field(*chunk_record, "KLCSP_ITERATOR_ARRAY");
  if (items == nullptr) return nullptr;
  if (items->is_null()) {
    static const json::array kEmpty;
    return &kEmpty;
  }
  return as_array(*items);
}

HostDecode decode_host(const json::value& item, Host* out) {
  *out = Host{};
  const json::object* r = as_params(item);
  if (r == nullptr) return HostDecode::not_a_record;
  out->id = text_field(*r, "KLHST_WKS_HOSTNAME");
  if (out->id.empty()) return HostDecode::no_id;
  out->display_name = text_field(*r, "KLHST_WKS_DN");
  out->fqdn = text_field(*r, "KLHST_WKS_FQDN");
  out->dns_name = text_field(*r, "KLHST_WKS_DNSNAME");
  if (auto ip = int_field(*r, "KLHST_WKS_IP_LONG")) {
    if (auto v4 = ipv4_of_long(*ip)) out->ipv4 = *v4;
  }
  if (auto group = int_field(*r, "KLHST_WKS_GROUPID")) out->group_id = *group;
  if (auto seen = datetime_field(*r, "KLHST_WKS_LAST_VISIBLE")) out->last_visible = *seen;
  out->last_agent_connected = datetime_field(*r, "KLHST_WKS_LAST_NAGENT_CONNECTED");
  if (auto status = int_field(*r, "KLHST_WKS_STATUS")) {
    out->status = static_cast<std::uint32_t>(static_cast<std::uint64_t>(*status) & 0xFFFFFFFFu);
  }
  return HostDecode::ok;
}

bool decode_group(const json::value& item, std::int64_t* id, std::string* name) {
  const json::object* r = as_params(item);
  if (r == nullptr) return false;
  auto group = int_field(*r, "id");
  if (!group) return false;
  std::string text = text_field(*r, "name");
  if (text.empty()) return false;
  *id = *group;
  *name = std::move(text);
  return true;
}

std::vector<std::string> decode_update_agents(const json::value& answer) {
  std::vector<std::string> ids;
  const json::object* o = answer.if_object();
  if (o == nullptr) return ids;
  const json::value* list = field(*o, "pUasArr");
  if (list == nullptr) list = field(*o, "PxgRetVal");
  if (list == nullptr) return ids;
  const json::array* items = as_array(*list);
  if (items == nullptr) return ids;
  for (const json::value& item : *items) {
    const json::object* r = as_params(item);
    if (r == nullptr) continue;
    std::string id = text_field(*r, "UaHostId");
    if (!id.empty()) ids.push_back(std::move(id));
  }
  return ids;
}

asio::awaitable<Error> discover(Client& client, const KscSource& source, Inventory* out) {
  *out = Inventory{};
  const KscLimits& limits = source.limits;

  // Group names.
  Listing groups;
  groups.method = "HostGroup.FindGroups";
  groups.params = find_params("", {"id", "name", "grp_full_name", "parentId"});
  groups.reset = [out] { out->group_names.clear(); };
  groups.on_item = [out, &limits](const json::value& item) {
    std::int64_t id = 0;
    std::string name;
    if (decode_group(item, &id, &name)) out->group_names[id] = std::move(name);
    return out->group_names.size() < limits.max_groups;
  };
  std::size_t group_count = 0;
  if (Error e = co_await read_listing(client, limits, groups, &group_count)) co_return e;

  // Distribution points.
  std::unordered_set<std::string> update_agents;
  {
    CallResult agents = co_await client.call("UaControl.GetUpdateAgentsList", json::object());
    if (!agents.ok()) co_return agents.error;
    for (auto& id : decode_update_agents(agents.answer)) update_agents.insert(std::move(id));
  }

  // Devices.
  bool over_limit = false;
  std::size_t seen = 0;
  Listing hosts;
  hosts.method = "HostGroup.FindHosts";
  hosts.params = find_params(source.host_filter, host_fields());
  hosts.reset = [out, &seen, &over_limit] {
    out->hosts.clear();
    out->skipped.clear();
    seen = 0;
    over_limit = false;
  };
  // Room for every device at once (never past the limit, whatever the server claims).
  hosts.on_count = [out, &limits](std::size_t count) {
    out->hosts.reserve(std::min(count, limits.max_hosts));
  };
  hosts.on_item = [out, &limits, &seen, &over_limit, &update_agents](const json::value& item) {
    if (out->hosts.size() >= limits.max_hosts) {
      over_limit = true;
      return false;
    }
    ++seen;
    Host host;
    switch (decode_host(item, &host)) {
      case HostDecode::ok:
        host.distribution_point = update_agents.count(host.id) > 0;
        out->hosts.push_back(std::move(host));
        break;
      case HostDecode::not_a_record:
        ++out->skipped["not_a_record"];
        break;
      case HostDecode::no_id:
        ++out->skipped["no_id"];
        break;
    }
    return true;
  };
  if (Error e = co_await read_listing(client, limits, hosts, &out->listed)) co_return e;
  if (over_limit && out->listed > seen) out->skipped["over_limit"] += out->listed - seen;

  // The server's statistics: informative, so their failure does not fail the run.
  json::object filter;
  filter["vecFilterFields"] = string_array(statistic_fields());  // some are 0 unless asked for
  CallResult stats = co_await client.call("HostGroup.GetInstanceStatistics", filter);
  if (stats.ok()) {
    out->statistics = decode_statistics(stats.answer);
  } else {
    out->statistics_error = stats.error.message;
  }
  co_return Error{};
}

std::vector<DiscoveredTarget> to_targets(const Inventory& inventory, const KscSource& source,
                                         TargetStats* stats, std::vector<AgentView>* agents) {
  TargetStats local;
  TargetStats& st = stats ? *stats : local;
  st = TargetStats{};
  const bool want_agent =
      std::find(source.roles.begin(), source.roles.end(), Role::agent) != source.roles.end();
  const bool want_dp = std::find(source.roles.begin(), source.roles.end(),
                                 Role::distribution_point) != source.roles.end();

  struct Pick {
    const Host* host;
    Role role;
    std::string address;
    std::string name;
  };
  std::vector<Pick> picks;
  picks.reserve(inventory.hosts.size());
  std::string ignored;
  for (const Host& h : inventory.hosts) {
    Role role;
    if (h.distribution_point && want_dp) {
      role = Role::distribution_point;
    } else if (want_agent) {
      role = Role::agent;
    } else {
      continue;
    }
    std::string address;
    if (h.ipv4 != 0) {
      address = ipv4_text(h.ipv4);
    } else if (auto fqdn = h.fqdn.empty() ? std::nullopt : rules::parse_address(h.fqdn, &ignored)) {
      address = std::move(*fqdn);
    } else if (auto dns =
                   h.dns_name.empty() ? std::nullopt : rules::parse_address(h.dns_name, &ignored)) {
      address = std::move(*dns);
    } else {
      ++st.skipped["no_address"];
      continue;
    }
    std::string name = !h.display_name.empty() ? h.display_name
                       : !h.fqdn.empty()       ? h.fqdn
                       : !h.dns_name.empty()   ? h.dns_name
                                               : h.id;
    picks.push_back(Pick{&h, role, std::move(address), std::move(name)});
  }

  std::unordered_map<std::string_view, unsigned> uses;
  for (const Pick& p : picks) ++uses[p.name];
  std::vector<std::string> suffixed(picks.size());
  for (std::size_t i = 0; i < picks.size(); ++i) {
    if (uses[picks[i].name] > 1) suffixed[i] = picks[i].name + " (" + picks[i].host->id + ")";
  }
  uses.clear();  // its keys view the names about to change
  for (std::size_t i = 0; i < picks.size(); ++i) {
    if (!suffixed[i].empty()) picks[i].name = std::move(suffixed[i]);
  }
  suffixed = {};

  // Sorted by name; of equal names (a suffixed name that a display name already spelled out)
  // the first in KSC's order is kept. The small picks are sorted, and each target is made once,
  // in its place: at 100 000 devices a second list of targets would be tens of megabytes.
  std::vector<std::uint32_t> order(picks.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return picks[a].name < picks[b].name; });
  std::vector<DiscoveredTarget> targets;
  targets.reserve(picks.size());
  if (agents) {
    agents->clear();
    agents->reserve(picks.size());
  }
  for (std::uint32_t i : order) {
    Pick& p = picks[i];
    if (!targets.empty() && targets.back().name == p.name) {
      ++st.skipped["duplicate_name"];
      continue;
    }
    const Host& h = *p.host;
    if (agents) {
      AgentView v;
      v.target = p.name;
      v.last_agent_connected = h.last_agent_connected;
      if (h.last_visible != 0) v.last_visible = h.last_visible;
      v.agent_running = (h.status & kStatusAgentRunning) != 0;
      agents->push_back(std::move(v));
    }
    DiscoveredTarget t;
    t.name = std::move(p.name);
    t.role = p.role;
    t.address = std::move(p.address);
    t.labels.reserve(source.labels.size() + 3);
    std::string_view group = inventory.group_name(h.group_id);
    if (!group.empty()) t.labels.emplace_back("ksc_group", std::string(group));
    t.labels.emplace_back("ksc_host_id", h.id);
    t.labels.emplace_back("ksc_server", source.name);
    for (const auto& [label, value] : source.labels) {
      if (label == "ksc_group" || label == "ksc_host_id" || label == "ksc_server") continue;
      t.labels.emplace_back(label, value);
    }
    std::sort(t.labels.begin(), t.labels.end());
    targets.push_back(std::move(t));
  }
  for (const DiscoveredTarget& t : targets) ++st.by_role[static_cast<std::size_t>(t.role)];
  return targets;
}

}  // namespace kscprobe::ksc
