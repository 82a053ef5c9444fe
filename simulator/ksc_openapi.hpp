#pragma once
// A fake KSC OpenAPI server (https, /api/v1.0/...) for the tests and the demo: it logs users in
// both ways KSC does (a session on the connection after POST /login, or a token from
// Session.StartSession sent back as X-KSC-Session), lists a device list that can change between
// two discoveries through ChunkAccessor pages, names groups, lists update agents, reports
// instance statistics, and can be made to fail in the ways a real server does.
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
  std::string domain;
  bool internal = true;
  std::string vserver;
  // false: POST /api/v1.0/login answers 404, as a server that only issues tokens.
  bool login_endpoint = true;
  // A connection idle this long is closed (as KSC closes idle OpenAPI connections).
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(30);
};

/// Failures to serve, switchable at any time (they apply to the next request).
struct KscFaults {
  bool refuse_login = false;  // /login and Session.StartSession answer 401
  // A session expires after this many calls (0: never): the next call gets 401, or, with
  // expire_by_closing, the connection is closed without an answer.
  unsigned expire_after_calls = 0;
  bool expire_by_closing = false;
  // A method ("HostGroup.FindHosts", "ChunkAccessor.GetItemsChunk", ... or "login") that
  // answers a PxgError (HTTP 500 with {"PxgError": {"code", "message"}}).
  std::string pxg_method;
  std::int64_t pxg_code = 1950;
  std::string pxg_message = "Access denied";
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
  unsigned refused = 0;         // 401 answers (bad credentials, no or expired session)
  unsigned accessors_created = 0;
  unsigned accessors_released = 0;
  unsigned open_accessors = 0;            // created, not released (nor evicted)
  std::map<std::string, unsigned> calls;  // per method, login included
  std::size_t largest_chunk = 0;          // most items in one GetItemsChunk answer
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
  /// Group id -> name.
  void set_groups(std::map<std::int64_t, std::string> groups);
  /// Ids of the devices that are update agents (distribution points).
  void set_update_agents(std::vector<std::string> ids);
  /// PxgRetVal of HostGroup.GetInstanceStatistics, as JSON object text.
  void set_statistics_json(std::string object_text);

  void set_faults(KscFaults faults);
  const KscCounters& counters() const;

  /// `count` devices "pc-00001"... (ids are GUID-like), addresses from 10.1.0.1 upwards, spread
  /// over groups 1..3 (as set by default), last seen `now`.
  static std::vector<KscHostDef> generate_hosts(std::size_t count, std::int64_t now);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kscprobe::sim
