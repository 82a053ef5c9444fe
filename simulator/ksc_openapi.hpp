#pragma once
// A fake KSC OpenAPI server (https, /api/v1.0/...) for the tests and the demo: it logs users in
// both ways KSC does (a session on the connection after POST /login, or a token from
// Session.StartSession sent back as X-KSC-Session), lists a device list that can change between
// two discoveries through ChunkAccessor pages, names groups, lists update agents, reports
// instance statistics, and can be made to fail in the ways a real server does.
//
// It is as strict as a real Administration Server where the public reference says how one
// behaves, and at least as strict as plausible where it does not (each shape cites its source in
// ksc_openapi.cpp): chunks shorter than asked, search filters evaluated (and refused when not
// understood), group ids in no convenient order with an "Unassigned devices" tree, sessions that
// end with 403, PxgError with HTTP 200 or 500, connection gateways, an account that needs
// two-step verification.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/self_signed.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace kscprobe::sim {

/// One administration group. The tree is given by parent ids; the roots are the groups whose
/// parent is not in the list.
struct KscGroupDef {
  std::int64_t id = 0;
  std::int64_t parent_id = -1;
  std::string name;
};

/// The group tree and its predefined groups: `managed` is what HostGroup.GroupIdGroups answers
/// ("Managed devices"), `unassigned` what HostGroup.GroupIdUnassigned answers ("Unassigned
/// devices"), `super` what HostGroup.GroupIdSuper answers (not listed by FindGroups).
struct KscGroupTree {
  std::vector<KscGroupDef> groups;
  std::int64_t managed = 0;
  std::int64_t unassigned = 1;
  std::int64_t super = 2;
};

/// One device as the fake server lists it.
struct KscHostDef {
  std::string id;  // KLHST_WKS_HOSTNAME (a GUID on a real server)
  std::string display_name;
  std::string fqdn;        // empty: the field is left out
  std::string dns_name;    // empty: the field is left out
  std::uint32_t ipv4 = 0;  // 0: the field is left out
  std::int64_t group_id = 0;
  std::int64_t last_visible = 0;                     // unix seconds; 0: left out
  std::optional<std::int64_t> last_agent_connected;  // unix seconds
  std::uint32_t status = 0x1 | 0x4 | 0x8 | 0x10;     // visible, agent installed and running, RTP
};

/// How the server is set up; fixed once started.
struct KscOpenApiOptions {
  std::string address = "127.0.0.1";  // a loopback address
  std::uint16_t port = 0;             // 0: any free port (see port())
  // The one account it accepts.
  std::string user = "kscprobe";
  std::string password = "ksc-secret";
  std::string domain = {};
  bool internal = true;
  std::string vserver = {};
  // false: POST /api/v1.0/login answers 404, as a server that only issues tokens.
  bool login_endpoint = true;
  // A connection idle this long is closed (as KSC closes idle OpenAPI connections).
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(30);
  // ChunkAccessor.GetItemsChunk puts at most this many items in a chunk, whatever nCount asks
  // (at least 1; a larger value is cut to an internal bound of 10000).
  std::size_t max_chunk_items = 100;
  // The account needs two-step verification: a login with the right password answers 401 with
  // `WWW-Authenticate: KSCMFA type="totp", lengthHint="6"` and never completes.
  bool mfa_required = false;
};

/// Failures to serve, switchable at any time (they apply to the next request).
struct KscFaults {
  // /login and Session.StartSession refuse the credentials with this status (401 or 403).
  bool refuse_login = false;
  int refuse_login_status = 401;
  // A session ends after this many calls (0: never): every later call of that session gets
  // expired_status (403, as KSC answers the calls of an ended session; 401 selectable), until a
  // new login; with expire_by_closing, the connection is closed without an answer instead.
  unsigned expire_after_calls = 0;
  int expired_status = 403;
  bool expire_by_closing = false;
  // The HTTP status of every PxgError answer: 200 (as KSC sends it) or 500.
  int pxg_http_status = 200;
  // A method ("HostGroup.FindHosts", "ChunkAccessor.GetItemsChunk", ... or "login") that
  // answers a PxgError with this code and message (module KLSTD).
  std::string pxg_method;
  std::int64_t pxg_code = 1950;
  std::string pxg_message = "Access denied";
  // Methods the account has no right to call: each answers KSC's access-denied PxgError
  // (KLSTD 1184 STDE_NOACCESS).
  std::vector<std::string> denied_methods;
  std::string malformed_method;  // answers 200 with a body that is not JSON
  std::string stall_method;      // never answers (until the client gives up or stop())
  std::string oversize_method;   // answers a valid JSON body of oversize_bytes bytes
  std::size_t oversize_bytes = 20 * 1024 * 1024;
};

/// What the server saw.
struct KscCounters {
  unsigned connections = 0;
  unsigned logins = 0;          // successful /login
  unsigned tokens_issued = 0;   // successful Session.StartSession
  unsigned sessions_ended = 0;  // Session.EndSession
  unsigned refused = 0;         // 401 answers (bad credentials, no or expired session, MFA)
  unsigned forbidden = 0;       // 403 answers (ended sessions, login refused with 403)
  unsigned bad_filters = 0;     // search filters refused as not understood
  unsigned accessors_created = 0;
  unsigned accessors_released = 0;
  unsigned open_accessors = 0;            // created, not released (nor evicted)
  std::map<std::string, unsigned> calls;  // per method, login included
  std::size_t largest_chunk = 0;          // most items in one GetItemsChunk answer
  std::string last_host_filter;           // wstrFilter of the last HostGroup.FindHosts
};

/**
 * The fake server. Runs on the caller's io_context, which must outlive it; every member function
 * must be called from the thread that runs that context (or while it is not running). Every loop
 * is bounded (connections, requests per connection, items per chunk, open accessors), nothing a
 * client sends can make a handler throw, and stop() ends every connection, stalled ones too.
 */
class KscOpenApiServer {
 public:
  explicit KscOpenApiServer(boost::asio::io_context& io, KscOpenApiOptions options = {});
  ~KscOpenApiServer();
  KscOpenApiServer(const KscOpenApiServer&) = delete;
  KscOpenApiServer& operator=(const KscOpenApiServer&) = delete;

  /// Makes the certificates and listens. Throws std::runtime_error on a bind failure.
  void start();
  /// Closes the listener and every connection. Idempotent; also done by the destructor.
  void stop();

  std::uint16_t port() const;
  /// "https://<address>:<port>".
  std::string url() const;
  /// The CA that signed the server's certificate (a ca_file's content), and the certificate
  /// itself (its fingerprint_sha256 is what a pin must hold). Valid after start().
  const Credentials& ca() const;
  const Credentials& certificate() const;

  /// The device list; a change shows in the next FindHosts (open accessors keep theirs).
  void set_hosts(std::vector<KscHostDef> hosts);
  void add_host(KscHostDef host);
  /// Returns false when no device has this id.
  bool remove_host(std::string_view id);
  std::size_t host_count() const;
  /// The group tree (see default_group_tree()).
  void set_group_tree(KscGroupTree tree);
  /// A flat list, group id -> name: id 0 is "Managed devices" and the parent of every other
  /// group; an empty "Unassigned devices" group is added under a free id.
  void set_groups(std::map<std::int64_t, std::string> groups);
  /// Ids of the devices that are update agents (distribution points).
  void set_update_agents(std::vector<std::string> ids);
  /// Ids among the update agents that also act as connection gateways (UaIsCg).
  void set_connection_gateways(std::vector<std::string> ids);
  /// PxgRetVal of HostGroup.GetInstanceStatistics, as JSON object text.
  void set_statistics_json(std::string object_text);

  void set_faults(KscFaults faults);
  const KscCounters& counters() const;

  /// `count` devices "pc-00001"... (ids are GUID-like), addresses from 10.1.0.1 upwards, last
  /// seen `now`, spread over the managed groups of default_group_tree(); every
  /// `unassigned_every`-th device (0: none) is in its "Unassigned devices" tree instead (domain
  /// WORKGROUP), as devices found by network polling without an agent of this server.
  static std::vector<KscHostDef> generate_hosts(std::size_t count, std::int64_t now,
                                                std::size_t unassigned_every = 20);
  /// How many of generate_hosts(count, ..., unassigned_every) are unassigned.
  static std::size_t generated_unassigned(std::size_t count, std::size_t unassigned_every = 20);

  /// The default tree, ids in no convenient order: 0 "Managed devices" with 7 "Paris", 4 "Lyon"
  /// (and 9 "Branch 2" below it), 3 "Servers"; 1 "Unassigned devices" with 12 "WORKGROUP".
  static KscGroupTree default_group_tree();
  static constexpr std::int64_t kGroupParis = 7, kGroupLyon = 4, kGroupLyonBranch2 = 9,
                                kGroupServers = 3, kGroupWorkgroup = 12;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kscprobe::sim
