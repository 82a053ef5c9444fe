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

Error malformed(std::string message) { return Error::of(ErrorKind::malformed, std::move(message)); }

// A search whose results are read through a ChunkAccessor.
struct Listing {
  std::string_view method;
  json::object params;
  std::size_t max_items = 0;                        // items read at most (on_item stops there)
  std::function<void()> reset;                      // before each (re)start
  std::function<bool(const json::value&)> on_item;  // false: stop reading (a limit)
  std::function<void(std::size_t)> on_count;        // the server's item count, when known
  // What the last read found.
  std::size_t read = 0;      // items the server handed out
  std::size_t requests = 0;  // GetItemsChunk calls
  bool truncated = false;    // ended at the request bound, short of the count
  bool ended_short = false;  // an empty chunk before the count: the listing changed meanwhile
};

// Reads the accessor's items. A chunk holds "less or equal to nCount" items (its PxgRetVal says
// how many: ChunkAccessor.GetItemsChunk in the KSC OpenAPI reference), so the next chunk starts
// after the items that came, and the listing ends at the count or at an empty chunk (pChunk or
// its KLCSP_ITERATOR_ARRAY absent, as the XSOAR integration reads one). `*renewed` is set when
// the client logged in again meanwhile: the accessor belonged to the ended session.
asio::awaitable<Error> read_pages(Client& client, const KscLimits& limits, Listing& listing,
                                  const std::string& accessor, std::size_t* listed,
                                  std::uint64_t session, bool* renewed) {
  json::object by_accessor;
  by_accessor["strAccessor"] = accessor;
  CallResult counted = co_await client.call("ChunkAccessor.GetItemsCount", by_accessor);
  if (client.session_generation() != session) {
    *renewed = true;
    co_return Error{};
  }
  if (!counted.ok()) co_return counted.error;
  auto count = int_field(counted.answer.get_object(), "PxgRetVal");
  if (!count || *count < 0) co_return malformed("ChunkAccessor.GetItemsCount: no count");
  *listed = static_cast<std::size_t>(*count);
  if (listing.on_count) listing.on_count(*listed);
  const std::size_t page = std::max<std::size_t>(1, limits.page_size);
  // As many requests as a server capping its chunks needs, not as many as a hostile one wants.
  const std::size_t wanted = std::min(*listed, listing.max_items);
  const std::size_t max_requests =
      wanted / std::max<std::size_t>(1, limits.min_chunk_items) + (wanted + page - 1) / page + 4;
  std::size_t start = 0;
  while (start < *listed) {
    if (listing.requests >= max_requests) {
      listing.truncated = true;
      break;
    }
    ++listing.requests;
    json::object ask;
    ask["strAccessor"] = accessor;
    ask["nStart"] = static_cast<std::int64_t>(start);
    ask["nCount"] = static_cast<std::int64_t>(std::min(page, *listed - start));
    CallResult chunk = co_await client.call("ChunkAccessor.GetItemsChunk", ask);
    if (client.session_generation() != session) {
      *renewed = true;
      co_return Error{};
    }
    if (!chunk.ok()) co_return chunk.error;
    const json::array* items = chunk_items(chunk.answer);
    if (items == nullptr) co_return malformed("ChunkAccessor.GetItemsChunk: no item array");
    if (items->empty()) {
      listing.ended_short = true;
      break;
    }
    listing.read += items->size();
    start += items->size();
    for (const json::value& item : *items) {
      if (!listing.on_item(item)) co_return Error{};
    }
  }
  co_return Error{};
}

// Runs the search, reads every page, and releases the accessor. When the session ended while
// the accessor was in use (the client logged in again), the listing is read again from the
// start, once: a second ended session fails it.
asio::awaitable<Error> read_listing(Client& client, const KscLimits& limits, Listing& listing,
                                    std::size_t* listed) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    listing.reset();
    listing.read = listing.requests = 0;
    listing.truncated = listing.ended_short = false;
    *listed = 0;
    CallResult found = co_await client.call(listing.method, listing.params);
    if (!found.ok()) co_return found.error;
    auto accessor_text = string_field(found.answer.get_object(), "strAccessor");
    if (!accessor_text || accessor_text->empty())
      co_return malformed(std::string(listing.method) + ": no strAccessor");
    const std::string accessor(*accessor_text);
    // A search made in a session renewed by this very call is that session's.
    const std::uint64_t session = client.session_generation();
    bool renewed = false;
    Error error = co_await read_pages(client, limits, listing, accessor, listed, session, &renewed);
    if (error.kind != ErrorKind::timeout && !renewed) {
      // Best effort: an accessor left behind expires on the server after lMaxLifeTime. One of an
      // ended session is gone with it.
      json::object release;
      release["strAccessor"] = accessor;
      co_await client.call("ChunkAccessor.Release", release);
    }
    if (!renewed) co_return error;
  }
  Error e;
  e.kind = ErrorKind::unauthorized;
  e.message = std::string(listing.method) +
              ": the session ended twice while the list was read (the server ends sessions "
              "sooner than a listing takes)";
  co_return e;
}

// Whether a KLHST_WKS_IP_LONG address can be a device's: not "this network" (0.0.0.0/8), not
// multicast (224/4), not reserved or broadcast (240/4, 255.255.255.255).
bool device_ipv4(std::uint32_t address) {
  const std::uint32_t first = address >> 24;
  return first != 0 && first < 224;
}

// Whether a name KSC holds can be resolved as a host name (RFC 1123 labels; "_" tolerated, as
// Windows names have it): never an option-like "-rf", a path, a quoted or spaced string.
bool device_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char last = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || last == '-') return false;
      label = 0;
    } else {
      const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && c != '-' && c != '_') return false;
      if (label == 0 && c == '-') return false;
      if (++label > 63) return false;
    }
    last = c;
  }
  return last != '-';
}

}  // namespace

std::string_view Inventory::group_name(std::int64_t id) const {
  auto it = groups.find(id);
  return it == groups.end() ? std::string_view() : std::string_view(it->second.name);
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
  static const json::array kEmpty;
  const json::object* o = answer.if_object();
  if (o == nullptr) return nullptr;
  // An empty chunk may come without pChunk or without its array: public clients read both as no
  // items (XSOAR: results.get('pChunk', {}).get('KLCSP_ITERATOR_ARRAY', [])).
  const json::value* chunk = field(*o, "pChunk");
  if (chunk == nullptr || chunk->is_null()) return &kEmpty;
  const json::object* chunk_record = as_params(*chunk);
  if (chunk_record == nullptr) return nullptr;
  const json::value* items = field(*chunk_record, "KLCSP_ITERATOR_ARRAY");
  if (items == nullptr || items->is_null()) return &kEmpty;
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

bool decode_group(const json::value& item, std::int64_t* id, std::string* name,
                  std::int64_t* parent) {
  const json::object* r = as_params(item);
  if (r == nullptr) return false;
  auto group = int_field(*r, "id");
  if (!group) return false;
  std::string text = text_field(*r, "name");
  if (text.empty()) return false;
  *id = *group;
  *name = std::move(text);
  if (parent) *parent = int_field(*r, "parentId").value_or(-1);
  return true;
}

std::vector<UpdateAgent> decode_update_agents(const json::value& answer) {
  std::vector<UpdateAgent> ids;
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
    if (id.empty()) continue;
    // UaIsCg: the update agent is also a connection gateway (UaControl, "Update agents and
    // Connection gateways management"; go-ksc kaspersky/UaControl.go).
    ids.push_back(UpdateAgent{std::move(id), bool_field(*r, "UaIsCg").value_or(false)});
  }
  return ids;
}

std::string host_search_filter(const KscSource& source,
                               const std::vector<std::int64_t>& group_ids) {
  // KSC's search-filter syntax resembles RFC 2254's: "(&(a = 1)(b <> 2))", integers bare
  // (KSC OpenAPI reference, "Search filter syntax"). A bool attribute compares as an integer.
  std::vector<std::string> parts;
  if (!source.include_unassigned) parts.emplace_back("(KLHST_WKS_FROM_UNASSIGNED = 0)");
  if (!group_ids.empty()) {
    // KLHST_WKS_GROUPID_GP: the device is in the group or one of its subgroups (search only).
    std::string any = group_ids.size() > 1 ? "(|" : "";
    for (std::int64_t id : group_ids) any += "(KLHST_WKS_GROUPID_GP = " + std::to_string(id) + ")";
    if (group_ids.size() > 1) any += ")";
    parts.push_back(std::move(any));
  }
  if (!source.host_filter.empty()) {
    parts.push_back(source.host_filter.front() == '(' ? source.host_filter
                                                      : "(" + source.host_filter + ")");
  }
  if (parts.empty()) return {};
  if (parts.size() == 1) return parts.front();
  std::string all = "(&";
  for (const auto& p : parts) all += p;
  return all + ")";
}

std::string Inventory::group_path(std::int64_t id) const {
  std::vector<std::string_view> names;
  for (int depth = 0; depth < 64 && id != root_group; ++depth) {
    auto it = groups.find(id);
    if (it == groups.end()) return {};
    names.push_back(it->second.name);
    id = it->second.parent;
  }
  if (id != root_group) return {};
  std::string path;
  // From the root down: the names were collected from the leaf up. (A reverse view would
  // do, but clang 14 cannot compile libstdc++ 12's <ranges>, and the fuzz build is clang.)
  for (std::size_t i = names.size(); i-- > 0;) {
    if (!path.empty()) path += '/';
    path += names[i];
  }
  return path;
}

namespace {

// The ids of the section's `groups`, from the listed groups: a path below "Managed devices"
// ("Lyon/Branch 2"), or a name without "/" that only one managed group has.
Error resolve_groups(const Inventory& inventory, const KscSource& source,
                     std::vector<std::int64_t>* ids) {
  for (const std::string& wanted : source.groups) {
    std::vector<std::int64_t> exact, by_name;
    for (const auto& [id, group] : inventory.groups) {
      const std::string path = inventory.group_path(id);
      if (path.empty()) continue;  // not below "Managed devices"
      if (path == wanted) exact.push_back(id);
      if (wanted.find('/') == std::string::npos && group.name == wanted) by_name.push_back(id);
    }
    const std::vector<std::int64_t>& found = exact.empty() ? by_name : exact;
    if (found.size() == 1) {
      ids->push_back(found.front());
      continue;
    }
    Error e;
    e.kind = ErrorKind::config;
    if (found.empty()) {
      std::string top;
      std::size_t shown = 0;
      for (const auto& [id, group] : inventory.groups) {
        if (group.parent != inventory.root_group || shown >= 8) continue;
        top += (shown++ ? ", \"" : " \"") + printable(group.name, 64) + "\"";
      }
      e.message = "group \"" + printable(wanted, 256) +
                  "\" of groups is not an administration group below \"Managed devices\" on "
                  "this server" +
                  (top.empty() ? std::string() : " (its top groups:" + top + ")");
    } else {
      e.message = "group \"" + printable(wanted, 256) + "\" of groups names " +
                  std::to_string(found.size()) +
                  " administration groups: write its path from \"Managed devices\", e.g. "
                  "\"" +
                  printable(inventory.group_path(found.front()), 256) + "\"";
    }
    return e;
  }
  return {};
}

// PxgRetVal of a call without parameters that answers an integer (HostGroup.GroupIdGroups).
asio::awaitable<std::optional<std::int64_t>> int_call(Client& client, std::string_view method,
                                                      Error* error) {
  CallResult r = co_await client.call(method, json::object());
  if (!r.ok()) {
    *error = std::move(r.error);
    co_return std::nullopt;
  }
  auto v = int_field(r.answer.get_object(), "PxgRetVal");
  if (!v) *error = malformed(std::string(method) + ": no group id");
  co_return v;
}

}  // namespace

asio::awaitable<Error> discover(Client& client, const KscSource& source, Inventory* out) {
  *out = Inventory{};
  const KscLimits& limits = source.limits;

  // The root of "Managed devices": group ids are the server's own (and a virtual server's), so it
  // is asked, never assumed (HostGroup.GroupIdGroups).
  if (!source.groups.empty()) {
    Error e;
    auto root = co_await int_call(client, "HostGroup.GroupIdGroups", &e);
    if (!root) co_return e;
    out->root_group = *root;
  }

  // Groups: names for the ksc_group label, parents for the paths of `groups`.
  Listing groups;
  groups.method = "HostGroup.FindGroups";
  groups.params = find_params("", {"id", "name", "grp_full_name", "parentId"});
  groups.max_items = limits.max_groups;
  groups.reset = [out] { out->groups.clear(); };
  groups.on_item = [out, &limits](const json::value& item) {
    std::int64_t id = 0, parent = -1;
    std::string name;
    if (decode_group(item, &id, &name, &parent))
      out->groups[id] = Inventory::Group{std::move(name), parent};
    return out->groups.size() < limits.max_groups;
  };
  std::size_t group_count = 0;
  if (Error e = co_await read_listing(client, limits, groups, &group_count)) co_return e;
  std::vector<std::int64_t> group_ids;
  if (Error e = resolve_groups(*out, source, &group_ids)) co_return e;

  // Distribution points, and which of them are connection gateways.
  std::unordered_map<std::string, bool> update_agents;
  {
    CallResult agents = co_await client.call("UaControl.GetUpdateAgentsList", json::object());
    if (!agents.ok()) co_return agents.error;
    for (auto& ua : decode_update_agents(agents.answer))
      update_agents[std::move(ua.id)] |= ua.connection_gateway;
  }

  // Devices.
  bool over_limit = false;
  std::size_t seen = 0;
  Listing hosts;
  hosts.method = "HostGroup.FindHosts";
  hosts.params = find_params(host_search_filter(source, group_ids), host_fields());
  hosts.max_items = limits.max_devices;
  hosts.reset = [out, &seen, &over_limit] {
    out->hosts.clear();
    out->skipped.clear();
    seen = 0;
    over_limit = false;
  };
  // Room for every device at once (never past the limit, whatever the server claims).
  hosts.on_count = [out, &limits](std::size_t count) {
    out->hosts.reserve(std::min(count, limits.max_devices));
  };
  hosts.on_item = [out, &limits, &seen, &over_limit, &update_agents](const json::value& item) {
    if (out->hosts.size() >= limits.max_devices) {
      over_limit = true;
      return false;
    }
    ++seen;
    Host host;
    switch (decode_host(item, &host)) {
      case HostDecode::ok:
        if (auto ua = update_agents.find(host.id); ua != update_agents.end()) {
          host.distribution_point = true;
          host.connection_gateway = ua->second;
        }
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
  if (hosts.truncated) {
    Error e;
    e.kind = ErrorKind::truncated;
    e.message = "HostGroup.FindHosts: the listing ended after " + std::to_string(hosts.requests) +
                " requests with " + std::to_string(hosts.read) + " of the " +
                std::to_string(out->listed) + " devices counted (" +
                std::to_string(out->listed - std::min(out->listed, hosts.read)) +
                " not read): the server hands out fewer than " +
                std::to_string(limits.min_chunk_items) + " devices per chunk";
    co_return e;
  }
  if (hosts.ended_short && !over_limit) {
    // The server counted more than it listed (devices removed meanwhile, or a server that
    // stops early): counted, and said in the log by the caller.
    out->skipped["listing_short"] += out->listed - std::min(out->listed, hosts.read);
  }
  if (out->hosts.empty() && out->listed > 0) {
    // A server that claims devices and lists none that can be read must not replace a good list
    // with nothing.
    std::string why;
    for (const auto& [reason, count] : out->skipped)
      why += (why.empty() ? " (" : ", ") + reason + ": " + std::to_string(count);
    Error e = malformed("HostGroup.FindHosts: none of the " + std::to_string(out->listed) +
                        " devices counted is usable" + (why.empty() ? std::string() : why + ")"));
    co_return e;
  }

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
  for (const Host& h : inventory.hosts) {
    Role role;
    if (h.distribution_point && want_dp) {
      role = Role::distribution_point;
    } else if (want_agent) {
      role = Role::agent;
    } else {
      continue;
    }
    // The first address that can be a device's: its IPv4 address, else its FQDN, else its DNS
    // name. What the server holds is not trusted: a broadcast or multicast address, or a "name"
    // such as "-rf", is never probed.
    std::string address;
    const bool given = h.ipv4 != 0 || !h.fqdn.empty() || !h.dns_name.empty();
    if (h.ipv4 != 0 && device_ipv4(h.ipv4)) {
      address = ipv4_text(h.ipv4);
    } else if (device_dns_name(h.fqdn)) {
      address = h.fqdn;
    } else if (device_dns_name(h.dns_name)) {
      address = h.dns_name;
    } else {
      ++st.skipped[given ? "bad_address" : "no_address"];
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
    t.labels.reserve(source.labels.size() + 4);
    std::string_view group = inventory.group_name(h.group_id);
    if (h.connection_gateway && p.role == Role::distribution_point)
      t.labels.emplace_back("ksc_connection_gateway", "true");
    if (!group.empty()) t.labels.emplace_back("ksc_group", std::string(group));
    t.labels.emplace_back("ksc_host_id", h.id);
    t.labels.emplace_back("ksc_server", source.name);
    for (const auto& [label, value] : source.labels) {
      if (label == "ksc_group" || label == "ksc_host_id" || label == "ksc_server" ||
          label == "ksc_connection_gateway")
        continue;
      t.labels.emplace_back(label, value);
    }
    std::sort(t.labels.begin(), t.labels.end());
    targets.push_back(std::move(t));
  }
  for (const DiscoveredTarget& t : targets) ++st.by_role[static_cast<std::size_t>(t.role)];
  return targets;
}

}  // namespace kscprobe::ksc
