#include "config/utf8.hpp"

namespace kscprobe {

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  if (i >= s.size()) return 0;
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  // The ranges of RFC 3629 section 4: no overlongs (C0, C1, E0 80..9F, F0 80..8F), no
  // surrogates (ED A0..BF), nothing above U+10FFFF (F4 90.., F5..FF).
  const std::size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                          : c >= 0xe0 && c <= 0xef ? 3
                          : c >= 0xf0 && c <= 0xf4 ? 4
                                                   : 0;
  if (len == 0 || len > s.size() - i) return 0;
  unsigned lo = 0x80, hi = 0xbf;
  if (c == 0xe0) lo = 0xa0;
  if (c == 0xed) hi = 0x9f;
  if (c == 0xf0) lo = 0x90;
  if (c == 0xf4) hi = 0x8f;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return len;
}

std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  // The byte at the cut starts the rest; when it continues a sequence that began at most three
  // bytes before, and that sequence is well-formed, the cut goes before it.
  for (std::size_t back = 1; back <= 3 && back <= max_bytes; ++back) {
    const std::size_t start = max_bytes - back;
    const auto c = static_cast<unsigned char>(s[start]);
    if ((c & 0xc0) == 0x80) continue;  // a continuation byte: look further back
    const std::size_t len = utf8_sequence_length(s, start);
    return s.substr(0, len > back ? start : max_bytes);
  }
  return s.substr(0, max_bytes);
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void append_utf8_repaired(std::string& out, std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t run = i;
    while (run < s.size() && static_cast<unsigned char>(s[run]) < 0x80) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const std::size_t len = utf8_sequence_length(s, i);
    if (len == 0) {
      out += kUtf8Replacement;
      ++i;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
}

std::string utf8_repaired(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_utf8_repaired(out, s);
  return out;
}

}  // namespace kscprobe
