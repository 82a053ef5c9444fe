#pragma once
// bcrypt password hashes ($2a$, $2b$, $2x$, $2y$), as crypt(3) computes them: libxcrypt on
// Linux; on Windows, which has no crypt(3), a self-contained implementation of the same
// algorithm (portable_crypt), which the unit tests compare with libxcrypt.
#include <array>
#include <string>
#include <string_view>

namespace kscprobe::bcrypt {

/// The hash string (60 characters: "$2b$10$", 22 salt and 31 hash characters) of `password`
/// under `setting`: a bcrypt hash, or its first 29 characters. Empty when `setting` is not a
/// valid bcrypt setting. The password ends at its first NUL and counts up to 72 bytes.
std::string crypt(std::string_view password, std::string_view setting);

/// The implementation behind crypt() where there is no libxcrypt (Windows). Built on every
/// platform so that it can be tested against libxcrypt.
std::string portable_crypt(std::string_view password, std::string_view setting);

/// A "$2b$NN$" setting with 2^cost rounds (4..31) and the given random salt.
std::string make_setting(int cost, const std::array<unsigned char, 16>& salt);

}  // namespace kscprobe::bcrypt
