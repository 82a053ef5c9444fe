// libFuzzer target: the decoding of KSC OpenAPI answers (daemon/discovery/ksc_json.hpp and the
// item decoders of ksc_inventory.hpp), which read whatever the server on 13299 sends back. The
// input is one answer's body; every decoder is run over it and every value in it.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/discovery/ksc_inventory.hpp"
#include "daemon/discovery/ksc_json.hpp"

namespace {

namespace json = boost::json;
namespace ksc = kscprobe::ksc;

// Every accessor on one value, and on its members and elements, down to a bounded depth.
void walk(const json::value& v, int depth) {
  if (depth > 40) std::abort();  // parse_answer bounds the nesting
  (void)ksc::as_int(v);
  (void)ksc::as_number(v);
  (void)ksc::as_string(v);
  (void)ksc::as_bool(v);
  if (auto t = ksc::as_datetime(v)) {
    if (*t < 0) std::abort();
  }
  if (auto i = ksc::as_int(v)) {
    if (auto ip = ksc::ipv4_of_long(*i)) {
      if (*ip == 0 || ksc::ipv4_text(*ip).size() > 15) std::abort();
    }
  }
  kscprobe::ksc::Host host;
  if (ksc::decode_host(v, &host) == ksc::HostDecode::ok && host.id.empty()) std::abort();
  std::int64_t id = 0;
  std::string name;
  if (ksc::decode_group(v, &id, &name) && name.empty()) std::abort();
  (void)ksc::unwrap(v);
  if (const json::object* o = ksc::as_params(v)) {
    (void)ksc::int_field(*o, "KLHST_WKS_IP_LONG");
    (void)ksc::datetime_field(*o, "KLHST_WKS_LAST_VISIBLE");
    for (const auto& kv : *o) walk(kv.value(), depth + 1);
  }
  if (const json::array* a = ksc::as_array(v)) {
    for (const auto& e : *a) walk(e, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)ksc::parse_datetime(body);
  json::value answer;
  std::string error;
  if (!ksc::parse_answer(body, &answer, &error)) {
    if (error.empty()) std::abort();
    return 0;
  }
  if (!answer.is_object()) std::abort();
  if (auto e = ksc::pxg_error(answer)) {
    if (e->message.size() > 512) std::abort();
  }
  if (const json::array* items = ksc::chunk_items(answer)) {
    for (const auto& item : *items) walk(item, 1);
  }
  (void)ksc::decode_update_agents(answer);
  auto stats = ksc::decode_statistics(answer);
  if (stats.size() > 1000) std::abort();
  for (std::size_t i = 1; i < stats.size(); ++i) {
    const auto& a = stats[i - 1];
    const auto& b = stats[i];
    if (!(a.record < b.record || (a.record == b.record && a.name < b.name)))
      std::abort();  // sorted, unique
  }
  walk(answer, 0);
  return 0;
}
