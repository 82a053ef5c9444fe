#pragma once
// GET /metrics: the daemon's own families and the result table's, as plain text or, for a
// client that takes gzip (Prometheus does), compressed while it is written.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/discovery/agent_view.hpp"
#include "daemon/exposition/metrics_renderer.hpp"
#include "daemon/web/http_server.hpp"

namespace kscprobe {

class ResultTable;
class Scheduler;

class MetricsEndpoint {
 public:
  /// Writes the families that come ahead of the result table's (the daemon's own).
  using WriteHead = std::function<void(std::string&)>;

  struct Options {
    /// While this many bytes wait for the gzip worker, the render pauses (a coroutine wait: the
    /// event loop goes on probing), until no more than half of them wait. Rendering is about
    /// four times faster than deflate. 0: a pause after every piece, until the worker has
    /// deflated all of it.
    std::size_t gzip_backlog = std::size_t{16} << 20;
    /// The pieces the render hands to the gzip worker.
    std::size_t piece_bytes = std::size_t{1} << 20;
    /// Renders abandoned because a reload replaced the plan meanwhile, before a 503.
    int attempts = 3;
  };

  /// `table` and `scheduler` are the daemon's, read at each scrape (a reload replaces what they
  /// hold, not them); both outlive the endpoint.
  MetricsEndpoint(boost::asio::any_io_executor executor, const ResultTable& table,
                  const Scheduler& scheduler, WriteHead head);
  MetricsEndpoint(boost::asio::any_io_executor executor, const ResultTable& table,
                  const Scheduler& scheduler, WriteHead head, Options options);
  ~MetricsEndpoint();

  /// Where each render gets the server's view of discovered agents (ksc::Discovery::
  /// agent_sections()); none by default.
  using Agents = std::function<std::vector<ksc::AgentSection>()>;
  void set_agents(Agents agents) { agents_ = std::move(agents); }

  /// The answer to a GET or HEAD of /metrics.
  boost::asio::awaitable<HttpResponse> handle(HttpRequest req);

  /// The whole text, rendered now within this call.
  std::string render() const;

  /// The whole text in pieces of options.piece_bytes, handed to `sink` one by one, the event
  /// loop running between two pieces: what the textfile and Pushgateway outputs write, so tens
  /// of megabytes never hold the loop. False when a reload abandoned the render (start again).
  boost::asio::awaitable<bool> render_pieces(std::function<void(std::string&)> sink);

 private:
  boost::asio::awaitable<HttpResponse> gzip_streamed();
  MetricsRenderer::Source source() const;

  boost::asio::any_io_executor executor_;
  const ResultTable& table_;
  const Scheduler& scheduler_;
  WriteHead head_;
  Agents agents_;
  Options options_;
  std::shared_ptr<MetricsRenderer> renderer_;
};

}  // namespace kscprobe
