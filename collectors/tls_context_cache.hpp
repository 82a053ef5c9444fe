#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config/config.hpp"

namespace boost::asio::ssl {
class context;
}

namespace kscprobe {

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

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> contexts_;
};

}  // namespace kscprobe
