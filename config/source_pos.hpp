#pragma once
#include <string>

namespace kscprobe {

/// Where a value came from, for error messages (`file:line:column`).
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
};

}  // namespace kscprobe
