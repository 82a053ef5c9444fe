#include "collectors/tls_prober.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <ctime>
#include <string>

#include "collectors/address.hpp"
#include "collectors/connect.hpp"
#include "collectors/openssl_text.hpp"
#include "collectors/tls_context_cache.hpp"
#include "collectors/tls_handshake.hpp"
#include "platform/platform.hpp"

namespace kscprobe {
namespace detail {
namespace {

namespace asio = boost::asio;

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
  return platform::utc_seconds(&tm);
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
  std::string name = spec.options().tls.server_name;
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
  auto context = cache.get(run.spec.options().tls, &error);
  if (!context) run.fail(Reason::tls, error);
  return context;
}

namespace {

// A session is only offered to the very check that got it: same address, port, name and trust.
std::string session_key(const CheckSpec& spec, const std::string& name) {
  std::string key = spec.address.str();
  key += '\n';
  key += std::to_string(spec.port);
  key += '\n';
  key += name;
  key += '\n';
  key += spec.options().tls.ca_file;
  key += '\n';
  key += spec.options().tls.fingerprint_sha256;
  return key;
}

// TLS 1.3 servers issue sessions after the handshake (NewSessionTicket), which a probe that
// closes at once never reads: after a full handshake, read for a moment so the next probes can
// resume. Ends as soon as a session arrives, or after at most 250 ms (within the deadline).
asio::awaitable<void> wait_for_session(ProbeRun& run, TlsStream& stream, TlsSessionTarget& target) {
  auto left = run.deadline - ProbeClock::now() - std::chrono::milliseconds(20);
  auto wait = std::min<ProbeClock::duration>(left, std::chrono::milliseconds(250));
  if (wait <= ProbeClock::duration::zero()) co_return;
  auto ex = co_await asio::this_coro::executor;
  auto alive = std::make_shared<bool>(true);
  auto cancel = [&stream, alive] {
    if (!*alive) return;
    boost::system::error_code ignored;
    stream.next_layer().cancel(ignored);
  };
  // Called from inside OpenSSL while the read is being processed: cancel once it is pending
  // again.
  target.on_session = [ex, cancel] { asio::post(ex, cancel); };
  asio::steady_timer timer(ex, wait);
  timer.async_wait([cancel](boost::system::error_code ec) {
    if (!ec) cancel();
  });
  char byte;
  co_await stream.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
  *alive = false;
  target.on_session = nullptr;
  timer.cancel();
}

}  // namespace

void keep_session(TlsStream& stream) {
  SSL_set_shutdown(stream.native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

asio::awaitable<bool> tls_handshake(ProbeRun& run, TlsStream& stream) {
  SSL* ssl = stream.native_handle();
  const TlsOptions& options = run.spec.options().tls;
  std::string name = server_name_of(run.spec);
  if (!name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
  // The hostname becomes part of chain verification, whose result is read after the handshake.
  if (!options.ca_file.empty() && !name.empty()) SSL_set1_host(ssl, name.c_str());

  // Session resumption, for scheduled probes: offer the check's session while its last full
  // handshake is recent enough, and keep any session the server issues.
  TlsSessionTarget* target = nullptr;
  TlsInfo remembered;
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(
      run.spec.options().tls_full_handshake_interval);
  if (period.count() > 0 && run.env.tls) {
    target = new TlsSessionTarget{&run.env.tls->sessions(), session_key(run.spec, name)};
    SSL_set_ex_data(ssl, tls_session_target_index(), target);  // freed with the SSL object
    if (auto* session = target->store->resumable(target->key, period, &remembered)) {
      // Offered as a copy: an OpenSSL client marks a TLS 1.3 session it resumed as used up, yet
      // servers with stateless tickets (OpenSSL's and Go's defaults) accept it again, and one
      // session per full handshake period is all a probe needs.
      if (SSL_SESSION* copy = SSL_SESSION_dup(session)) {
        SSL_set_session(ssl, copy);
        SSL_SESSION_free(copy);  // the SSL object holds its own reference
      }
    }
  }

  run.begin(Phase::tls);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client,
                                              asio::as_tuple(asio::use_awaitable));
  if (ec) {
    run.fail(ec);
    co_return false;
  }
  run.end_phase();

  TlsInfo& info = run.result.tls.emplace();
  if (target && SSL_session_reused(ssl)) {
    // The server accepted the session of the last full handshake, so it still holds the keys
    // of that handshake: its certificate and verification stand as they were then.
    info = remembered;
    info.version = SSL_get_version(ssl);
    info.resumed = true;
    if ((!options.ca_file.empty() || !options.fingerprint_sha256.empty()) && !info.verified) {
      keep_session(stream);
      run.fail(Reason::tls,
               "certificate not trusted (at the last full handshake): " + info.verify_error);
      co_return false;
    }
    co_return true;
  }
  info.version = SSL_get_version(ssl);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    info.verify_error = "no server certificate";
    run.fail(Reason::tls, "peer sent no certificate");
    co_return false;
  }
  info.fingerprint_sha256 = sha256_fingerprint(cert);
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
  if (target) {
    target->store->full_handshake(target->key, info);
    if (!target->received && SSL_version(ssl) == TLS1_3_VERSION &&
        run.spec.transport == Transport::tls)
      co_await wait_for_session(run, stream, *target);
  }
  if (!failure.empty()) {
    // The handshake itself went well: the session stays usable for the next probes, which
    // report the same verdict until the next full handshake.
    keep_session(stream);
    run.fail(Reason::tls, std::move(failure));
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> over_tls(ProbeRun& run,
                               std::function<asio::awaitable<bool>(TlsStream&)> use) {
  auto context = tls_context_for(run);
  if (!context) co_return;
  TlsStream stream(co_await asio::this_coro::executor, *context);
  AbortOnDeadline guard(run, stream.next_layer());
  if (!co_await resolve_and_connect(run, stream.next_layer())) co_return;
  if (!co_await tls_handshake(run, stream)) co_return;
  if (co_await use(stream)) keep_session(stream);
}

namespace {

asio::awaitable<void> tls_body(ProbeRun& run) {
  co_await over_tls(run, [&run](TlsStream&) -> asio::awaitable<bool> {
    // No close_notify exchange: the completed handshake is the liveness signal, and waiting
    // for the peer's close would only add a round trip (or a stall) to every probe.
    run.succeed(std::string(run.result.tls->version) +
                (run.result.tls->resumed ? " session resumed" : " handshake completed"));
    co_return true;
  });
}

}  // namespace
}  // namespace detail

boost::asio::awaitable<ProbeResult> probe_tls(const CheckSpec& spec, ProbeEnv& env) {
  return detail::run_probe_body(spec, env, &detail::tls_body);
}

}  // namespace kscprobe
