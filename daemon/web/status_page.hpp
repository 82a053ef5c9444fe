#pragma once
// The status page (`/`): the query string read (status_query.hpp), the page selected from the
// result table (status_model.hpp), and written in the asked format (status_render.hpp).
#include <string>
#include <string_view>

#include "daemon/web/status_model.hpp"
#include "daemon/web/status_query.hpp"

namespace kscprobe {

class ResultTable;

/// The page in the asked format: the summary; with [[ksc]] sections, each server's discovery
/// and the agents that stopped connecting (counts per diagnosis and per site, then the devices
/// longest silent first, at most `limit` of them, with their checks' evidence); then the page of
/// the matching checks, worst first (down, the longest failing first; pending; certificate
/// expiring; the rest).
std::string render_status_page(const ResultTable& table, const StatusPageInfo& info,
                               const StatusQuery& query = {});

/// `/` as served: 200 with the page in the asked format, or 400 with a line saying what in the
/// query string is wrong.
struct StatusResponse {
  unsigned status = 200;
  std::string content_type;
  std::string body;
};
StatusResponse serve_status_page(const ResultTable& table, const StatusPageInfo& info,
                                 std::string_view query);

}  // namespace kscprobe
