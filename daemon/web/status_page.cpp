#include "daemon/web/status_page.hpp"

#include "daemon/runtime/result_table.hpp"
#include "daemon/web/status_render.hpp"

namespace kscprobe {

std::string render_status_page(const ResultTable& table, const StatusPageInfo& info,
                               const StatusQuery& query) {
  const StatusModel model = build_status_model(table, info, query);
  switch (query.format) {
    case StatusFormat::json:
      return render_status_json(model);
    case StatusFormat::text:
      return render_status_text(model);
    case StatusFormat::html:
      break;
  }
  return render_status_html(model);
}

StatusResponse serve_status_page(const ResultTable& table, const StatusPageInfo& info,
                                 std::string_view query) {
  StatusResponse r;
  StatusQuery q;
  std::string error;
  if (!parse_status_query(query, table.plan_ptr() ? &table.plan() : nullptr, &q, &error)) {
    r.status = 400;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "bad request: " + error + "\n";
    return r;
  }
  r.content_type = q.format == StatusFormat::json   ? "application/json"
                   : q.format == StatusFormat::text ? "text/plain; charset=utf-8"
                                                    : "text/html; charset=utf-8";
  r.body = render_status_page(table, info, q);
  return r;
}

}  // namespace kscprobe
