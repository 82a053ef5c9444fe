#include "collectors/tls_context_cache.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

#include "collectors/openssl_text.hpp"
#include "collectors/probe_result.hpp"
#include "collectors/tls_handshake.hpp"

namespace kscprobe {
namespace detail {

int tls_session_target_index() {
  static const int index = SSL_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<TlsSessionTarget*>(ptr);
      });
  return index;
}

}  // namespace detail

namespace {

namespace ssl = boost::asio::ssl;
using detail::tls_session_target_index;
using detail::TlsSessionTarget;

// Called by OpenSSL when the server issues a session (TLS 1.2: during the handshake; TLS 1.3:
// a NewSessionTicket after it). Returns 1 when the store took the reference.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* target = static_cast<TlsSessionTarget*>(SSL_get_ex_data(ssl, tls_session_target_index()));
  if (target == nullptr || target->store == nullptr) return 0;
  target->store->new_session(target->key, session);
  target->received = true;
  if (target->on_session) target->on_session();
  return 1;
}

std::shared_ptr<ssl::context> build(const TlsOptions& options, std::string* error) {
  // Built from a native handle: the ssl::context constructors throw on failure.
  SSL_CTX* native = SSL_CTX_new(TLS_client_method());
  if (native == nullptr) {
    if (error) *error = "cannot create a TLS context: " + openssl_error_text();
    return nullptr;
  }
  auto context = std::make_shared<ssl::context>(native);
  // KSC speaks TLS 1.2 and 1.3; nothing older is worth offering.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(native, 0);
  // KSC certificates are self-signed: the handshake must complete whatever the chain, and the
  // prober reads SSL_get_verify_result afterwards (OpenSSL still verifies in this mode).
  SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  // Sessions are kept per check by TlsSessionStore, not by OpenSSL's own cache (keyed by peer,
  // which is not what a probe means by "the same check").
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(native, &on_new_session);
  if (!options.ca_file.empty()) {
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(native, options.ca_file.c_str(), nullptr) != 1) {
      if (error) *error = "cannot load CA file " + options.ca_file + ": " + openssl_error_text();
      return nullptr;
    }
  }
  return context;
}

}  // namespace

struct TlsSessionStore::Entry {
  SSL_SESSION* session = nullptr;
  TlsInfo info;
  bool full = false;  // info is from a full handshake
  std::chrono::steady_clock::time_point full_at;
  ~Entry() {
    if (session) SSL_SESSION_free(session);
  }
};

TlsSessionStore::TlsSessionStore() = default;
TlsSessionStore::~TlsSessionStore() = default;

ssl_session_st* TlsSessionStore::resumable(const std::string& key, std::chrono::milliseconds period,
                                           TlsInfo* info) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  Entry& e = *it->second;
  if (!e.session || !e.full || std::chrono::steady_clock::now() - e.full_at >= period)
    return nullptr;
  *info = e.info;
  return e.session;
}

void TlsSessionStore::full_handshake(const std::string& key, const TlsInfo& info) {
  std::lock_guard lock(mutex_);
  // Bounded: checks removed by reloads leave entries behind; start afresh past any real estate.
  if (entries_.size() >= 200000 && !entries_.count(key)) entries_.clear();
  auto& e = entries_[key];
  if (!e) e = std::make_unique<Entry>();
  e->info = info;
  e->full = true;
  e->full_at = std::chrono::steady_clock::now();
}

void TlsSessionStore::new_session(const std::string& key, ssl_session_st* session) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[key];
  if (!e) e = std::make_unique<Entry>();
  if (e->session) SSL_SESSION_free(e->session);
  e->session = session;
}

std::size_t TlsSessionStore::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

TlsContextCache::TlsContextCache() = default;
TlsContextCache::~TlsContextCache() = default;

std::shared_ptr<ssl::context> TlsContextCache::get(const TlsOptions& options, std::string* error) {
  {
    std::lock_guard lock(mutex_);
    auto it = contexts_.find(options.ca_file);
    if (it != contexts_.end()) return it->second;
  }
  // Built outside the lock: loading a CA file reads the disk.
  auto context = build(options, error);
  if (!context) return nullptr;
  std::lock_guard lock(mutex_);
  auto [it, inserted] = contexts_.emplace(options.ca_file, std::move(context));
  return it->second;
}

void TlsContextCache::clear() {
  std::lock_guard lock(mutex_);
  contexts_.clear();
}

std::size_t TlsContextCache::size() const {
  std::lock_guard lock(mutex_);
  return contexts_.size();
}

}  // namespace kscprobe
