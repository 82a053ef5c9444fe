// The self-contained bcrypt used on Windows (bcrypt::portable_crypt), checked against published
// vectors and, on Linux, against libxcrypt's crypt_rn for random passwords and salts.
#include "daemon/web/bcrypt.hpp"

#include <gtest/gtest.h>

#ifndef _WIN32
#include <crypt.h>
#endif

#include <random>
#include <string>
#include <vector>

using namespace kscprobe;

namespace {

struct Vector {
  const char* hash;
  std::string password;
};

// crypt_blowfish's test vectors (also libxcrypt's): $2a$ with its sign-extension
// countermeasure, $2x$ (the old bug, for verification only), $2y$, 8-bit and 72+ byte keys.
std::vector<Vector> known_vectors() {
  std::string aa(72, '\252'), a55;
  for (int i = 0; i < 36; ++i) a55 += "\252\125";
  return {
      {"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
      {"$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK", "U*U*"},
      {"$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a", "U*U*U"},
      {"$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
       "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 "
       "are ignored"},
      // Octal escapes: \243 is 0xa3, \377 is 0xff.
      {"$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e", "\243"},
      {"$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq", "\243"},
      {"$2a$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq", "\243"},
      {"$2x$05$/OK.fbVrR/bpIqNJ5ianF.o./n25XVfn6oAPaUvHe.Csk4zRfsYPi", "1\243345"},
      {"$2x$05$/OK.fbVrR/bpIqNJ5ianF.o./n25XVfn6oAPaUvHe.Csk4zRfsYPi", "\377\243345"},
      {"$2y$05$/OK.fbVrR/bpIqNJ5ianF.o./n25XVfn6oAPaUvHe.Csk4zRfsYPi",
       "\377\24334\377\377\377\243345"},
      {"$2a$05$/OK.fbVrR/bpIqNJ5ianF.ZC1JEJ8Z4gPfpe1JOr/oyPXTWl9EFd.",
       "\377\24334\377\377\377\243345"},
      {"$2a$05$/OK.fbVrR/bpIqNJ5ianF.nRht2l/HRhr6zmCp9vYUvvsqynflf9e", "\377\243345"},
      {"$2y$05$/OK.fbVrR/bpIqNJ5ianF.6IflQkJytoRVc1yuaNtHfiuq.FRlSIS", "\243ab"},
      {"$2x$05$6bNw2HLQYeqHYyBfLMsv/OiwqTymGIGzFsA4hOTWebfehXHNprcAS", "\321\221"},
      {"$2x$05$6bNw2HLQYeqHYyBfLMsv/O9LIGgn8OMzuDoHfof8AQimSGfcSWxnS", "\320\301\322\317\314\330"},
      {"$2a$05$/OK.fbVrR/bpIqNJ5ianF.swQOIzjOiJ9GHEPuhEkvqrUyvWhEMx6",
       aa + "chars after 72 are ignored as usual"},
      {"$2a$05$/OK.fbVrR/bpIqNJ5ianF.R9xrDjiycxMbQE2bp.vgqlYpW5wx2yy", a55},
      {"$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy", ""},
  };
}

}  // namespace

TEST(Bcrypt, PortableMatchesPublishedVectors) {
  for (const auto& v : known_vectors()) {
    EXPECT_EQ(bcrypt::portable_crypt(v.password, v.hash), v.hash);
    EXPECT_EQ(bcrypt::crypt(v.password, v.hash), v.hash);
    // The setting alone (29 characters) gives the same hash.
    EXPECT_EQ(bcrypt::portable_crypt(v.password, std::string(v.hash, 29)), v.hash);
  }
}

TEST(Bcrypt, PortableRejectsWhatIsNotABcryptSetting) {
  const std::string salt = "abcdefghijklmnopqrstuu";
  EXPECT_EQ(bcrypt::portable_crypt("pw", "$2b$03$" + salt), "");  // cost below 4
  EXPECT_EQ(bcrypt::portable_crypt("pw", "$2b$32$" + salt), "");  // cost above 31
  EXPECT_EQ(bcrypt::portable_crypt("pw", "$2c$05$" + salt), "");  // unknown variant
  EXPECT_EQ(bcrypt::portable_crypt("pw", "$2b$5$$" + salt), "");
  EXPECT_EQ(bcrypt::portable_crypt("pw", "$2b$05$abcdefghijklmnopqrstu"), "");  // short salt
  EXPECT_EQ(bcrypt::portable_crypt("pw", "$2b$05$abcdefghij!lmnopqrstuu"), "");
  EXPECT_EQ(bcrypt::portable_crypt("pw", "$1$abcdefgh$abcdefghijklmnopqrstuv"), "");
  EXPECT_EQ(bcrypt::portable_crypt("pw", ""), "");
  EXPECT_EQ(bcrypt::make_setting(3, {}), "");
  EXPECT_EQ(bcrypt::make_setting(10, {}), "$2b$10$......................");
}

#ifndef _WIN32
TEST(Bcrypt, PortableMatchesLibxcrypt) {
  std::mt19937 rng(20240605);
  const char variants[] = "abxy";
  for (int i = 0; i < 160; ++i) {
    std::array<unsigned char, 16> salt;
    for (auto& b : salt) b = static_cast<unsigned char>(rng());
    std::string setting = bcrypt::make_setting(4 + (i % 8 == 0), salt);
    setting[2] = variants[i % 4];
    // A last salt character with bits that bcrypt ignores: the output canonicalises it.
    if (i % 5 == 0) setting[28] = "./Aaz09"[rng() % 7];
    std::string password;
    std::size_t len = i < 80 ? static_cast<std::size_t>(i) : rng() % 100;
    for (std::size_t k = 0; k < len; ++k)
      password += static_cast<char>(i % 2 ? 1 + rng() % 255 : 32 + rng() % 95);
    crypt_data data{};
    const char* expected = crypt_rn(password.c_str(), setting.c_str(), &data, sizeof data);
    ASSERT_NE(expected, nullptr);
    EXPECT_EQ(bcrypt::portable_crypt(password, setting), expected) << setting;
  }
}
#endif
