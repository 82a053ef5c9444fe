#include "collectors/tls_prober.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <string>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/tls_context_cache.hpp"
#include "collectors/tls_handshake.hpp"

namespace kscprobe {
namespace detail {
namespace {

namespace asio = boost::asio;

std::string sha256_hex(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xF];
  }
  return hex;
}

std::string subject_rfc2253(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  std::string subject;
  if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    if (data != nullptr && length > 0) subject.assign(data, static_cast<std::size_t>(length));
  }
  BIO_free(bio);
  return subject;
}

std::int64_t not_after_unix(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

// Pins are documented as lowercase hex without separators; accept the common "AB:CD:.." spelling
// too rather than report a mismatch for a formatting difference.
std::string normalize_pin(std::string_view pin) {
  std::string out;
  out.reserve(pin.size());
  for (char c : pin) {
    if (c == ':' || c == ' ') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    out += c;
  }
  return out;
}

// The name to send as SNI and check the certificate against: the configured server name, else
// the address when it is a DNS name (an IP literal is not a valid SNI value).
std::string server_name_of(const CheckSpec& spec) {
  std::string name = spec.tls.server_name;
  if (name.empty() && !parse_ip_literal(spec.address)) name = spec.address;
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

}  // namespace

std::shared_ptr<asio::ssl::context> tls_context_for(ProbeRun& run) {
  // A probe without a shared cache (tools, tests) still gets a reused context.
  static TlsContextCache fallback;
  TlsContextCache& cache = run.env.tls ? *run.env.tls : fallback;
  std::string error;
  auto context = cache.get(run.spec.tls, &error);
  if (!context) run.fail(Reason::tls, error);
  return context;
}

asio::awaitable<bool> tls_handshake(ProbeRun& run, TlsStream& stream) {
  SSL* ssl = stream.native_handle();
  const TlsOptions& options = run.spec.tls;
  std::string name = server_name_of(run.spec);
  if (!name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
  // The hostname becomes part of chain verification, whose result is read after the handshake.
  if (!options.ca_file.empty() && !name.empty()) SSL_set1_host(ssl, name.c_str());

  run.begin(Phase::tls);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client,
                                              asio::as_tuple(asio::use_awaitable));
  if (ec) {
    run.fail(ec);
    co_return false;
  }
  run.end_phase();

  TlsInfo& info = run.result.tls.emplace();
  info.version = SSL_get_version(ssl);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    info.verify_error = "no server certificate";
    run.fail(Reason::tls, "peer sent no certificate");
    co_return false;
  }
  info.fingerprint_sha256 = sha256_hex(cert);
  info.subject = subject_rfc2253(cert);
  info.not_after = not_after_unix(cert);

  bool checked = false;
  std::string failure;
  if (!options.ca_file.empty()) {
    checked = true;
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      info.verify_error = X509_verify_cert_error_string(verify);
      failure = "certificate not trusted: " + info.verify_error;
    }
  }
  if (!options.fingerprint_sha256.empty()) {
    checked = true;
    if (normalize_pin(options.fingerprint_sha256) != info.fingerprint_sha256) {
      std::string mismatch = "fingerprint " + info.fingerprint_sha256 + " does not match the pin";
      if (info.verify_error.empty()) {
        info.verify_error = mismatch;
        failure = "certificate " + mismatch;
      } else {
        info.verify_error += "; " + mismatch;
        failure += "; " + mismatch;
      }
    }
  }
  info.verified = checked && failure.empty();
  if (!failure.empty()) {
    run.fail(Reason::tls, std::move(failure));
    co_return false;
  }
  co_return true;
}

namespace {

asio::awaitable<void> tls_body(ProbeRun& run) {
  auto context = tls_context_for(run);
  if (!context) co_return;
  TlsStream stream(co_await asio::this_coro::executor, *context);
  AbortOnDeadline guard(run, stream.next_layer());
  if (!co_await resolve_and_connect(run, stream.next_layer())) co_return;
  if (!co_await tls_handshake(run, stream)) co_return;
  // No close_notify exchange: the completed handshake is the liveness signal, and waiting for
  // the peer's close would only add a round trip (or a stall) to every probe.
  run.succeed(std::string(run.result.tls->version) + " handshake completed");
}

}  // namespace
}  // namespace detail

boost::asio::awaitable<ProbeResult> probe_tls(const CheckSpec& spec, ProbeEnv& env) {
  return detail::run_probe_body(spec, env, &detail::tls_body);
}

}  // namespace kscprobe
