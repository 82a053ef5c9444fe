#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace boost::asio::ssl {
class context;
}

namespace kscprobe {

/// What the HTTP listener enforces: TLS (optionally mutual) and basic auth.
struct WebSecurity {
  std::shared_ptr<boost::asio::ssl::context> tls;          // null: plain HTTP
  std::vector<std::pair<std::string, std::string>> users;  // user -> bcrypt hash; empty: open
  bool client_certificates = false;

  /// Checks an Authorization header. Successful bcrypt checks are remembered (by a SHA-256 of
  /// user, password and hash), since bcrypt costs tens of milliseconds per check by design.
  bool authorized(std::string_view authorization_header) const;

 private:
  mutable std::unordered_set<std::string> verified_;
};

/// Builds the TLS context and user list of `web`. Returns false with a message naming the file.
bool build_web_security(const WebConfig& web, std::shared_ptr<const WebSecurity>* out,
                        std::string* error);

/// Reads an exporter-toolkit web configuration file (YAML: tls_server_config, basic_auth_users),
/// collecting every error as file:line:column.
bool load_web_config_file(const std::string& path, WebConfig* out,
                          std::vector<ConfigError>* errors);

/// True if `password` matches the bcrypt `hash` ($2a$, $2b$, $2y$).
bool bcrypt_verify(std::string_view password, const std::string& hash);
/// A new bcrypt hash of `password` with 2^cost rounds (for tests and a future CLI helper).
std::string bcrypt_hash(std::string_view password, int cost);

}  // namespace kscprobe
