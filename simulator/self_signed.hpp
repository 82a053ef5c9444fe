#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace kscprobe::sim {

/// Key algorithm of a generated certificate.
enum class KeyType { ec_p256, rsa2048 };

/// What to put in a generated certificate.
struct CertOptions {
  std::string common_name = "kscprobe-sim";
  /// Subject alternative names of type DNS.
  std::vector<std::string> dns_names;
  /// Subject alternative names of type IP (IPv4 or IPv6 text form).
  std::vector<std::string> ip_addresses;
  /// Validity from "now"; 397 days by default, like KSC's klserver.cer.
  std::chrono::seconds valid_for = std::chrono::hours(24 * 397);
  /// notBefore relative to now; slightly in the past to tolerate clock skew.
  std::chrono::seconds not_before_offset{-60};
  KeyType key = KeyType::ec_p256;
};

/// A certificate with its private key, both PEM, and the facts a prober reports about it.
struct Credentials {
  std::string cert_pem;
  std::string key_pem;
  /// Lowercase hex of SHA-256 over the DER certificate.
  std::string fingerprint_sha256;
  /// notAfter, unix seconds.
  std::int64_t not_after = 0;
  /// Subject in RFC 2253 form, e.g. "CN=ksc01".
  std::string subject;
};

/// A self-signed leaf certificate (not a CA). Throws std::runtime_error on OpenSSL failure.
Credentials make_self_signed(const CertOptions& options);

/// A self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign, cRLSign).
/// Throws std::runtime_error on OpenSSL failure.
Credentials make_ca(const CertOptions& options);

/// A leaf certificate issued by `ca` (as returned by make_ca), with the SANs of `options`.
/// Throws std::runtime_error on OpenSSL failure or an unusable CA.
Credentials make_signed_by(const Credentials& ca, const CertOptions& options);

}  // namespace kscprobe::sim
