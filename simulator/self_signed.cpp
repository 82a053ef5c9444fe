#include "simulator/self_signed.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <stdexcept>

#include "platform/platform.hpp"

namespace kscprobe::sim {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using X509Ptr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;
using BnPtr = std::unique_ptr<BIGNUM, Free>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free>;

// OpenSSL keeps a per-thread error queue; draining it into the message both explains the failure
// and keeps stale errors from confusing the next TLS operation on this thread.
[[noreturn]] void fail(const std::string& what) {
  std::string msg = "certificate generation: " + what;
  unsigned long code = 0;
  bool first = true;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    msg += first ? ": " : "; ";
    msg += buf;
    first = false;
  }
  throw std::runtime_error(msg);
}

void check(int ok, const char* what) {
  if (ok <= 0) fail(what);
}

PkeyPtr generate_key(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::ec_p256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::rsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
  }
  if (key == nullptr) fail("key generation");
  return PkeyPtr(key);
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len > 0 ? len : 0));
}

std::string hex_lower(const unsigned char* data, unsigned len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext) fail("extension " + std::string(OBJ_nid2sn(nid)) + "=" + value);
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

std::string san_value(const CertOptions& options) {
  std::string san;
  for (const auto& dns : options.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + dns;
  for (const auto& ip : options.ip_addresses) san += (san.empty() ? "IP:" : ",IP:") + ip;
  return san;
}

// Builds the certificate body shared by every kind: version, random serial, validity, subject.
X509Ptr new_cert(const CertOptions& options, EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (!cert) fail("X509_new");
  check(X509_set_version(cert.get(), 2), "X509_set_version");  // v3

  // 127 random bits keeps the serial positive and within RFC 5280's 20 octets.
  BnPtr serial(BN_new());
  if (!serial) fail("BN_new");
  check(BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr)
    fail("serial number");

  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), options.not_before_offset.count()) ==
      nullptr)
    fail("notBefore");
  if (X509_gmtime_adj(X509_getm_notAfter(cert.get()), options.valid_for.count()) == nullptr)
    fail("notAfter");

  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(
            name, "CN", MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(options.common_name.c_str()), -1, -1, 0),
        "subject CN");
  check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");
  return cert;
}

Credentials finish(X509* cert, EVP_PKEY* cert_key, EVP_PKEY* signing_key) {
  if (X509_sign(cert, signing_key, EVP_sha256()) == 0) fail("X509_sign");

  Credentials out;
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio) fail("BIO_new");
  check(PEM_write_bio_X509(cert_bio.get(), cert), "PEM_write_bio_X509");
  out.cert_pem = bio_to_string(cert_bio.get());

  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!key_bio) fail("BIO_new");
  check(PEM_write_bio_PrivateKey(key_bio.get(), cert_key, nullptr, nullptr, 0, nullptr, nullptr),
        "PEM_write_bio_PrivateKey");
  out.key_pem = bio_to_string(key_bio.get());

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  check(X509_digest(cert, EVP_sha256(), md, &md_len), "X509_digest");
  out.fingerprint_sha256 = hex_lower(md, md_len);

  std::tm tm{};
  check(ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm), "ASN1_TIME_to_tm");
  out.not_after = platform::utc_seconds(&tm);

  BioPtr name_bio(BIO_new(BIO_s_mem()));
  if (!name_bio) fail("BIO_new");
  if (X509_NAME_print_ex(name_bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0)
    fail("X509_NAME_print_ex");
  out.subject = bio_to_string(name_bio.get());
  return out;
}

void add_leaf_extensions(X509* cert, X509V3_CTX* ctx, const CertOptions& options,
                         bool has_issuer_key_id) {
  add_ext(cert, ctx, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert, ctx, NID_key_usage,
          options.key == KeyType::rsa2048 ? "critical,digitalSignature,keyEncipherment"
                                          : "critical,digitalSignature");
  add_ext(cert, ctx, NID_ext_key_usage, "serverAuth,clientAuth");
  add_ext(cert, ctx, NID_subject_key_identifier, "hash");
  if (has_issuer_key_id) add_ext(cert, ctx, NID_authority_key_identifier, "keyid:always");
  const std::string san = san_value(options);
  if (!san.empty()) add_ext(cert, ctx, NID_subject_alt_name, san);
}

}  // namespace

Credentials make_self_signed(const CertOptions& options) {
  PkeyPtr key = generate_key(options.key);
  X509Ptr cert = new_cert(options, key.get());
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())), "issuer");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  add_leaf_extensions(cert.get(), &ctx, options, false);
  return finish(cert.get(), key.get(), key.get());
}

Credentials make_ca(const CertOptions& options) {
  PkeyPtr key = generate_key(options.key);
  X509Ptr cert = new_cert(options, key.get());
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())), "issuer");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
  add_ext(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  const std::string san = san_value(options);
  if (!san.empty()) add_ext(cert.get(), &ctx, NID_subject_alt_name, san);
  return finish(cert.get(), key.get(), key.get());
}

Credentials make_signed_by(const Credentials& ca, const CertOptions& options) {
  BioPtr ca_cert_bio(BIO_new_mem_buf(ca.cert_pem.data(), static_cast<int>(ca.cert_pem.size())));
  if (!ca_cert_bio) fail("BIO_new_mem_buf");
  X509Ptr ca_cert(PEM_read_bio_X509(ca_cert_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_cert) fail("CA certificate does not parse");
  BioPtr ca_key_bio(BIO_new_mem_buf(ca.key_pem.data(), static_cast<int>(ca.key_pem.size())));
  if (!ca_key_bio) fail("BIO_new_mem_buf");
  PkeyPtr ca_key(PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_key) fail("CA key does not parse");
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1)
    fail("CA key does not match the CA certificate");

  PkeyPtr key = generate_key(options.key);
  X509Ptr cert = new_cert(options, key.get());
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())), "issuer");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert.get(), cert.get(), nullptr, nullptr, 0);
  add_leaf_extensions(cert.get(), &ctx, options, true);
  return finish(cert.get(), key.get(), ca_key.get());
}

}  // namespace kscprobe::sim
