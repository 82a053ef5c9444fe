#include "config/base64.hpp"

#include <gtest/gtest.h>

namespace kscprobe {
namespace {

// RFC 4648 section 10's test vectors, both ways.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded) << plain;
    auto back = base64_decode(encoded);
    ASSERT_TRUE(back) << encoded;
    EXPECT_EQ(*back, plain);
  }
}

// Every byte value survives the round trip, at each length modulo 3.
TEST(Base64, RoundTripsBinary) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n : {0u, 1u, 2u, 3u, 254u, 255u, 256u}) {
    const std::string in = all.substr(0, n);
    auto out = base64_decode(base64_encode(in));
    ASSERT_TRUE(out) << n;
    EXPECT_EQ(*out, in) << n;
  }
  // The KSCBasic header's shape (ksc_client.cpp): a non-ASCII name in UTF-8.
  EXPECT_EQ(base64_encode("\xc3\xa9t\xc3\xa9"), "w6l0w6k=");
}

TEST(Base64, RejectsWhatIsNotStrictBase64) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "=Zg=", "Zg=a", "Zm9v\n", " Zm9v",
                          "Zm9v Yg==", "Zm-v", "Zm_v", "Zg==Zg==", "\xff\xff\xff\xff"})
    EXPECT_FALSE(base64_decode(bad)) << bad;
}

}  // namespace
}  // namespace kscprobe
