#include "collectors/probe_result.hpp"

namespace kscprobe {

std::string_view to_string(Reason r) {
  switch (r) {
    case Reason::none:
      return "none";
    case Reason::resolve:
      return "resolve";
    case Reason::refused:
      return "refused";
    case Reason::timeout:
      return "timeout";
    case Reason::unreachable:
      return "unreachable";
    case Reason::reset:
      return "reset";
    case Reason::tls:
      return "tls";
    case Reason::http_status:
      return "http_status";
    case Reason::protocol:
      return "protocol";
  }
  return "unknown";
}

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::resolve:
      return "resolve";
    case Phase::connect:
      return "connect";
    case Phase::tls:
      return "tls";
    case Phase::request:
      return "request";
  }
  return "unknown";
}

}  // namespace kscprobe
