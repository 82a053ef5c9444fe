#pragma once
// Text from OpenSSL, for the probers and the KSC client alike: the reason of the last error and
// a certificate's SHA-256 fingerprint.
#include <openssl/x509.h>

#include <string>

namespace kscprobe {

/// The first error on OpenSSL's queue, as text ("unknown error" when empty); clears the queue.
std::string openssl_error_text();

/// The SHA-256 fingerprint of `cert`: 64 lowercase hex digits; empty when it cannot be computed.
std::string sha256_fingerprint(X509* cert);

}  // namespace kscprobe
