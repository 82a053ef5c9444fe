#pragma once
// One `[[ksc]]` section: a Kaspersky Security Center Administration Server whose OpenAPI (HTTPS,
// port 13299) tells which devices it manages, so that they become targets without a hand-made
// target file. The section is a plain description; daemon/discovery/ reads the server with it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/catalog.hpp"
#include "config/duration.hpp"
#include "config/source_pos.hpp"

namespace kscprobe {

/// How the client holds its KSC session.
enum class KscSessionMode : std::uint8_t {
  /// `POST /api/v1.0/login` with the credentials: the session lives on the TLS connection, which
  /// the client keeps open. A server that does not know /login (404) is asked for a token
  /// instead (Session.StartSession), once per connection.
  connection,
  /// `Session.StartSession` with the credentials returns a token, sent as `X-KSC-Session` on
  /// every later request (still over one kept-alive connection).
  token,
};

/// Limits of every discovery run. The defaults hold a 100 000-device estate with room to spare;
/// none of them is something a user normally changes.
struct KscLimits {
  /// One request (connect, TLS handshake, write, whole answer) must complete within this; a
  /// server that stalls fails the run with a timeout.
  Duration request_timeout = std::chrono::seconds(30);
  /// Items asked per ChunkAccessor.GetItemsChunk (hosts and groups): a few hundred per answer,
  /// never the whole estate at once.
  unsigned page_size = 500;
  /// A larger HTTP body is refused (the run fails) before it is parsed.
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  /// Devices kept per run (the `max_devices` key): a little above the 100 000 devices KSC
  /// supports per Administration Server, so that a server (or a mistake) listing far more cannot
  /// take the machine's memory. Devices past it are counted as skipped ("over_limit").
  std::size_t max_devices = 120000;
  /// Administration groups whose names are kept per run.
  std::size_t max_groups = 100000;
  /// A chunk may hold fewer items than asked (KSC caps them), so a listing takes as many requests
  /// as the server needs: up to one per `min_chunk_items` items counted (plus a few). A server
  /// that hands out fewer per chunk than that ends the listing at this bound, which fails the
  /// run as "truncated".
  std::size_t min_chunk_items = 10;
};

/// A `[[ksc]]` section as loaded (what the user wrote, with defaults).
struct KscSource {
  std::string name;  // the `ksc_server` label of every target it finds; unique among sections
  std::string url;   // "https://host[:port]" (port 13299 when absent)
  std::string user;  // a read-only KSC account
  // Where the password is: a file (its content, without a trailing newline) or an environment
  // variable; exactly one. Never the password itself, which is read at load and each reload.
  std::string password_file;
  std::string password_env;
  std::string domain;    // of a domain account; empty for a KSC internal user
  bool internal = true;  // a KSC internal user (KSCBasic internal="1")
  std::string vserver;   // a virtual Administration Server's name; empty: the main server
  KscSessionMode session = KscSessionMode::connection;

  // Trust in the server's certificate: at least one of ca_file and fingerprint_sha256 (both:
  // both must hold), unless insecure_skip_verify is written explicitly.
  std::string ca_file;             // verify the chain (and the server name) against these CAs
  std::string fingerprint_sha256;  // pin the leaf certificate: 64 hex digits, lowercase
  bool insecure_skip_verify = false;
  // The name the certificate must carry (and SNI); empty: the URL's host.
  std::string server_name;

  Duration refresh = std::chrono::minutes(10);  // between successful discoveries
  // How long the last good list of a server that keeps failing is still used; past it the
  // targets are kept but the discovery reports them as stale. Also the age past which an
  // agent's last connection to the server is diagnosed (kscprobe_agent_diagnosis).
  Duration stale_after = std::chrono::hours(2);
  // Administration groups whose devices (subgroups included) are listed, as paths below
  // "Managed devices" ("Paris", "Lyon/Branch 2"); empty: every managed device. Resolved to the
  // server's group ids at each run: a path the server does not have fails the run.
  std::vector<std::string> groups;
  // Whether devices under "Unassigned devices" (seen on the network, no agent of this server)
  // are listed too: by default they are left out (KLHST_WKS_FROM_UNASSIGNED), whatever the
  // group ids of the server are.
  bool include_unassigned = false;
  // A KSC search filter of the user's, added (AND) to the one the section makes; empty: none.
  std::string host_filter;

  // What to turn into targets: `agent` (every managed device) and `distribution_point`
  // (devices that are update agents). A distribution point is an agent too: when only `agent`
  // is listed, it becomes an agent target.
  std::vector<Role> roles = {Role::agent, Role::distribution_point};
  std::vector<std::pair<std::string, std::string>> labels;  // added to every target; sorted
  std::uint32_t features = 0;                               // of every target found

  KscLimits limits;
  SourcePos pos;  // of the section, for messages
};

/// Where a section's URL points.
struct KscEndpoint {
  std::string host;  // a DNS name or an IP literal (IPv6 without brackets)
  std::uint16_t port = 13299;
};

/// Parses "https://host[:port][/]". Returns nullopt with the reason in *error for anything else
/// (another scheme, a path, user info, a bad port).
std::optional<KscEndpoint> parse_ksc_url(std::string_view url, std::string* error);

/// Longest password file read (a password is a line; anything longer is a wrong file).
inline constexpr std::size_t kMaxKscPasswordBytes = 4096;

/// Reads `source`'s password from password_file (its content without the trailing line break)
/// or password_env. Returns nullopt with the reason in *error, which names the file or the
/// variable and never holds a password. An empty password is an error, and so is a password
/// file that is not a regular file (a FIFO or a device would block the reader).
std::optional<std::string> read_ksc_password(const KscSource& source, std::string* error);

/// Warnings about a section's secrets and trust, for the daemon's start, --once and
/// --config.check alike: a password file that others may read, insecure_skip_verify.
std::vector<std::string> ksc_security_warnings(const KscSource& source);

/// `url` with any user information (`https://user:secret@host`) replaced by "***@", for messages.
std::string redact_url(std::string_view url);

}  // namespace kscprobe
