#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config/config.hpp"

namespace boost::asio::ssl {
class context;
}
struct ssl_session_st;  // OpenSSL's SSL_SESSION

namespace kscprobe {

struct TlsInfo;

/// TLS sessions kept per check, so that most probes resume a session instead of running a full
/// handshake: a resumed handshake skips the certificate chain (its transfer, parsing and
/// signature check), which is most of a TLS probe's CPU. What a full handshake showed (version,
/// certificate, verification) is kept with the session and reported by the resumed probes; a
/// full handshake is run again once per period (`[daemon] tls_full_handshake_interval`), and
/// whenever the server declines the session (it restarted, its ticket key or certificate
/// changed), so a changed certificate shows at once or within the period. Thread-safe.
class TlsSessionStore {
 public:
  TlsSessionStore();
  ~TlsSessionStore();
  TlsSessionStore(const TlsSessionStore&) = delete;
  TlsSessionStore& operator=(const TlsSessionStore&) = delete;

  /// The session to offer for `key` when its last full handshake is younger than `period`, with
  /// what that handshake showed in `*info`; null otherwise. The session stays owned by the store
  /// (SSL_set_session takes its own reference).
  ssl_session_st* resumable(const std::string& key, std::chrono::milliseconds period,
                            TlsInfo* info);
  /// A full handshake for `key` completed and showed `info`.
  void full_handshake(const std::string& key, const TlsInfo& info);
  /// The server issued a session for `key`; the store takes the reference.
  void new_session(const std::string& key, ssl_session_st* session);
  std::size_t size() const;

 private:
  struct Entry;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

/// Client TLS contexts, one per distinct setting (the CA file), created on first use and reused:
/// OpenSSL 3 makes creating a context and loading a certificate store expensive, far too much to
/// repeat per connection. Contexts allow TLS 1.2 and 1.3 and never fail a handshake on
/// verification; probers check the verification result themselves so that the certificate is
/// reported either way. Thread-safe.
class TlsContextCache {
 public:
  TlsContextCache();
  ~TlsContextCache();
  TlsContextCache(const TlsContextCache&) = delete;
  TlsContextCache& operator=(const TlsContextCache&) = delete;

  /// The context for `options` (only ca_file matters). Returns null and sets `*error` (if not
  /// null) when the context cannot be built, e.g. an unreadable ca_file; failures are not cached,
  /// so a CA file that appears later is picked up.
  std::shared_ptr<boost::asio::ssl::context> get(const TlsOptions& options, std::string* error);

  /// Drops every context, e.g. on reload, so that changed CA files are read again.
  void clear();

  /// Number of cached contexts.
  std::size_t size() const;

  /// The sessions of every context of this cache.
  TlsSessionStore& sessions() { return sessions_; }

 private:
  TlsSessionStore sessions_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> contexts_;
};

}  // namespace kscprobe
