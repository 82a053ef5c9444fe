#pragma once
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/discovery/agent_view.hpp"

namespace kscprobe {

class ResultTable;
class Scheduler;
struct Plan;

/// Writes every kscprobe_* family as exposition text straight from the result table at scrape
/// time (nothing is stored as metric objects between scrapes, so the table stays compact).
///
/// Large estates are why it writes text itself rather than building metric objects (as
/// prometheus-cpp would): 200 000 checks are 400 000 series or more, and a label set per series per
/// scrape. Here each check's label set is escaped once per plan and copied from a cache, and how
/// much of a check is shown follows its role's [metrics] detail level (full, basic, aggregate).
class MetricsRenderer {
 public:
  struct Source {
    const ResultTable* table = nullptr;
    const Scheduler* scheduler = nullptr;
    /// The server's view of discovered targets (ksc::Discovery::agent_sections()): the
    /// kscprobe_ksc_* families of each target of the plan that one of them lists, and the
    /// kscprobe_agent_diagnosis of those whose agent stopped connecting.
    std::vector<ksc::AgentSection> agents;
    /// Unix time that the agents' last connections are compared with; 0: the system clock.
    double now = 0;
  };
  MetricsRenderer();
  ~MetricsRenderer();
  MetricsRenderer(const MetricsRenderer&) = delete;
  MetricsRenderer& operator=(const MetricsRenderer&) = delete;

  /// Where a long render goes a piece at a time: `flush` takes the text written so far (and
  /// leaves the string empty) whenever it reaches `bytes`, between two samples. A scrape of a
  /// large estate is tens of megabytes; handed on in pieces (to a compressor, say) it is never
  /// held whole.
  struct Chunks {
    std::size_t bytes = 1 << 20;
    std::function<void(std::string&)> flush;
    /// Asked after a piece went out (render_async only): true while the consumer is behind,
    /// and the render then co_awaits `drain`, so the event loop goes on probing meanwhile.
    std::function<bool()> behind;
    std::function<boost::asio::awaitable<void>()> drain;
  };

  /// Appends the families to `out` (and through `chunks`, when given), within this call. Not
  /// const: the label cache follows the table's plan.
  void render(const Source& src, std::string& out, const Chunks* chunks = nullptr);

  /// `src` is taken by value: a coroutine keeps its parameters, not what a reference points to.
  /// The same render as a coroutine on the event loop, which waits for `chunks->drain` while
  /// `chunks->behind()`. Checks keep being probed meanwhile; a reload during a wait abandons
  /// the render (false), since the rest of it would describe another plan; renders that overlap
  /// share the label cache, which only a new plan rebuilds.
  boost::asio::awaitable<bool> render_async(Source src, std::string& out, const Chunks* chunks);

  /// CPU seconds and bytes of the previous render (shown by the next one).
  void set_last_render(double cpu_seconds, std::size_t bytes) {
    last_cpu_seconds_ = cpu_seconds;
    last_bytes_ = bytes;
  }
  /// Bytes of the previous render: what to reserve for the next one, which is about as large
  /// (a 70 MB body grown by doubling would briefly take twice that).
  std::size_t last_bytes() const { return last_bytes_; }

 private:
  struct Cache;
  std::unique_ptr<Cache> cache_;
  double last_cpu_seconds_ = 0;
  std::size_t last_bytes_ = 0;
};

}  // namespace kscprobe
