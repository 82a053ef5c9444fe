#pragma once
// Base64 (RFC 4648 section 4: the standard alphabet, with padding): the one encoder and decoder
// of the tree, for KSC's KSCBasic login header (discovery and the simulated server) and the
// endpoint's HTTP basic auth (RFC 7617).
#include <optional>
#include <string>
#include <string_view>

namespace kscprobe {

std::string base64_encode(std::string_view data);

/// Decodes `text` strictly: a length that is a multiple of 4, only the alphabet, '=' only as
/// the last one or two characters; nullopt otherwise (no whitespace is skipped).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kscprobe
