#include "simulator/self_signed.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

using namespace kscprobe::sim;

namespace {

struct X509Deleter {
  void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr parse_cert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return X509Ptr(cert);
}

EVP_PKEY* parse_key(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

// Hashes the DER encoding directly, not via X509_digest, so the check is independent of the
// code under test.
std::string der_sha256_hex(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  EVP_Digest(der, static_cast<size_t>(len), md, &md_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  std::string hex;
  for (unsigned i = 0; i < md_len; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", md[i]);
    hex += b;
  }
  return hex;
}

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int verify_leaf(X509* leaf, X509* ca, const char* host_ip) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  if (host_ip != nullptr) X509_VERIFY_PARAM_set1_ip_asc(X509_STORE_CTX_get0_param(ctx), host_ip);
  int rc = X509_verify_cert(ctx);
  int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return rc == 1 ? X509_V_OK : (err == X509_V_OK ? -1 : err);
}

}  // namespace

TEST(SelfSigned, EcCertificateParsesAndReportsItsFacts) {
  CertOptions opts;
  opts.common_name = "ksc01";
  opts.dns_names = {"ksc01.example.test"};
  opts.ip_addresses = {"127.77.0.1"};
  const std::int64_t before = now_unix();
  Credentials c = make_self_signed(opts);
  const std::int64_t after = now_unix();

  X509Ptr cert = parse_cert(c.cert_pem);
  ASSERT_TRUE(cert);
  EVP_PKEY* key = parse_key(c.key_pem);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(cert.get(), key), 1);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  EVP_PKEY_free(key);

  EXPECT_EQ(c.fingerprint_sha256, der_sha256_hex(cert.get()));
  EXPECT_EQ(c.fingerprint_sha256.size(), 64u);
  EXPECT_EQ(c.subject, "CN=ksc01");
  const std::int64_t valid = std::chrono::seconds(std::chrono::hours(24 * 397)).count();
  EXPECT_GE(c.not_after, before + valid);
  EXPECT_LE(c.not_after, after + valid);
  EXPECT_EQ(X509_get_version(cert.get()), 2);  // v3
  EXPECT_EQ(X509_check_host(cert.get(), "ksc01.example.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.77.0.1", 0), 1);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  // Self-signed: the signature verifies with its own key.
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1);
}

TEST(SelfSigned, ShortValidityAndRsaKey) {
  CertOptions opts;
  opts.common_name = "webcon";
  opts.valid_for = std::chrono::hours(24 * 10);
  opts.key = KeyType::rsa2048;
  const std::int64_t before = now_unix();
  Credentials c = make_self_signed(opts);
  const std::int64_t after = now_unix();
  X509Ptr cert = parse_cert(c.cert_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(cert.get())), EVP_PKEY_RSA);
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(cert.get())), 2048);
  EXPECT_GE(c.not_after, before + 10 * 86400);
  EXPECT_LE(c.not_after, after + 10 * 86400);
}

TEST(SelfSigned, SerialsAndFingerprintsDiffer) {
  Credentials a = make_self_signed({});
  Credentials b = make_self_signed({});
  EXPECT_NE(a.fingerprint_sha256, b.fingerprint_sha256);
  X509Ptr ca = parse_cert(a.cert_pem);
  X509Ptr cb = parse_cert(b.cert_pem);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(cb.get())),
            0);
}

TEST(SelfSigned, LeafVerifiesAgainstItsCa) {
  CertOptions ca_opts;
  ca_opts.common_name = "kscprobe test CA";
  Credentials ca = make_ca(ca_opts);
  CertOptions leaf_opts;
  leaf_opts.common_name = "ksc-demo";
  leaf_opts.ip_addresses = {"127.77.0.1"};
  Credentials leaf = make_signed_by(ca, leaf_opts);

  X509Ptr ca_cert = parse_cert(ca.cert_pem);
  X509Ptr leaf_cert = parse_cert(leaf.cert_pem);
  ASSERT_TRUE(ca_cert);
  ASSERT_TRUE(leaf_cert);
  EXPECT_EQ(X509_check_ca(ca_cert.get()), 1);
  EXPECT_EQ(leaf.subject, "CN=ksc-demo");
  EXPECT_EQ(leaf.fingerprint_sha256, der_sha256_hex(leaf_cert.get()));
  EXPECT_EQ(verify_leaf(leaf_cert.get(), ca_cert.get(), "127.77.0.1"), X509_V_OK);
  // A wrong IP fails hostname verification, proving the SAN is what is checked.
  EXPECT_EQ(verify_leaf(leaf_cert.get(), ca_cert.get(), "127.77.0.2"),
            X509_V_ERR_IP_ADDRESS_MISMATCH);

  // A leaf from another CA does not verify.
  Credentials other_ca = make_ca(ca_opts);
  X509Ptr other = parse_cert(other_ca.cert_pem);
  EXPECT_NE(verify_leaf(leaf_cert.get(), other.get(), nullptr), X509_V_OK);
}

TEST(SelfSigned, SelfSignedLeafDoesNotVerifyWithoutTrust) {
  Credentials c = make_self_signed({});
  X509Ptr cert = parse_cert(c.cert_pem);
  X509Ptr unrelated = parse_cert(make_ca({}).cert_pem);
  EXPECT_EQ(verify_leaf(cert.get(), unrelated.get(), nullptr),
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
}

TEST(SelfSigned, RejectsMismatchedCa) {
  Credentials ca = make_ca({});
  Credentials other = make_ca({});
  Credentials broken{ca.cert_pem, other.key_pem, "", 0, ""};
  EXPECT_THROW(make_signed_by(broken, {}), std::runtime_error);
  Credentials garbage{"not a pem", "nope", "", 0, ""};
  EXPECT_THROW(make_signed_by(garbage, {}), std::runtime_error);
}
