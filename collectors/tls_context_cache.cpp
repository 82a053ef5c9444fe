#include "collectors/tls_context_cache.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

namespace kscprobe {
namespace {

namespace ssl = boost::asio::ssl;

std::string openssl_error_text() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
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
  // Probes connect once: session caching would only hold memory.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
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
