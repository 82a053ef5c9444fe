#include "daemon/web/web_security.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <boost/asio/ssl/context.hpp>
#include <cstring>
#include <filesystem>

#include "config/base64.hpp"
#include "config/yaml_file.hpp"
#include "daemon/web/bcrypt.hpp"

namespace kscprobe {

namespace {

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace

bool bcrypt_verify(std::string_view password, const std::string& hash) {
  if (hash.size() < 7 || hash[0] != '$' || hash[1] != '2') return false;
  std::string out = bcrypt::crypt(password, hash);
  if (out.empty()) return false;
  // Constant-time comparison of equal-length strings.
  std::size_t len = out.size();
  if (len != hash.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < len; ++i) diff |= static_cast<unsigned char>(out[i] ^ hash[i]);
  return diff == 0;
}

std::string bcrypt_hash(std::string_view password, int cost) {
  std::array<unsigned char, 16> salt{};
  if (cost < 4 || cost > 31 || RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1)
    return {};
  return bcrypt::crypt(password, bcrypt::make_setting(cost, salt));
}

bool WebSecurity::authorized(std::string_view header) const {
  if (users.empty()) return true;
  constexpr std::string_view kBasic = "Basic ";
  if (header.size() <= kBasic.size() || header.substr(0, kBasic.size()) != kBasic) return false;
  // A Basic credential longer than this is not one this endpoint issues (RFC 7617's token68).
  constexpr std::size_t kMaxCredential = 4096;
  const std::string_view credential = header.substr(kBasic.size());
  if (credential.size() > kMaxCredential) return false;
  std::optional<std::string> read = base64_decode(credential);
  if (!read) return false;
  const std::string& decoded = *read;
  auto colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  std::string user = decoded.substr(0, colon);
  std::string password = decoded.substr(colon + 1);
  for (const auto& [name, hash] : users) {
    if (name != user) continue;
    std::string key = sha256_hex(user + '\0' + password + '\0' + hash);
    if (verified_.count(key)) return true;
    if (!bcrypt_verify(password, hash)) return false;
    if (verified_.size() > 1024) verified_.clear();
    verified_.insert(key);
    return true;
  }
  return false;
}

bool build_web_security(const WebConfig& web, std::shared_ptr<const WebSecurity>* out,
                        std::string* error) {
  auto sec = std::make_shared<WebSecurity>();
  sec->users = web.basic_auth_users;
  if (web.tls_enabled()) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    SSL_CTX_set_min_proto_version(ctx->native_handle(),
                                  web.tls_min_version == "TLS13" ? TLS1_3_VERSION : TLS1_2_VERSION);
    ctx->use_certificate_chain_file(web.tls_cert_file, ec);
    if (ec) {
      *error = "cannot load tls_cert_file \"" + web.tls_cert_file + "\": " + ec.message();
      return false;
    }
    ctx->use_private_key_file(web.tls_key_file, ssl::context::pem, ec);
    if (ec) {
      *error = "cannot load tls_key_file \"" + web.tls_key_file + "\": " + ec.message();
      return false;
    }
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      *error = "tls_key_file \"" + web.tls_key_file + "\" does not match tls_cert_file \"" +
               web.tls_cert_file + "\"";
      return false;
    }
    if (!web.tls_client_ca_file.empty()) {
      ctx->load_verify_file(web.tls_client_ca_file, ec);
      if (ec) {
        *error =
            "cannot load tls_client_ca_file \"" + web.tls_client_ca_file + "\": " + ec.message();
        return false;
      }
      ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      sec->client_certificates = true;
    }
    sec->tls = std::move(ctx);
  }
  *out = std::move(sec);
  return true;
}

bool load_web_config_file(const std::string& path, WebConfig* out,
                          std::vector<ConfigError>* errors) {
  auto err = [&](const YAML::Mark& m, std::string msg) {
    errors->push_back({yaml_position(path, m), std::move(msg)});
  };
  YAML::Node root;
  if (!load_yaml_file(path, "the web configuration file", &root, errors)) return false;
  WebConfig web;
  std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto file_of = [&](const YAML::Node& n, const char* key, std::string* dst) {
    if (!n.IsScalar()) {
      err(n.Mark(), std::string(key) + " must be a file path");
      return;
    }
    std::filesystem::path p(n.as<std::string>());
    if (p.is_relative()) p = base / p;
    if (!std::filesystem::exists(p)) {
      err(n.Mark(), std::string(key) + " \"" + p.string() + "\" does not exist");
      return;
    }
    *dst = p.string();
  };
  if (root.IsNull()) {
    *out = web;
    return true;
  }
  if (!root.IsMap()) {
    err(root.Mark(), "the web configuration must be a mapping");
    return false;
  }
  std::size_t before = errors->size();
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "tls_server_config") {
      if (!v.IsMap()) {
        err(v.Mark(), "tls_server_config must be a mapping");
        continue;
      }
      std::string client_auth;
      for (const auto& t : v) {
        std::string k = t.first.as<std::string>();
        if (k == "cert_file")
          file_of(t.second, "cert_file", &web.tls_cert_file);
        else if (k == "key_file")
          file_of(t.second, "key_file", &web.tls_key_file);
        else if (k == "client_ca_file")
          file_of(t.second, "client_ca_file", &web.tls_client_ca_file);
        else if (k == "client_auth_type")
          client_auth = t.second.as<std::string>("");
        else if (k == "min_version") {
          std::string mv = t.second.as<std::string>("");
          if (mv != "TLS12" && mv != "TLS13")
            err(t.second.Mark(), "min_version \"" + mv + "\" must be TLS12 or TLS13");
          else
            web.tls_min_version = mv;
        } else {
          err(t.first.Mark(), "tls_server_config: unknown key \"" + k +
                                  "\" (cert_file, key_file, client_ca_file, client_auth_type, "
                                  "min_version)");
        }
      }
      if (!client_auth.empty() && client_auth != "RequireAndVerifyClientCert" &&
          client_auth != "NoClientCert")
        err(v.Mark(), "client_auth_type \"" + client_auth +
                          "\" is not supported (RequireAndVerifyClientCert or NoClientCert)");
      if (client_auth == "RequireAndVerifyClientCert" && web.tls_client_ca_file.empty())
        err(v.Mark(), "client_auth_type RequireAndVerifyClientCert needs client_ca_file");
      if (client_auth == "NoClientCert") web.tls_client_ca_file.clear();
      if (static_cast<bool>(v["cert_file"]) != static_cast<bool>(v["key_file"]))
        err(v.Mark(), "tls_server_config needs both cert_file and key_file");
    } else if (key == "basic_auth_users") {
      if (!v.IsMap()) {
        err(v.Mark(), "basic_auth_users must be a mapping of user: bcrypt hash");
        continue;
      }
      for (const auto& u : v) {
        std::string user = u.first.as<std::string>();
        std::string hash = u.second.IsScalar() ? u.second.as<std::string>() : "";
        if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2') {
          err(u.second.Mark(), "password of \"" + user + "\" must be a bcrypt hash");
          continue;
        }
        web.basic_auth_users.emplace_back(user, hash);
      }
    } else if (key == "http_server_config") {
      // exporter-toolkit's HTTP/2 and header options: nothing to configure here.
    } else {
      err(kv.first.Mark(),
          "unknown key \"" + key + "\" (tls_server_config, basic_auth_users, http_server_config)");
    }
  }
  if (errors->size() != before) return false;
  *out = std::move(web);
  return true;
}

}  // namespace kscprobe
