#include "simulator/ksc_openapi.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <unordered_map>

#include "config/base64.hpp"
#include "platform/platform.hpp"
#include "simulator/ksc_sample_statistics.hpp"

namespace kscprobe::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxConnections = 64;
constexpr int kMaxRequestsPerConnection = 100000;
constexpr std::size_t kMaxChunkItems = 10000;
constexpr std::size_t kMaxEndedSessions = 1024;
constexpr std::size_t kMaxGroupDepth = 64;
constexpr std::size_t kMaxAccessors = 256;
constexpr std::size_t kMaxTokens = 1024;
constexpr std::size_t kRequestHeaderLimit = 16 * 1024;
constexpr std::size_t kRequestBodyLimit = 1024 * 1024;
constexpr auto kHandshakeCap = 10s;
constexpr auto kWriteCap = 30s;
constexpr auto kStallCap = 10min;  // a stalled request ends at the latest then (or at stop())

using HostList = std::shared_ptr<const std::vector<KscHostDef>>;

std::string iso_time(std::int64_t t) {
  std::tm tm = platform::utc_tm(static_cast<std::time_t>(t));
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buffer;
}

json::value wrap(std::string_view type, json::value v) {
  json::object o;
  o["type"] = type;
  o["value"] = std::move(v);
  return o;
}

// The key="value" pairs of a KSCBasic header.
std::map<std::string, std::string> auth_pairs(std::string_view header) {
  std::map<std::string, std::string> out;
  constexpr std::string_view kScheme = "KSCBasic ";
  if (header.substr(0, kScheme.size()) != kScheme) return out;
  std::string_view rest = header.substr(kScheme.size());
  for (int i = 0; i < 16 && !rest.empty(); ++i) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    std::size_t eq = rest.find("=\"");
    if (eq == std::string_view::npos) break;
    std::string key(rest.substr(0, eq));
    rest.remove_prefix(eq + 2);
    std::size_t end = rest.find('"');
    if (end == std::string_view::npos) break;
    out[key] = std::string(rest.substr(0, end));
    rest.remove_prefix(end + 1);
  }
  return out;
}

// One group as the server knows it, with what a filter or a record needs of its place in the
// tree.
struct GroupInfo {
  std::int64_t id = 0;
  std::int64_t parent_id = -1;
  std::string name;
  std::string full_name;
  std::vector<std::int64_t> self_and_ancestors;  // bounded by kMaxGroupDepth
  bool unassigned = false;                       // "Unassigned devices" or below
};

struct GroupIndex {
  KscGroupTree tree;
  std::vector<GroupInfo> listed;  // in the tree's order (FindGroups lists them so)
  std::unordered_map<std::int64_t, std::size_t> by_id;
  const GroupInfo* find(std::int64_t id) const {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : &listed[it->second];
  }
};

GroupIndex index_groups(KscGroupTree tree) {
  GroupIndex index;
  index.listed.reserve(tree.groups.size());
  for (const KscGroupDef& g : tree.groups) {
    if (index.by_id.count(g.id) > 0) continue;  // the first definition of an id wins
    index.by_id[g.id] = index.listed.size();
    GroupInfo info;
    info.id = g.id;
    info.parent_id = g.parent_id;
    info.name = g.name;
    index.listed.push_back(std::move(info));
  }
  for (GroupInfo& info : index.listed) {
    // Up the parents, bounded: a cycle or a missing parent ends the walk.
    std::vector<std::string> names;
    std::int64_t id = info.id;
    for (std::size_t depth = 0; depth < kMaxGroupDepth; ++depth) {
      auto it = index.by_id.find(id);
      if (it == index.by_id.end()) break;
      const GroupInfo& at = index.listed[it->second];
      if (std::find(info.self_and_ancestors.begin(), info.self_and_ancestors.end(), id) !=
          info.self_and_ancestors.end())
        break;
      info.self_and_ancestors.push_back(id);
      names.push_back(at.name);
      id = at.parent_id;
    }
    info.unassigned = std::find(info.self_and_ancestors.begin(), info.self_and_ancestors.end(),
                                tree.unassigned) != info.self_and_ancestors.end();
    // "Managed devices/Lyon/Branch 2": no public sample shows grp_full_name, so the form (names
    // from the root joined by '/') is this fake's; clients should not parse it.
    // From the root down: the names were collected from the leaf up. (A reverse view would
    // do, but clang 14 cannot compile libstdc++ 12's <ranges>, and the fuzz build is clang.)
    for (std::size_t i = names.size(); i-- > 0;) {
      if (!info.full_name.empty()) info.full_name += '/';
      info.full_name += names[i];
    }
  }
  index.tree = std::move(tree);
  return index;
}

struct Accessor {
  std::string owner;  // the session that made it
  std::uint64_t serial = 0;
  bool groups = false;
  HostList hosts;
  // The hosts the filter kept (indices into *hosts), or every one when all_hosts.
  bool all_hosts = true;
  std::vector<std::uint32_t> selected;
  std::shared_ptr<const GroupIndex> group_index;  // as it was when the list was made
  std::vector<std::size_t> group_rows;            // indices into group_index->listed
  std::vector<std::string> fields;                // empty: every field
  std::size_t size() const {
    if (groups) return group_rows.size();
    return all_hosts ? hosts->size() : selected.size();
  }
  const KscHostDef& host(std::size_t i) const { return (*hosts)[all_hosts ? i : selected[i]]; }
};

struct Conn {
  Conn(tcp::socket socket, asio::ssl::context& context)
      : stream(std::move(socket), context), stall(stream.get_executor()) {}
  beast::ssl_stream<beast::tcp_stream> stream;
  asio::steady_timer stall;
  std::uint64_t id = 0;
  bool logged_in = false;
  bool session_ended = false;  // the session on this connection ended; no new login since
  unsigned session_calls = 0;
  std::uint64_t session_serial = 0;
  void close() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);
    stall.cancel();
  }
};

// Shared by the server and every coroutine it spawned, so a completion that runs after stop()
// or after the server is gone touches nothing freed.
struct State {
  KscOpenApiOptions options;
  std::shared_ptr<asio::ssl::context> tls;
  bool stopped = false;
  std::uint64_t next_conn = 0, next_serial = 0, next_accessor = 0, next_token = 0;
  std::map<std::uint64_t, std::weak_ptr<Conn>> conns;
  HostList hosts = std::make_shared<const std::vector<KscHostDef>>();
  std::shared_ptr<const GroupIndex> groups =
      std::make_shared<const GroupIndex>(index_groups(KscOpenApiServer::default_group_tree()));
  std::set<std::string> gateways;
  std::set<std::string> ended_tokens;    // sessions ended by expiry or EndSession (bounded)
  std::set<std::string> pending_tokens;  // sessions waiting for a second factor (bounded)

  std::vector<std::string> update_agents;
  json::value statistics = json::parse(sample_instance_statistics_json());
  std::map<std::string, unsigned> tokens;  // token -> calls in its session
  std::map<std::string, Accessor> accessors;
  KscFaults faults;
  KscCounters counters;
  std::mt19937_64 random{std::random_device{}()};
};

struct Reply {
  enum Action { answer, stall, close } action = answer;
  int status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
};

Reply json_reply(const json::value& v, int status = 200) {
  Reply r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

// KSC's error codes, from the reference's table of "some error definitions" as go-ksc copies
// it (github.com/pixfid/go-ksc kaspersky/NagGuiCalls.go): KLSTD 1184 STDE_NOACCESS "Access
// denied", 1186 STDE_NOTFOUND "Object not found", 1193 STDE_NOTPERM. No public source says which
// error a method the account has no right to answers, nor a bad argument (a search filter the
// server cannot parse, nCount <= 0): STDE_NOACCESS for the first is the plausible one, and 1187
// for the second is STDE_BADPARAM's place in the KLSTD list after 1186, a guess.
constexpr std::int64_t kNoAccess = 1184, kNotFound = 1186, kBadParam = 1187;

// A PxgError with every field the official client reads (KlAkOAPI Error.py, class KlAkError;
// go-ksc kaspersky/Helper.go, struct Error) and the reference's protocol description lists
// (https://support.kaspersky.com/help/KSC/14.2/KSCAPI/index.html, "PxgError (params)"): code,
// subcode (since KSC 12.2), module, file, line, message, and locdata, a wrapped params container
// (format-id, format, locmodule, args). The file and line are this fake's own. The HTTP status is
// the fault's choice, 200 by default: KlAkOAPI (Base.py ParseResponse) looks for PxgError only in
// 200 answers and raises on any other status, so KSC sends it with 200; a client must read it
// with 500 too.
Reply pxg(const State& st, std::int64_t code, std::string_view module, std::string_view message,
          int line) {
  json::object locdata;
  locdata["format-id"] = code;
  locdata["format"] = message;
  locdata["locmodule"] = module;
  locdata["args"] = json::array();
  json::object error;
  error["code"] = code;
  error["subcode"] = 0;
  error["module"] = module;
  error["file"] = "kscprobe-sim/ksc_openapi.cpp";
  error["line"] = line;
  error["message"] = message;
  error["locdata"] = wrap("params", std::move(locdata));
  json::object o;
  o["PxgError"] = std::move(error);
  return json_reply(o, st.faults.pxg_http_status);
}

Reply status_only(int status) {
  Reply r;
  r.status = status;
  return r;
}

// ---------------------------------------------------------------------------------------------
// The search filter (wstrFilter of HostGroup.FindHosts and HostGroup.FindGroups), as the
// reference's "Search filter syntax" page gives it
// (https://support.kaspersky.com/help/KSC/15.1/KSCAPI/a00001.html):
//
//   filter     = "(" filtercomp ")"
//   filtercomp = and / or / not / item
//   and = "&" filterlist, or = "|" filterlist, not = "!" filter, filterlist = 1*filter
//   item       = attr filtertype value | attr bitop bitmask filtertype bits | attr
//   filtertype = "=" / ">" / "<" / "<>"
//   value      = Integer (signed decimal) / Quoted string ("" for a quote; wildcards ? * [a-f]
//                [^a-f] only with "=") / UTC time / Binary (0x...)
//
// and what the same reference writes beyond that grammar, accepted as a real server does:
// `(!KLHST_WKS_DN = "A*")`, a "!" before an item without its own parentheses (the page's own
// example); ">=" and "<=" (the computer queries of a00266.html,
// `(KLHST_WKS_AV_BASES_RECORDS>=1)`); a hexadecimal bitmask (`KLHST_WKS_STATUS & 0x00000004 <> 0`
// in the moving rules of a00116.html); `(!(attr))` for IS NULL. A filter that is one item without
// parentheses is accepted too: the XSOAR integration sends `KLHST_WKS_HOSTNAME = "<id>"` so.
//
// This fake understands only the attributes a discovery client sends; any other attribute, a
// value of the wrong type, a UTC time or a binary value is refused as a filter the server does
// not understand (a real server would evaluate the ones it knows): that is the stricter.
// Booleans: the grammar has no boolean literal; public clients write 0/1
// (`(KLHST_WKS_FROM_UNASSIGNED=0)`) or a quoted "True"/"False" (the KSC Miner script,
// github.com/zbx-sadman/KSC, `KLHST_WKS_FROM_UNASSIGNED = "True"`): both are accepted. A bare
// `False` appears in one third-party script, but nothing shows a server accepting it: refused.
// Strings compare exactly (no public source says whether KSC ignores case). Bounded: 8 KiB of text,
// 32 levels, 512 nodes.
constexpr std::size_t kMaxFilterBytes = 8192;
constexpr int kMaxFilterDepth = 32;
constexpr std::size_t kMaxFilterNodes = 512;

enum class AttrType { integer, boolean, string, subtree };

struct Attr {
  std::string_view name;
  AttrType type;
};

// Host attributes (https://support.kaspersky.com/help/KSC/15/KSCAPI/a00008.html, "List of
// network device attributes"): KLHST_WKS_FROM_UNASSIGNED "accepts true if host is located in
// "Unassigned computers" or its subgroup"; KLHST_WKS_GROUPID is the group the device is in;
// KLHST_WKS_GROUPID_GP, search-only, selects the devices of a group and of its subgroups ("hosts
// belongs to the specified group or it's subgroup"), so `<>` keeps the devices outside that
// subtree; KLHST_WKS_STATUS is the state bit mask (0x4: Network Agent installed).
constexpr Attr kHostAttrs[] = {
    {"KLHST_WKS_FROM_UNASSIGNED", AttrType::boolean}, {"KLHST_WKS_GROUPID", AttrType::integer},
    {"KLHST_WKS_GROUPID_GP", AttrType::subtree},      {"KLHST_WKS_DN", AttrType::string},
    {"KLHST_WKS_HOSTNAME", AttrType::string},         {"KLHST_WKS_STATUS", AttrType::integer}};
// Group attributes (https://support.kaspersky.com/help/KSC/15/KSCAPI/a00005.html: id, name,
// parentId; grp_full_name as the XSOAR integration and the KlAkOAPI groups sample ask for it).
constexpr Attr kGroupAttrs[] = {{"id", AttrType::integer},
                                {"name", AttrType::string},
                                {"grp_full_name", AttrType::string},
                                {"parentId", AttrType::integer}};

enum class Op { eq, ne, lt, gt, le, ge };

struct FilterNode {
  enum Kind { all_of, any_of, negation, compare, exists } kind = compare;
  std::vector<std::size_t> children;  // indices into Filter::nodes
  AttrType type = AttrType::integer;
  std::string attr;
  Op op = Op::eq;
  bool bit = false;
  char bit_op = '&';
  std::int64_t mask = 0;
  std::int64_t number = 0;  // integer, boolean (0/1), subtree root
  std::string text;         // string value
  bool wildcards = false;
};

struct Filter {
  std::vector<FilterNode> nodes;
  std::size_t root = 0;
  bool empty = true;  // matches everything
};

// The value of one attribute of one item, for evaluation.
struct Value {
  std::int64_t number = 0;
  std::string_view text;
  const std::vector<std::int64_t>* groups = nullptr;  // subtree: self and ancestors
};

bool wildcard_match(std::string_view pattern, std::string_view text) {
  // Iterative '*' backtracking, bounded by pattern x text steps (both bounded by the filter and
  // record sizes).
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  auto one = [&](std::size_t& pi, char c) -> bool {  // matches one char at pi, advances pi
    if (pattern[pi] == '?') {
      ++pi;
      return true;
    }
    if (pattern[pi] == '[') {
      std::size_t close = pattern.find(']', pi + 1);
      if (close == std::string_view::npos) return pattern[pi++] == c;
      std::string_view set = pattern.substr(pi + 1, close - pi - 1);
      pi = close + 1;
      bool negate = !set.empty() && set.front() == '^';
      if (negate) set.remove_prefix(1);
      bool in = false;
      for (std::size_t i = 0; i < set.size(); ++i) {
        if (i + 2 < set.size() && set[i + 1] == '-') {
          if (c >= set[i] && c <= set[i + 2]) in = true;
          i += 2;
        } else if (set[i] == c) {
          in = true;
        }
      }
      return in != negate;
    }
    return pattern[pi++] == c;
  };
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
      continue;
    }
    std::size_t next = p;
    if (p < pattern.size() && one(next, text[t])) {
      p = next;
      ++t;
      continue;
    }
    if (star == std::string_view::npos) return false;
    p = star + 1;
    t = ++mark;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

class FilterParser {
 public:
  FilterParser(std::string_view text, std::span<const Attr> attrs) : s_(text), attrs_(attrs) {}

  // Returns an error text, or "" with *out filled.
  std::string parse(Filter* out) {
    if (s_.size() > kMaxFilterBytes) return "the filter is longer than the server accepts";
    skip();
    if (i_ == s_.size()) {
      out->empty = true;
      return {};
    }
    std::size_t root = 0;
    if (peek() == '(') {
      if (!filter(0, &root)) return error_;
    } else if (!item(&root)) {  // one item without parentheses
      return error_;
    }
    skip();
    if (i_ != s_.size()) {
      fail("unexpected text after the filter");
      return error_;
    }
    out->nodes = std::move(nodes_);
    out->root = root;
    out->empty = false;
    return {};
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n'))
      ++i_;
  }
  bool fail(std::string what) {
    if (error_.empty()) error_ = what + " at offset " + std::to_string(i_);
    return false;
  }
  bool add(FilterNode node, std::size_t* index) {
    if (nodes_.size() >= kMaxFilterNodes) return fail("the filter has too many terms");
    *index = nodes_.size();
    nodes_.push_back(std::move(node));
    return true;
  }

  // "(" filtercomp ")"
  // Recursive descent, bounded by `depth` (kMaxFilterDepth).
  // NOLINTNEXTLINE(misc-no-recursion)
  bool filter(int depth, std::size_t* index) {
    if (depth >= kMaxFilterDepth) return fail("the filter is nested too deeply");
    skip();
    if (peek() != '(') return fail("'(' expected");
    ++i_;
    skip();
    const char c = peek();
    if (c == '&' || c == '|') {
      ++i_;
      FilterNode node;
      node.kind = c == '&' ? FilterNode::all_of : FilterNode::any_of;
      skip();
      while (peek() == '(') {
        std::size_t child = 0;
        if (!filter(depth + 1, &child)) return false;
        node.children.push_back(child);
        skip();
      }
      if (node.children.empty()) return fail("'&' or '|' needs at least one filter");
      if (!add(std::move(node), index)) return false;
    } else if (c == '!') {
      ++i_;
      skip();
      std::size_t child = 0;
      if (peek() == '(') {
        if (!filter(depth + 1, &child)) return false;
      } else if (!item(&child)) {
        return false;
      }
      FilterNode node;
      node.kind = FilterNode::negation;
      node.children.push_back(child);
      if (!add(std::move(node), index)) return false;
    } else if (!item(index)) {
      return false;
    }
    skip();
    if (peek() != ')') return fail("')' expected");
    ++i_;
    return true;
  }

  bool integer(std::int64_t* out, bool hex_allowed) {
    skip();
    const std::size_t start = i_;
    bool negative = false;
    if (peek() == '-' || peek() == '+') {
      negative = peek() == '-';
      ++i_;
    }
    int base = 10;
    if (hex_allowed && peek() == '0' && i_ + 1 < s_.size() &&
        (s_[i_ + 1] == 'x' || s_[i_ + 1] == 'X')) {
      base = 16;
      i_ += 2;
    }
    std::uint64_t v = 0;
    std::size_t digits = 0;
    for (; i_ < s_.size() && digits < 20; ++i_, ++digits) {
      char c = s_[i_];
      int d = c >= '0' && c <= '9'                 ? c - '0'
              : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
              : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                   : -1;
      if (d < 0) break;
      if (v > (std::uint64_t(1) << 58)) {  // checked before it could overflow
        i_ = start;
        return fail("integer out of range");
      }
      v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    }
    if (digits == 0) {
      i_ = start;
      return fail("integer expected");
    }
    *out = negative ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
    return true;
  }

  bool op(Op* out) {
    skip();
    auto two = s_.substr(i_, 2);
    if (two == "<>")
      *out = Op::ne;
    else if (two == "<=")
      *out = Op::le;
    else if (two == ">=")
      *out = Op::ge;
    else if (peek() == '=')
      *out = Op::eq;
    else if (peek() == '<')
      *out = Op::lt;
    else if (peek() == '>')
      *out = Op::gt;
    else
      return fail("'=', '<>', '<', '>', '<=' or '>=' expected");
    i_ += (*out == Op::ne || *out == Op::le || *out == Op::ge) ? 2 : 1;
    return true;
  }

  bool quoted(std::string* out) {
    ++i_;  // the opening quote
    for (std::size_t n = 0; n <= kMaxFilterBytes; ++n) {
      if (i_ >= s_.size()) return fail("unterminated string");
      char c = s_[i_++];
      if (c != '"') {
        *out += c;
        continue;
      }
      if (peek() == '"') {  // "" stands for one quote
        *out += '"';
        ++i_;
        continue;
      }
      return true;
    }
    return fail("unterminated string");
  }

  // attr filtertype value | attr bitop bitmask filtertype bits | attr
  bool item(std::size_t* index) {
    skip();
    const std::size_t start = i_;
    while (i_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[i_])) != 0 || s_[i_] == '_'))
      ++i_;
    if (i_ == start) return fail("attribute name expected");
    FilterNode node;
    node.attr = std::string(s_.substr(start, i_ - start));
    const Attr* attr = nullptr;
    for (const Attr& a : attrs_)
      if (a.name == node.attr) attr = &a;
    if (attr == nullptr) {
      i_ = start;
      return fail("attribute " + node.attr.substr(0, 64) + " not understood");
    }
    node.type = attr->type;
    skip();
    if (peek() == ')') {  // existence: every attribute this fake knows always has a value
      node.kind = FilterNode::exists;
      return add(std::move(node), index);
    }
    if ((peek() == '&' || peek() == '|') && s_.substr(i_, 2) != "||") {
      if (attr->type != AttrType::integer)
        return fail("bit operation on " + node.attr + ", which is not an integer");
      node.bit = true;
      node.bit_op = peek();
      ++i_;
      if (!integer(&node.mask, true)) return false;
      if (!op(&node.op)) return false;
      if (!integer(&node.number, true)) return false;
      return add(std::move(node), index);
    }
    if (!op(&node.op)) return false;
    skip();
    const std::size_t value_at = i_;
    switch (attr->type) {
      case AttrType::integer:
      case AttrType::subtree:
        if (peek() == '"' || peek() == 'T' || peek() == 'C')
          return fail("integer value expected for " + node.attr);
        if (peek() == '0' && i_ + 1 < s_.size() && (s_[i_ + 1] == 'x' || s_[i_ + 1] == 'X'))
          return fail("binary value not understood for " + node.attr);
        if (!integer(&node.number, false)) return false;
        if (attr->type == AttrType::subtree && node.op != Op::eq && node.op != Op::ne) {
          i_ = value_at;
          return fail(node.attr + " compares with '=' or '<>' only");
        }
        break;
      case AttrType::boolean: {
        if (node.op != Op::eq && node.op != Op::ne)
          return fail(node.attr + " compares with '=' or '<>' only");
        if (peek() == '"') {
          std::string text;
          if (!quoted(&text)) return false;
          std::string lower;
          for (char c : text)
            lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (lower != "true" && lower != "false") {
            i_ = value_at;
            return fail("boolean value expected for " + node.attr);
          }
          node.number = lower == "true" ? 1 : 0;
        } else {
          if (!integer(&node.number, false)) return false;
          if (node.number != 0 && node.number != 1) {
            i_ = value_at;
            return fail("boolean value (0 or 1) expected for " + node.attr);
          }
        }
        break;
      }
      case AttrType::string:
        if (peek() != '"') return fail("quoted string expected for " + node.attr);
        if (!quoted(&node.text)) return false;
        node.wildcards = node.text.find_first_of("?*[") != std::string::npos;
        if (node.wildcards && node.op != Op::eq) {
          i_ = value_at;
          return fail("a value with wildcards needs '='");
        }
        break;
    }
    return add(std::move(node), index);
  }

  std::string_view s_;
  std::span<const Attr> attrs_;
  std::size_t i_ = 0;
  std::vector<FilterNode> nodes_;
  std::string error_;
};

template <typename Cmp>
bool compare(Op op, const Cmp& a, const Cmp& b) {
  switch (op) {
    case Op::eq:
      return a == b;
    case Op::ne:
      return a != b;
    case Op::lt:
      return a < b;
    case Op::gt:
      return a > b;
    case Op::le:
      return a <= b;
    case Op::ge:
      return a >= b;
  }
  return false;
}

// Evaluates node `index` with `get` giving an attribute's value; recursion is bounded by the
// parser's depth bound.
template <typename Get>
// Recursive over the parsed filter, whose depth the parser bounds.
// NOLINTNEXTLINE(misc-no-recursion)
bool evaluate(const Filter& f, std::size_t index, const Get& get) {
  const FilterNode& n = f.nodes[index];
  switch (n.kind) {
    case FilterNode::all_of:
      for (std::size_t c : n.children)
        if (!evaluate(f, c, get)) return false;
      return true;
    case FilterNode::any_of:
      for (std::size_t c : n.children)
        if (evaluate(f, c, get)) return true;
      return false;
    case FilterNode::negation:
      return !evaluate(f, n.children.front(), get);
    case FilterNode::exists:
      return true;
    case FilterNode::compare:
      break;
  }
  const Value v = get(n.attr);
  switch (n.type) {
    case AttrType::integer:
    case AttrType::boolean: {
      std::int64_t x = v.number;
      if (n.bit) x = n.bit_op == '&' ? (x & n.mask) : (x | n.mask);
      return compare(n.op, x, n.number);
    }
    case AttrType::subtree: {
      const bool in = v.groups != nullptr &&
                      std::find(v.groups->begin(), v.groups->end(), n.number) != v.groups->end();
      return n.op == Op::eq ? in : !in;
    }
    case AttrType::string:
      if (n.wildcards) return wildcard_match(n.text, v.text);
      return compare(n.op, v.text, std::string_view(n.text));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

// A device's record: each attribute as the reference lists it (a00008.html) and as the XSOAR
// sample answers show them (demisto/content Packs/KasperskySecurityCenter/Integrations/
// KasperskySecurityCenter/test_data/hosts_list_response.json): a params container, strings and
// ints plain, KLHST_WKS_IP_LONG a wrapped long, datetimes wrapped, KLHST_WKS_FROM_UNASSIGNED a
// plain bool. Only the fields asked for in vecFieldsToReturn (all when it is empty).
json::value host_record(const KscHostDef& h, const std::vector<std::string>& fields,
                        const GroupIndex& groups) {
  auto want = [&](std::string_view name) {
    return fields.empty() || std::find(fields.begin(), fields.end(), name) != fields.end();
  };
  json::object v;
  if (want("KLHST_WKS_HOSTNAME")) v["KLHST_WKS_HOSTNAME"] = h.id;
  if (want("KLHST_WKS_DN")) v["KLHST_WKS_DN"] = h.display_name;
  if (want("KLHST_WKS_FQDN") && !h.fqdn.empty()) v["KLHST_WKS_FQDN"] = h.fqdn;
  if (want("KLHST_WKS_DNSNAME") && !h.dns_name.empty()) v["KLHST_WKS_DNSNAME"] = h.dns_name;
  if (want("KLHST_WKS_IP_LONG") && h.ipv4 != 0)
    v["KLHST_WKS_IP_LONG"] = wrap("long", static_cast<std::int64_t>(h.ipv4));
  if (want("KLHST_WKS_GROUPID")) v["KLHST_WKS_GROUPID"] = h.group_id;
  if (want("KLHST_WKS_FROM_UNASSIGNED")) {
    const GroupInfo* g = groups.find(h.group_id);
    v["KLHST_WKS_FROM_UNASSIGNED"] = g != nullptr && g->unassigned;
  }
  if (want("KLHST_WKS_LAST_VISIBLE") && h.last_visible != 0)
    v["KLHST_WKS_LAST_VISIBLE"] = wrap("datetime", json::string(iso_time(h.last_visible)));
  if (want("KLHST_WKS_LAST_NAGENT_CONNECTED") && h.last_agent_connected)
    v["KLHST_WKS_LAST_NAGENT_CONNECTED"] =
        wrap("datetime", json::string(iso_time(*h.last_agent_connected)));
  if (want("KLHST_WKS_STATUS")) v["KLHST_WKS_STATUS"] = h.status;
  return wrap("params", std::move(v));
}

// A group's record, as the XSOAR sample groups_list_response.json shows one ({"type": "params",
// "value": {"id": 1, "name": "Unassigned devices"}}), with the fields asked for.
json::value group_record(const GroupInfo& g, const std::vector<std::string>& fields) {
  auto want = [&](std::string_view name) {
    return fields.empty() || std::find(fields.begin(), fields.end(), name) != fields.end();
  };
  json::object v;
  if (want("id")) v["id"] = g.id;
  if (want("name")) v["name"] = g.name;
  if (want("grp_full_name")) v["grp_full_name"] = g.full_name;
  if (want("parentId")) v["parentId"] = g.parent_id;
  return wrap("params", std::move(v));
}

std::optional<std::int64_t> int_param(const json::object& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  if (const std::int64_t* i = it->value().if_int64()) return *i;
  if (const std::uint64_t* u = it->value().if_uint64())
    return static_cast<std::int64_t>(std::min<std::uint64_t>(*u, 1u << 30));
  return std::nullopt;
}

std::string string_param(const json::object& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return {};
  if (const json::string* s = it->value().if_string()) return std::string(*s);
  return {};
}

class Handler {
 public:
  Handler(State& st, Conn& conn) : st_(st), conn_(conn) {}

  Reply handle(const http::request<http::string_body>& req) {
    std::string_view target = req.target();
    constexpr std::string_view kPrefix = "/api/v1.0/";
    if (req.method() != http::verb::post || target.substr(0, kPrefix.size()) != kPrefix)
      return status_only(404);
    const std::string method(target.substr(kPrefix.size()));
    ++st_.counters.calls[method];
    const KscFaults& f = st_.faults;

    if (method == "login") {
      if (!st_.options.login_endpoint) return status_only(404);
      if (f.pxg_method == method) return pxg(st_, f.pxg_code, "KLSTD", f.pxg_message, __LINE__);
      if (Reply r; !first_factor(req, &r)) return r;
      conn_.logged_in = true;
      conn_.session_ended = false;
      conn_.session_calls = 0;
      conn_.session_serial = ++st_.next_serial;
      ++st_.counters.logins;
      return status_only(200);  // KSC answers the login with an empty body
    }
    if (method == "Session.StartSession") {
      if (Reply r; !first_factor(req, &r)) return r;
      std::string token = new_token();
      st_.tokens[token] = 0;
      ++st_.counters.tokens_issued;
      json::object o;
      o["PxgRetVal"] = token;
      return json_reply(o);
    }

    // Every other method needs a session: a token, or the connection's.
    std::string owner;
    unsigned* calls = nullptr;
    std::string token;
    if (auto it = req.find("X-KSC-Session"); it != req.end()) {
      token = std::string(it->value());
      if (st_.pending_tokens.count(token) > 0) {
        // A session still waiting for its second factor may only be ended (two-factor
        // authentication page, a00390.html: "Session.EndSession must be called if user
        // rejected or failed to enter TOTP code").
        if (method == "Session.EndSession") {
          st_.pending_tokens.erase(token);
          ++st_.counters.sessions_ended;
          return json_reply(json::object());
        }
        return refuse(401);
      }
      if (st_.ended_tokens.count(token) > 0) return refuse(f.expired_status);
      auto found = st_.tokens.find(token);
      if (found == st_.tokens.end()) return refuse(401);
      owner = "t" + token;
      calls = &found->second;
    } else if (conn_.logged_in) {
      owner = "c" + std::to_string(conn_.session_serial);
      calls = &conn_.session_calls;
    } else if (conn_.session_ended) {
      return refuse(f.expired_status);
    } else {
      return refuse(401);
    }
    if (f.expire_after_calls != 0 && *calls >= f.expire_after_calls) {
      if (f.expire_by_closing) {
        // The connection ends, and with it a session that lived on it (a token survives).
        conn_.logged_in = false;
        *calls = 0;
        Reply r;
        r.action = Reply::close;
        return r;
      }
      // The session ends: this call and every later one of it get expired_status. KSC answers
      // 403 Forbidden to the calls of an ended session (Session.EndSession: "After this call all
      // requests within session will fail with 403 Forbidden status",
      // https://support.kaspersky.com/help/KSC/16/KSCAPI/a00608.html). No public source says what
      // a session that the server ends on its own answers; 403 is the documented case and the
      // one a client that renews only on 401 fails on.
      end_session(token);
      return refuse(f.expired_status);
    }
    ++*calls;

    if (method == "Session.EndSession") {
      end_session(token);
      ++st_.counters.sessions_ended;
      return json_reply(json::object());
    }
    if (f.stall_method == method) {
      Reply r;
      r.action = Reply::stall;
      return r;
    }
    if (std::find(f.denied_methods.begin(), f.denied_methods.end(), method) !=
        f.denied_methods.end())
      return pxg(st_, kNoAccess, "KLSTD", "Access denied", __LINE__);
    if (f.pxg_method == method) return pxg(st_, f.pxg_code, "KLSTD", f.pxg_message, __LINE__);
    if (f.malformed_method == method) {
      Reply r;
      r.body = R"({"PxgRetVal": {"type": "long", "value": 12)";
      return r;
    }
    if (f.oversize_method == method) {
      Reply r;
      r.body.reserve(f.oversize_bytes + 20);
      r.body = R"({"PxgRetVal": ")";
      r.body.append(f.oversize_bytes, 'x');
      r.body += "\"}";
      return r;
    }

    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 16;
    json::value body = json::parse(req.body(), ec, json::storage_ptr(), options);
    if (ec || !body.is_object())
      return pxg(st_, kBadParam, "KLSTD", "the request body is not a JSON object", __LINE__);
    const json::object& params = body.get_object();

    if (method == "HostGroup.FindHosts") return find(params, owner, false);
    if (method == "HostGroup.FindGroups") return find(params, owner, true);
    if (method == "ChunkAccessor.GetItemsCount") return items_count(params, owner);
    if (method == "ChunkAccessor.GetItemsChunk") return items_chunk(params, owner);
    if (method == "ChunkAccessor.Release") return release(params);
    if (method == "UaControl.GetUpdateAgentsList") return update_agents();
    if (method == "HostGroup.GetInstanceStatistics") {
      // "KLSRV_ST_ALL_CONS_CNT ... 0 if the KLSRV_ST_ALL_CONS_CNT filter is not requested" (and
      // the same for the other connection counts): the reference's table of server statistics,
      // https://support.kaspersky.com/help/KSC/16/KSCAPI/a00336.html. The rest is always there.
      json::value stats = st_.statistics;
      if (json::object* all = stats.if_object()) {
        std::vector<std::string> asked;
        if (auto f = params.find("vecFilterFields"); f != params.end() && f->value().is_array()) {
          for (const json::value& v : f->value().get_array())
            if (const json::string* name = v.if_string(); name && asked.size() < 256)
              asked.emplace_back(*name);
        }
        for (const char* on_request :
             {"KLSRV_ST_ALL_CONS_CNT", "KLSRV_ST_NAG_CONS_CNT", "KLSRV_ST_CTLNGT_CONS_CNT"}) {
          if (std::find(asked.begin(), asked.end(), on_request) != asked.end()) continue;
          if (json::value* v = all->if_contains(on_request)) *v = 0;
        }
      }
      json::object o;
      o["PxgRetVal"] = std::move(stats);
      return json_reply(o);
    }
    // The predefined groups' ids, as PxgRetVal (go-ksc kaspersky/HostGroup.go: GroupIdGroups,
    // GroupIdUnassigned, GroupIdSuper return a PxgValInt; the reference's HostGroup page,
    // https://support.kaspersky.com/help/KSC/13/KSCAPI/a00483_ad72001657638e78058ee0644601b5be3.html,
    // "ID of the predefined group "Unassigned computers""). The ids are the server's own (and a
    // virtual server's: KLVSRV_GROUPS, KLVSRV_UNASSIGNED, a00020.html): a client reads them.
    if (method == "HostGroup.GroupIdGroups") return int_reply(st_.groups->tree.managed);
    if (method == "HostGroup.GroupIdUnassigned") return int_reply(st_.groups->tree.unassigned);
    if (method == "HostGroup.GroupIdSuper") return int_reply(st_.groups->tree.super);
    if (method == "HostGroup.GetGroupInfo") {
      auto id = int_param(params, "nGroupId");
      const GroupInfo* g = id ? st_.groups->find(*id) : nullptr;
      if (g == nullptr) return pxg(st_, kNotFound, "KLSTD", "Object not found", __LINE__);
      json::value record = group_record(*g, {});
      json::object o;
      o["PxgRetVal"] = std::move(record.as_object()["value"]);
      return json_reply(o);
    }
    return pxg(st_, kNotFound, "KLSTD", "unknown method " + method.substr(0, 64), __LINE__);
  }

 private:
  static Reply int_reply(std::int64_t v) {
    json::object o;
    o["PxgRetVal"] = v;
    return json_reply(o);
  }

  std::string new_token() {
    if (st_.tokens.size() >= kMaxTokens) st_.tokens.erase(st_.tokens.begin());
    return "nst" + std::to_string(++st_.next_token) + "x" +
           std::to_string(st_.random() % 1000000007u);
  }

  void end_session(const std::string& token) {
    if (!token.empty()) {
      st_.tokens.erase(token);
      if (st_.ended_tokens.size() >= kMaxEndedSessions)
        st_.ended_tokens.erase(st_.ended_tokens.begin());
      st_.ended_tokens.insert(token);
    } else {
      conn_.logged_in = false;
      conn_.session_ended = true;
    }
  }

  // The password check of /login and Session.StartSession. False with *reply set when the login
  // does not go on: a refusal (401, or 403 when the fault says so), or, for an account that
  // needs two-step verification, the answer of the reference's two-factor authentication page
  // (https://support.kaspersky.com/help/KSC/13.1/KSCAPI/a00390.html):
  //   HTTP/1.1 401 Unauthorized
  //   WWW-Authenticate: KSCMFA type="totp", lengthHint="6"
  //   X-KSC-Session: <session id>          (Session.StartSession only: the session exists)
  //   Content-Type: text/plain
  //   Authentication not finished
  // A second request with `Authorization: KSCMFA totp="..."` gets the same answer: this fake
  // knows no valid code, so the account never completes a login.
  bool first_factor(const http::request<http::string_body>& req, Reply* reply) {
    const KscFaults& f = st_.faults;
    if (f.refuse_login) {
      *reply = refuse(f.refuse_login_status);
      return false;
    }
    auto auth = req.find(http::field::authorization);
    const bool second_factor = auth != req.end() && auth->value().substr(0, 7) == "KSCMFA ";
    if ((!second_factor && !credentials_ok(req)) || (second_factor && !st_.options.mfa_required)) {
      *reply = refuse(401);
      return false;
    }
    if (!st_.options.mfa_required && !second_factor) return true;
    *reply = refuse(401);
    reply->content_type = "text/plain";
    reply->body = "Authentication not finished";
    reply->headers.emplace_back("WWW-Authenticate", R"(KSCMFA type="totp", lengthHint="6")");
    if (req.target().ends_with("Session.StartSession")) {
      std::string token;
      if (auto it = req.find("X-KSC-Session");
          it != req.end() && st_.pending_tokens.count(std::string(it->value())) > 0)
        token = std::string(it->value());
      if (token.empty()) {
        token = new_token();
        if (st_.pending_tokens.size() >= kMaxTokens)
          st_.pending_tokens.erase(st_.pending_tokens.begin());
        st_.pending_tokens.insert(token);
      }
      reply->headers.emplace_back("X-KSC-Session", token);
    }
    return false;
  }

  bool credentials_ok(const http::request<http::string_body>& req) const {
    auto auth = req.find(http::field::authorization);
    if (auth == req.end()) return false;
    auto pairs = auth_pairs(auth->value());
    const KscOpenApiOptions& o = st_.options;
    if (pairs["user"] != base64_encode(o.user) || pairs["pass"] != base64_encode(o.password) ||
        pairs["domain"] != o.domain || pairs["internal"] != (o.internal ? "1" : "0"))
      return false;
    auto vserver = req.find("X-KSC-VServer");
    std::string sent = vserver == req.end() ? std::string() : std::string(vserver->value());
    return sent == base64_encode(o.vserver);
  }

  Reply refuse(int status) {
    if (status == 403) {
      ++st_.counters.forbidden;
    } else {
      ++st_.counters.refused;
    }
    return status_only(status);
  }

  Reply find(const json::object& params, const std::string& owner, bool groups) {
    Accessor a;
    a.owner = owner;
    a.groups = groups;
    a.group_index = st_.groups;

    // wstrFilter: a string; absent or null is the empty filter (the XSOAR integration sends
    // null when no filter is given).
    std::string text;
    if (auto it = params.find("wstrFilter"); it != params.end() && !it->value().is_null()) {
      const json::string* s = it->value().if_string();
      if (s == nullptr) return pxg(st_, kBadParam, "KLSTD", "wstrFilter is not a string", __LINE__);
      text = std::string(*s);
    }
    if (!groups) st_.counters.last_host_filter = text.substr(0, 4096);
    Filter filter;
    const std::span<const Attr> attrs =
        groups ? std::span<const Attr>(kGroupAttrs) : std::span<const Attr>(kHostAttrs);
    if (std::string error = FilterParser(text, attrs).parse(&filter); !error.empty()) {
      ++st_.counters.bad_filters;
      return pxg(st_, kBadParam, "KLSTD", "Invalid search filter: " + error, __LINE__);
    }

    auto fields = params.find("vecFieldsToReturn");
    if (fields == params.end() || !fields->value().is_array())
      return pxg(st_, kBadParam, "KLSTD", "vecFieldsToReturn is missing", __LINE__);
    for (const json::value& v : fields->value().get_array()) {
      if (const json::string* s = v.if_string()) a.fields.emplace_back(*s);
      if (a.fields.size() >= 64) break;
    }

    const GroupIndex& index = *st_.groups;
    if (groups) {
      for (std::size_t i = 0; i < index.listed.size(); ++i) {
        const GroupInfo& g = index.listed[i];
        if (filter.empty || evaluate(filter, filter.root, [&](std::string_view attr) {
              Value v;
              if (attr == "id")
                v.number = g.id;
              else if (attr == "parentId")
                v.number = g.parent_id;
              else if (attr == "name")
                v.text = g.name;
              else
                v.text = g.full_name;
              return v;
            }))
          a.group_rows.push_back(i);
      }
    } else {
      a.hosts = st_.hosts;
      a.all_hosts = filter.empty;
      if (!filter.empty) {
        static const std::vector<std::int64_t> kNoGroup;
        for (std::size_t i = 0; i < a.hosts->size(); ++i) {
          const KscHostDef& h = (*a.hosts)[i];
          const GroupInfo* g = index.find(h.group_id);
          if (evaluate(filter, filter.root, [&](std::string_view attr) {
                Value v;
                if (attr == "KLHST_WKS_FROM_UNASSIGNED")
                  v.number = g != nullptr && g->unassigned;
                else if (attr == "KLHST_WKS_GROUPID")
                  v.number = h.group_id;
                else if (attr == "KLHST_WKS_STATUS")
                  v.number = h.status;
                else if (attr == "KLHST_WKS_DN")
                  v.text = h.display_name;
                else if (attr == "KLHST_WKS_HOSTNAME")
                  v.text = h.id;
                else
                  v.groups = g != nullptr ? &g->self_and_ancestors : &kNoGroup;
                return v;
              }))
            a.selected.push_back(static_cast<std::uint32_t>(i));
        }
      }
    }

    if (st_.accessors.size() >= kMaxAccessors) {
      // Evict the oldest, as a server's accessors expire.
      auto oldest = std::min_element(
          st_.accessors.begin(), st_.accessors.end(),
          [](const auto& x, const auto& y) { return x.second.serial < y.second.serial; });
      st_.accessors.erase(oldest);
    }
    a.serial = ++st_.next_accessor;
    std::string id = "acc" + std::to_string(a.serial);
    const std::size_t n = a.size();
    st_.accessors.emplace(id, std::move(a));
    ++st_.counters.accessors_created;
    st_.counters.open_accessors = static_cast<unsigned>(st_.accessors.size());
    json::object o;
    o["PxgRetVal"] = n;
    o["strAccessor"] = id;
    return json_reply(o);
  }

  const Accessor* accessor(const json::object& params, const std::string& owner) const {
    auto it = st_.accessors.find(string_param(params, "strAccessor"));
    if (it == st_.accessors.end() || it->second.owner != owner) return nullptr;
    return &it->second;
  }

  Reply items_count(const json::object& params, const std::string& owner) {
    const Accessor* a = accessor(params, owner);
    if (a == nullptr) return pxg(st_, kNotFound, "KLSTD", "accessor not found", __LINE__);
    json::object o;
    o["PxgRetVal"] = a->size();
    return json_reply(o);
  }

  // ChunkAccessor.GetItemsChunk: PxgRetVal is the number of items actually put in pChunk, which
  // may be fewer than nCount ("Returns: (int) actual number of returned elements (less or equal
  // to nCount)",
  // https://support.kaspersky.com/help/KSC/15.1/KSCAPI/a00508_aa2ef644758dc72bf23dc3490fc78cea4.html);
  // this fake returns at most options.max_chunk_items. A chunk with no item
  // has no KLCSP_ITERATOR_ARRAY, and a client reads it as empty as the XSOAR integration does
  // (`results.get('pChunk', {}).get('KLCSP_ITERATOR_ARRAY', [])`). nCount <= 0 or nStart < 0 is
  // refused (no public source says how KSC answers them; refusing is the stricter); nStart at or
  // past the end gives an empty chunk.
  Reply items_chunk(const json::object& params, const std::string& owner) {
    const Accessor* a = accessor(params, owner);
    if (a == nullptr) return pxg(st_, kNotFound, "KLSTD", "accessor not found", __LINE__);
    auto start = int_param(params, "nStart");
    auto count = int_param(params, "nCount");
    if (!start || !count || *start < 0 || *count <= 0)
      return pxg(st_, kBadParam, "KLSTD", "bad nStart or nCount", __LINE__);
    const std::size_t cap = std::clamp<std::size_t>(st_.options.max_chunk_items, 1, kMaxChunkItems);
    const std::size_t from = std::min<std::size_t>(static_cast<std::size_t>(*start), a->size());
    const std::size_t to =
        std::min({a->size(), from + std::min<std::size_t>(static_cast<std::size_t>(*count), cap)});
    json::object chunk;
    if (to > from) {
      json::array items;
      items.reserve(to - from);
      for (std::size_t i = from; i < to; ++i) {
        if (a->groups) {
          items.push_back(group_record(a->group_index->listed[a->group_rows[i]], a->fields));
        } else {
          items.push_back(host_record(a->host(i), a->fields, *a->group_index));
        }
      }
      chunk["KLCSP_ITERATOR_ARRAY"] = std::move(items);
    }
    st_.counters.largest_chunk = std::max(st_.counters.largest_chunk, to - from);
    json::object o;
    o["pChunk"] = std::move(chunk);
    o["PxgRetVal"] = to - from;
    return json_reply(o);
  }

  Reply release(const json::object& params) {
    if (st_.accessors.erase(string_param(params, "strAccessor")) > 0)
      ++st_.counters.accessors_released;
    st_.counters.open_accessors = static_cast<unsigned>(st_.accessors.size());
    return json_reply(json::object());
  }

  // UaControl.GetUpdateAgentsList: no PxgRetVal, the out-parameter pUasArr
  // (https://support.kaspersky.com/help/KSC/16/KSCAPI/a00627_a0c3b1a443d06e4283a36022e462c8021.html),
  // one wrapped params container per update agent as go-ksc reads it (kaspersky/UaControl.go,
  // PUasArr): UaHostId (the device's KLHST_WKS_HOSTNAME), UaHostDisplayName, and UaIsCg, a bool:
  // the update agent also acts as a connection gateway (UaControl is "Update agents and
  // Connection gateways management", a00593.html; no page defines the field in a sentence).
  Reply update_agents() {
    std::unordered_map<std::string_view, std::string_view> names;
    {
      std::set<std::string_view> wanted(st_.update_agents.begin(), st_.update_agents.end());
      for (const KscHostDef& h : *st_.hosts)
        if (wanted.count(h.id) > 0) names[h.id] = h.display_name;
    }
    json::array list;
    for (const auto& id : st_.update_agents) {
      json::object ua;
      ua["UaHostId"] = id;
      if (auto it = names.find(id); it != names.end()) ua["UaHostDisplayName"] = it->second;
      ua["UaIsCg"] = st_.gateways.count(id) > 0;
      list.push_back(wrap("params", std::move(ua)));
    }
    json::object o;
    o["pUasArr"] = std::move(list);
    return json_reply(o);
  }

  State& st_;
  Conn& conn_;
};

asio::awaitable<void> serve(std::shared_ptr<State> st, std::shared_ptr<Conn> c) {
  try {
    auto& lowest = beast::get_lowest_layer(c->stream);
    lowest.expires_after(kHandshakeCap);
    auto [hec] = co_await c->stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (!hec) {
      beast::flat_buffer buffer;
      for (int i = 0; i < kMaxRequestsPerConnection && !st->stopped; ++i) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(kRequestHeaderLimit));
        parser.body_limit(kRequestBodyLimit);
        lowest.expires_after(st->options.idle_timeout);
        auto [rec, rn] = co_await http::async_read(c->stream, buffer, parser, kTuple);
        if (rec || st->stopped) break;
        const auto& req = parser.get();
        Reply reply = Handler(*st, *c).handle(req);
        if (reply.action == Reply::close) break;
        if (reply.action == Reply::stall) {
          lowest.expires_never();
          c->stall.expires_after(kStallCap);
          co_await c->stall.async_wait(kTuple);
          break;
        }
        http::response<http::string_body> res{static_cast<http::status>(reply.status),
                                              req.version()};
        res.set(http::field::server, "kscprobe-sim");
        res.set(http::field::content_type, reply.content_type);
        for (const auto& [name, value] : reply.headers) res.set(name, value);
        res.keep_alive(req.keep_alive());
        res.body() = std::move(reply.body);
        res.prepare_payload();
        lowest.expires_after(kWriteCap);
        auto [wec, wn] = co_await http::async_write(c->stream, res, kTuple);
        if (wec || !res.keep_alive()) break;
      }
    }
  } catch (...) {
    // Nothing a client sends may escape a connection.
  }
  c->close();
  st->conns.erase(c->id);
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> st, std::shared_ptr<tcp::acceptor> acc) {
  for (;;) {
    auto [ec, socket] = co_await acc->async_accept(kTuple);
    if (st->stopped || !acc->is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      asio::steady_timer pause(acc->get_executor(), 100ms);
      co_await pause.async_wait(kTuple);
      continue;
    }
    if (st->conns.size() >= kMaxConnections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto conn = std::make_shared<Conn>(std::move(socket), *st->tls);
    conn->id = ++st->next_conn;
    st->conns[conn->id] = conn;
    ++st->counters.connections;
    asio::co_spawn(acc->get_executor(), serve(st, conn), asio::detached);
  }
}

}  // namespace

struct KscOpenApiServer::Impl {
  Impl(asio::io_context& io_context, KscOpenApiOptions options)
      : io(io_context), state(std::make_shared<State>()) {
    state->options = std::move(options);
  }
  asio::io_context& io;
  std::shared_ptr<State> state;
  std::shared_ptr<tcp::acceptor> acceptor;
  Credentials ca, cert;
  std::uint16_t port = 0;
  bool running = false;

  void stop() {
    state->stopped = true;
    boost::system::error_code ignored;
    if (acceptor) acceptor->close(ignored);
    acceptor.reset();
    std::vector<std::shared_ptr<Conn>> open;
    for (auto& [id, weak] : state->conns)
      if (auto c = weak.lock()) open.push_back(std::move(c));
    for (auto& c : open) c->close();
    running = false;
  }
};

KscOpenApiServer::KscOpenApiServer(asio::io_context& io, KscOpenApiOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

KscOpenApiServer::~KscOpenApiServer() { stop(); }

void KscOpenApiServer::start() {
  if (impl_->running) return;
  const KscOpenApiOptions& o = impl_->state->options;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address_v4(o.address, ec);
  if (ec) throw std::runtime_error("invalid fake KSC address " + o.address + ": " + ec.message());

  CertOptions ca_options;
  ca_options.common_name = "kscprobe-sim KSC CA";
  impl_->ca = make_ca(ca_options);
  CertOptions leaf;
  leaf.common_name = "ksc-sim";
  leaf.dns_names = {"localhost", "ksc-sim"};
  leaf.ip_addresses = {o.address};
  impl_->cert = make_signed_by(impl_->ca, leaf);

  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3);
  SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
  tls->use_certificate_chain(asio::buffer(impl_->cert.cert_pem));
  tls->use_private_key(asio::buffer(impl_->cert.key_pem), asio::ssl::context::pem);
  impl_->state->tls = std::move(tls);

  auto acc = std::make_shared<tcp::acceptor>(impl_->io);
  acc->open(tcp::v4(), ec);
  if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc->bind(tcp::endpoint(address, o.port), ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("fake KSC OpenAPI cannot listen on " + o.address + ":" +
                             std::to_string(o.port) + ": " + ec.message());
  impl_->port = acc->local_endpoint().port();
  impl_->acceptor = acc;
  impl_->state->stopped = false;
  impl_->running = true;
  asio::co_spawn(impl_->io, accept_loop(impl_->state, acc), asio::detached);
}

void KscOpenApiServer::stop() { impl_->stop(); }

std::uint16_t KscOpenApiServer::port() const { return impl_->port; }

std::string KscOpenApiServer::url() const {
  return "https://" + impl_->state->options.address + ":" + std::to_string(impl_->port);
}

const Credentials& KscOpenApiServer::ca() const { return impl_->ca; }

const Credentials& KscOpenApiServer::certificate() const { return impl_->cert; }

void KscOpenApiServer::set_hosts(std::vector<KscHostDef> hosts) {
  impl_->state->hosts = std::make_shared<const std::vector<KscHostDef>>(std::move(hosts));
}

void KscOpenApiServer::add_host(KscHostDef host) {
  auto copy = std::make_shared<std::vector<KscHostDef>>(*impl_->state->hosts);
  copy->push_back(std::move(host));
  impl_->state->hosts = std::move(copy);
}

bool KscOpenApiServer::remove_host(std::string_view id) {
  auto copy = std::make_shared<std::vector<KscHostDef>>(*impl_->state->hosts);
  auto it =
      std::find_if(copy->begin(), copy->end(), [&](const KscHostDef& h) { return h.id == id; });
  if (it == copy->end()) return false;
  copy->erase(it);
  impl_->state->hosts = std::move(copy);
  return true;
}

std::size_t KscOpenApiServer::host_count() const { return impl_->state->hosts->size(); }

void KscOpenApiServer::set_group_tree(KscGroupTree tree) {
  impl_->state->groups = std::make_shared<const GroupIndex>(index_groups(std::move(tree)));
}

void KscOpenApiServer::set_groups(std::map<std::int64_t, std::string> groups) {
  KscGroupTree tree;
  tree.managed = 0;
  std::int64_t free_id = 1;
  for (const auto& [id, name] : groups) {
    tree.groups.push_back({id, id == 0 ? -1 : 0, name});
    free_id = std::max(free_id, id + 1);
  }
  if (groups.count(0) == 0) tree.groups.push_back({0, -1, "Managed devices"});
  tree.unassigned = free_id;
  tree.super = free_id + 1;
  tree.groups.push_back({tree.unassigned, -1, "Unassigned devices"});
  set_group_tree(std::move(tree));
}

void KscOpenApiServer::set_update_agents(std::vector<std::string> ids) {
  impl_->state->update_agents = std::move(ids);
}

void KscOpenApiServer::set_connection_gateways(std::vector<std::string> ids) {
  impl_->state->gateways = std::set<std::string>(ids.begin(), ids.end());
}

void KscOpenApiServer::set_statistics_json(std::string object_text) {
  boost::system::error_code ec;
  json::value v = json::parse(object_text, ec);
  if (ec || !v.is_object())
    throw std::invalid_argument("fake KSC statistics must be a JSON object");
  impl_->state->statistics = std::move(v);
}

void KscOpenApiServer::set_faults(KscFaults faults) { impl_->state->faults = std::move(faults); }

const KscCounters& KscOpenApiServer::counters() const { return impl_->state->counters; }

// The default tree. Its shapes: "Managed devices" and "Unassigned devices" are listed by
// FindGroups, and "Unassigned devices" holds a domain group below it, as the XSOAR sample answer
// shows (demisto/content Packs/KasperskySecurityCenter/Integrations/KasperskySecurityCenter/
// test_data/groups_list_response.json: 0 "Managed devices", 1 "Unassigned devices", 4
// "WORKGROUP"). Here a managed group has id 4 and the domain another one, and the list is in no
// order of ids or of depth, so a client that assumes an id or an order is caught. GroupIdSuper's
// group is not listed.
// GroupIdSuper's group is the "Primary server" ("Super") group
// (https://support.kaspersky.com/help/KSC/16/KSCAPI/a00549_ab5e3f108a3582381ceeee7e3e93c2e39.html).
KscGroupTree KscOpenApiServer::default_group_tree() {
  KscGroupTree tree;
  tree.managed = 0;
  tree.unassigned = 1;
  tree.super = 2;
  tree.groups = {{kGroupLyonBranch2, kGroupLyon, "Branch 2"},
                 {kGroupServers, 0, "Servers"},
                 {1, -1, "Unassigned devices"},
                 {kGroupLyon, 0, "Lyon"},
                 {kGroupWorkgroup, 1, "WORKGROUP"},
                 {0, -1, "Managed devices"},
                 {kGroupParis, 0, "Paris"}};
  return tree;
}

std::size_t KscOpenApiServer::generated_unassigned(std::size_t count,
                                                   std::size_t unassigned_every) {
  return unassigned_every == 0 ? 0 : count / unassigned_every;
}

std::vector<KscHostDef> KscOpenApiServer::generate_hosts(std::size_t count, std::int64_t now,
                                                         std::size_t unassigned_every) {
  constexpr std::int64_t kManaged[] = {kGroupParis, kGroupLyon, kGroupServers, kGroupLyonBranch2};
  std::vector<KscHostDef> hosts;
  hosts.reserve(count);
  for (std::size_t i = 1; i <= count; ++i) {
    KscHostDef h;
    char id[40];
    std::snprintf(id, sizeof id, "%08zx-0000-4000-8000-%012zx", i * 2654435761u % 0xffffffffu, i);
    h.id = id;
    char name[32];
    std::snprintf(name, sizeof name, "pc-%05zu", i);
    h.display_name = name;
    h.fqdn = h.display_name + ".corp.example";
    h.dns_name = h.display_name;
    h.ipv4 = static_cast<std::uint32_t>((10u << 24) | (1u << 16)) + static_cast<std::uint32_t>(i);
    h.last_visible = now;
    if (unassigned_every != 0 && i % unassigned_every == 0) {
      // Found by network polling: no agent of this server, never connected to it.
      h.group_id = kGroupWorkgroup;
      h.status = 0x1;  // visible only
    } else {
      h.group_id = kManaged[i % 4];
      h.last_agent_connected = now - static_cast<std::int64_t>(i % 600);
    }
    hosts.push_back(std::move(h));
  }
  return hosts;
}

}  // namespace kscprobe::sim
