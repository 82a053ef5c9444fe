#include "daemon/web/bcrypt.hpp"

#ifndef _WIN32
#include <crypt.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace kscprobe::bcrypt {

namespace {

using Word = std::uint32_t;

// The P-array (18 words) followed by the four S-boxes (256 words each).
constexpr std::size_t kStateWords = 18 + 4 * 256;
using State = std::array<Word, kStateWords>;

constexpr char kAlphabet[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

int decode_char(char c) {
  const char* p = c ? std::strchr(kAlphabet, c) : nullptr;
  return p ? static_cast<int>(p - kAlphabet) : -1;
}

// bcrypt's own base64: its alphabet, most significant bits first, no padding.
std::string encode(const unsigned char* src, std::size_t size) {
  std::string out;
  for (std::size_t i = 0; i < size; i += 3) {
    unsigned c1 = src[i];
    out += kAlphabet[c1 >> 2];
    c1 = (c1 & 0x03) << 4;
    if (i + 1 >= size) {
      out += kAlphabet[c1];
      break;
    }
    unsigned c2 = src[i + 1];
    out += kAlphabet[c1 | (c2 >> 4)];
    c1 = (c2 & 0x0f) << 2;
    if (i + 2 >= size) {
      out += kAlphabet[c1];
      break;
    }
    c2 = src[i + 2];
    out += kAlphabet[c1 | (c2 >> 6)];
    out += kAlphabet[c2 & 0x3f];
  }
  return out;
}

bool decode(std::string_view src, unsigned char* dst, std::size_t size) {
  std::size_t in = 0, out = 0;
  auto next = [&](int* v) {
    *v = in < src.size() ? decode_char(src[in++]) : -1;
    return *v >= 0;
  };
  while (out < size) {
    int c1, c2, c3, c4;
    if (!next(&c1) || !next(&c2)) return false;
    dst[out++] = static_cast<unsigned char>((c1 << 2) | ((c2 & 0x30) >> 4));
    if (out >= size) break;
    if (!next(&c3)) return false;
    dst[out++] = static_cast<unsigned char>(((c2 & 0x0f) << 4) | ((c3 & 0x3c) >> 2));
    if (out >= size) break;
    if (!next(&c4)) return false;
    dst[out++] = static_cast<unsigned char>(((c3 & 0x03) << 6) | c4);
  }
  return true;
}

// Blowfish's initial state is the fractional part of pi in hexadecimal, word after word.
// Rather than a table of 1042 constants, it is computed once with Machin's formula
// pi = 16 atan(1/5) - 4 atan(1/239) in fixed point (base 2^32, three guard words), and its first
// and last words are checked against the published tables.
std::unique_ptr<State> compute_initial_state() {
  constexpr std::size_t n = 1 + kStateWords + 3;  // integer part, fraction, guard words
  std::vector<Word> sum(n), term(n), quot(n);
  // x[from..n) /= d into dst; the words before `from` are zero.
  auto divide = [](const std::vector<Word>& x, Word d, std::size_t from, std::vector<Word>& dst) {
    std::uint64_t r = 0;
    for (std::size_t i = from; i < n; ++i) {
      std::uint64_t cur = (r << 32) | x[i];
      dst[i] = static_cast<Word>(cur / d);
      r = cur % d;
    }
  };
  auto accumulate = [&sum](const std::vector<Word>& x, bool add, std::size_t from) {
    std::uint64_t carry = 0;
    for (std::size_t i = n; i-- > 0;) {
      if (i < from && carry == 0) break;
      std::uint64_t xi = i >= from ? x[i] : 0;
      if (add) {
        std::uint64_t s = std::uint64_t{sum[i]} + xi + carry;
        sum[i] = static_cast<Word>(s);
        carry = s >> 32;
      } else {
        std::uint64_t s = std::uint64_t{sum[i]} - xi - carry;
        sum[i] = static_cast<Word>(s);
        carry = s >> 63;
      }
    }
  };
  // sum += sign * factor * atan(1/m) = factor * (1/m - 1/(3 m^3) + 1/(5 m^5) - ...)
  auto add_atan = [&](Word m, Word factor, bool positive) {
    std::fill(term.begin(), term.end(), 0);
    term[0] = factor;
    divide(term, m, 0, term);
    std::size_t from = 0;
    for (Word k = 0;; ++k) {
      while (from < n && term[from] == 0) ++from;
      if (from == n) break;
      divide(term, 2 * k + 1, from, quot);
      accumulate(quot, positive == (k % 2 == 0), from);
      divide(term, m * m, from, term);
    }
  };
  add_atan(5, 16, true);
  add_atan(239, 4, false);
  auto state = std::make_unique<State>();
  std::copy(sum.begin() + 1, sum.begin() + 1 + kStateWords, state->begin());
  // P1 and the last word of S4 as printed in Schneier's tables.
  if (sum[0] != 3 || (*state)[0] != 0x243f6a88 || (*state)[kStateWords - 1] != 0x3ac372e6)
    return nullptr;
  return state;
}

const State* initial_state() {
  static std::once_flag once;
  static std::unique_ptr<State> state;
  std::call_once(once, [] { state = compute_initial_state(); });
  return state.get();
}

inline Word feistel(const Word* s, Word x) {
  return ((s[x >> 24] + s[256 + ((x >> 16) & 0xff)]) ^ s[512 + ((x >> 8) & 0xff)]) +
         s[768 + (x & 0xff)];
}

inline void encrypt(const State& st, Word& left, Word& right) {
  const Word* p = st.data();
  const Word* s = st.data() + 18;
  Word l = left ^ p[0], r = right;
  for (int i = 1; i <= 16; i += 2) {
    r ^= feistel(s, l) ^ p[i];
    l ^= feistel(s, r) ^ p[i + 1];
  }
  left = r ^ p[17];
  right = l;
}

// Blowfish's key schedule after the key is XORed into P: the state is replaced, pair by pair,
// by the chained encryption of a zero block; with a salt (EksBlowfish's first expansion), the
// block is XORed with the salt's halves in turn before each encryption.
void expand(State& st, const Word* salt) {
  Word l = 0, r = 0;
  for (std::size_t i = 0; i < kStateWords; i += 2) {
    if (salt) {
      l ^= salt[i & 2];
      r ^= salt[(i & 2) + 1];
    }
    encrypt(st, l, r);
    st[i] = l;
    st[i + 1] = r;
  }
}

// The key as 18 words (its bytes and terminating NUL, repeated), as libxcrypt reads it: $2x$
// reproduces the old sign-extension bug, and $2a$ hashes of keys the bug affected are made
// different on purpose so that they match neither variant (crypt_blowfish's countermeasure).
void key_words(const char* key, bool bug, bool safety, Word expanded[18], Word* p) {
  const char* ptr = key;
  Word sign = 0, diff = 0;
  for (int i = 0; i < 18; ++i) {
    Word correct = 0, buggy = 0;
    for (int j = 0; j < 4; ++j) {
      correct = (correct << 8) | static_cast<unsigned char>(*ptr);
      buggy = (buggy << 8) |
              static_cast<Word>(static_cast<std::int32_t>(static_cast<signed char>(*ptr)));
      if (j) sign |= buggy & 0x80;
      ptr = *ptr ? ptr + 1 : key;
    }
    diff |= correct ^ buggy;
    expanded[i] = bug ? buggy : correct;
    p[i] ^= expanded[i];
  }
  diff |= diff >> 16;
  diff &= 0xffff;
  diff += 0xffff;  // bit 16 set iff the two readings differ
  sign <<= 9;      // bit 16 set iff a byte >= 0x80 was sign-extended into a neighbour
  sign &= ~diff & (safety ? 0x10000u : 0u);
  p[0] ^= sign;
}

}  // namespace

std::string portable_crypt(std::string_view password, std::string_view setting) {
  if (setting.size() < 29 || setting[0] != '$' || setting[1] != '2' || setting[3] != '$' ||
      setting[6] != '$')
    return {};
  char variant = setting[2];
  if (variant != 'a' && variant != 'b' && variant != 'x' && variant != 'y') return {};
  if (setting[4] < '0' || setting[4] > '9' || setting[5] < '0' || setting[5] > '9') return {};
  int cost = (setting[4] - '0') * 10 + (setting[5] - '0');
  if (cost < 4 || cost > 31) return {};
  unsigned char salt_bytes[16];
  if (!decode(setting.substr(7, 22), salt_bytes, sizeof salt_bytes)) return {};
  Word salt[4];
  for (int i = 0; i < 4; ++i)
    salt[i] = Word{salt_bytes[4 * i]} << 24 | Word{salt_bytes[4 * i + 1]} << 16 |
              Word{salt_bytes[4 * i + 2]} << 8 | Word{salt_bytes[4 * i + 3]};
  const State* init = initial_state();
  if (!init) return {};

  // EksBlowfishSetup: the key and salt, then 2^cost alternating expansions with each.
  auto st = std::make_unique<State>(*init);
  std::string key(password.substr(0, password.find('\0')));
  Word expanded[18];
  key_words(key.c_str(), variant == 'x', variant == 'a', expanded, st->data());
  expand(*st, salt);
  for (std::uint64_t rounds = std::uint64_t{1} << cost; rounds > 0; --rounds) {
    for (int i = 0; i < 18; ++i) (*st)[i] ^= expanded[i];
    expand(*st, nullptr);
    for (int i = 0; i < 18; ++i) (*st)[i] ^= salt[i & 3];
    expand(*st, nullptr);
  }

  // "OrpheanBeholderScryDoubt", encrypted 64 times; 23 of its 24 bytes are encoded.
  Word text[6] = {0x4f727068, 0x65616e42, 0x65686f6c, 0x64657253, 0x63727944, 0x6f756274};
  for (int i = 0; i < 6; i += 2)
    for (int k = 0; k < 64; ++k) encrypt(*st, text[i], text[i + 1]);
  unsigned char bytes[24];
  for (int i = 0; i < 6; ++i)
    for (int b = 0; b < 4; ++b)
      bytes[4 * i + b] = static_cast<unsigned char>(text[i] >> (24 - 8 * b));
  return std::string(setting.substr(0, 7)) + encode(salt_bytes, 16) + encode(bytes, 23);
}

std::string crypt(std::string_view password, std::string_view setting) {
#ifdef _WIN32
  return portable_crypt(password, setting);
#else
  if (setting.size() < 7 || setting[0] != '$' || setting[1] != '2') return {};
  std::string pw(password.substr(0, password.find('\0')));
  std::string set(setting);
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(pw.c_str(), set.c_str(), data.get(), sizeof(crypt_data));
  return out && out[0] != '*' ? std::string(out) : std::string();
#endif
}

std::string make_setting(int cost, const std::array<unsigned char, 16>& salt) {
  if (cost < 4 || cost > 31) return {};
  char prefix[8];
  std::snprintf(prefix, sizeof prefix, "$2b$%02d$", cost);
  return prefix + encode(salt.data(), salt.size());
}

}  // namespace kscprobe::bcrypt
