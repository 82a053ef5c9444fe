#pragma once
// UTF-8 at the edges where text from elsewhere (a KSC server, a target file, a peer's banner or
// certificate) becomes a label value, a status page or a log line. Prometheus's parser rejects a
// whole exposition for one invalid byte, so text is cut on character boundaries and anything not
// well-formed is repaired (one U+FFFD per offending byte) before it is written.
#include <cstddef>
#include <string>
#include <string_view>

namespace kscprobe {

/// The length of the well-formed UTF-8 sequence that starts at s[i] (1 for ASCII; 2 to 4
/// otherwise), or 0 when none starts there: a continuation byte, an overlong form, a surrogate,
/// a code point above U+10FFFF, or a sequence cut short by the end of `s`.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

/// The longest prefix of `s` of at most `max_bytes` that does not end inside a character: when
/// the cut would split a well-formed sequence, it moves back to that sequence's first byte.
/// Bytes that are not UTF-8 are left as they are (append_utf8_repaired deals with them).
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes);

/// Whether `s` is well-formed UTF-8 throughout.
bool valid_utf8(std::string_view s);

/// Appends `s` with every byte that does not belong to a well-formed sequence replaced by
/// U+FFFD. ASCII is copied in runs.
void append_utf8_repaired(std::string& out, std::string_view s);

/// `s` repaired as append_utf8_repaired does.
std::string utf8_repaired(std::string_view s);

/// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

}  // namespace kscprobe
