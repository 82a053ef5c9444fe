#include "config/shared_text.hpp"

#include <ostream>

namespace kscprobe {

std::ostream& operator<<(std::ostream& os, const SharedText& t) { return os << t.view(); }

}  // namespace kscprobe
