// [web]: the listener's TLS and basic auth (--web.config.file replaces it: daemon/web).
#include "config/load/walk.hpp"

namespace kscprobe::load {

namespace {

constexpr std::string_view kWebKeys[] = {"tls_cert_file", "tls_key_file", "tls_client_ca_file",
                                         "tls_min_version", "basic_auth_users"};

}  // namespace

void Loader::load_web(const toml::table& t, WebConfig& web) {
  const std::string context = "[web]";
  reject_unknown_keys(t, kWebKeys, context);
  if (const toml::node* n = t.get("tls_cert_file"))
    if (auto f = readable_file(*n, "tls_cert_file", context)) web.tls_cert_file = *f;
  if (const toml::node* n = t.get("tls_key_file"))
    if (auto f = readable_file(*n, "tls_key_file", context)) web.tls_key_file = *f;
  if (const toml::node* n = t.get("tls_client_ca_file"))
    if (auto f = readable_file(*n, "tls_client_ca_file", context)) web.tls_client_ca_file = *f;
  if (const toml::node* n = t.get("tls_min_version")) {
    if (auto v = string_value(*n, "tls_min_version", context)) {
      if (*v != "TLS12" && *v != "TLS13") {
        error(n->source(), in(context, "tls_min_version " + quote(*v) + " must be TLS12 or TLS13"));
      } else {
        web.tls_min_version = *v;
      }
    }
  }
  const toml::node* cert = t.get("tls_cert_file");
  const toml::node* key = t.get("tls_key_file");
  if (cert && !key) error(cert->source(), in(context, "tls_cert_file needs tls_key_file"));
  if (key && !cert) error(key->source(), in(context, "tls_key_file needs tls_cert_file"));
  if (const toml::node* ca = t.get("tls_client_ca_file"); ca && !cert)
    error(ca->source(), in(context, "tls_client_ca_file needs tls_cert_file and tls_key_file"));
  if (const toml::node* n = t.get("basic_auth_users")) {
    const auto* users = n->as_table();
    if (!users) {
      error(n->source(), in(context,
                            "basic_auth_users must be a table of user = \"bcrypt hash\", "
                            "not " +
                                std::string(type_name(*n))));
    } else {
      for (auto&& [user, hash] : *users) {
        auto h = string_value(hash, "basic_auth_users." + std::string(user.str()), context);
        if (!h) continue;
        if (user.str().empty() || user.str().find(':') != std::string_view::npos) {
          error(user.source(), in(context, "user name " + quote(user.str()) +
                                               " must not be empty or contain ':'"));
          continue;
        }
        if (h->size() != 60 || (*h)[0] != '$' || (*h)[1] != '2' || (*h)[3] != '$') {
          error(hash.source(), in(context, "password of " + quote(user.str()) +
                                               " must be a bcrypt hash ($2y$..., 60 characters), "
                                               "e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"));
          continue;
        }
        web.basic_auth_users.emplace_back(std::string(user.str()), *h);
      }
    }
  }
}

}  // namespace kscprobe::load
