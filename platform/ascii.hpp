#pragma once
// ASCII case, for the protocol words and names that compare without it (DNS names, URL schemes,
// Prometheus keywords, status filters): the C locale's rules, whatever the process's locale.
#include <algorithm>
#include <string>
#include <string_view>

namespace kscprobe::ascii {

inline char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

/// `a` and `b` are the same text but for ASCII case.
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

/// `text` begins with `prefix` but for ASCII case.
inline bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

/// `needle` occurs in `hay` but for ASCII case (an empty needle does).
inline bool icontains(std::string_view hay, std::string_view needle) {
  return needle.empty() ||
         std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](char x, char y) { return lower(x) == lower(y); }) != hay.end();
}

}  // namespace kscprobe::ascii
