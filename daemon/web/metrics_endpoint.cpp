#include "daemon/web/metrics_endpoint.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "daemon/exposition/gzip_stream.hpp"
#include "daemon/exposition/metrics_renderer.hpp"
#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "platform/platform.hpp"

namespace kscprobe {

namespace asio = boost::asio;

namespace {
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
}

MetricsEndpoint::MetricsEndpoint(asio::any_io_executor executor, const ResultTable& table,
                                 const Scheduler& scheduler, WriteHead head)
    : MetricsEndpoint(std::move(executor), table, scheduler, std::move(head), Options{}) {}

MetricsEndpoint::MetricsEndpoint(asio::any_io_executor executor, const ResultTable& table,
                                 const Scheduler& scheduler, WriteHead head, Options options)
    : executor_(std::move(executor)),
      table_(table),
      scheduler_(scheduler),
      head_(std::move(head)),
      options_(options),
      renderer_(std::make_shared<MetricsRenderer>()) {}

MetricsEndpoint::~MetricsEndpoint() = default;

asio::awaitable<HttpResponse> MetricsEndpoint::handle(HttpRequest req) {
  if (accepts_gzip(req.header("accept-encoding"))) co_return co_await gzip_streamed();
  HttpResponse res;
  res.content_type = kContentType;
  res.body = render();
  res.compressible = true;
  co_return res;
}

MetricsRenderer::Source MetricsEndpoint::source() const {
  MetricsRenderer::Source src;
  src.table = table_.plan_ptr() ? &table_ : nullptr;
  src.scheduler = &scheduler_;
  if (agents_) src.agents = agents_();
  return src;
}

std::string MetricsEndpoint::render() const {
  const double cpu_start = platform::thread_cpu_seconds();
  std::string out;
  out.reserve(renderer_->last_bytes() + renderer_->last_bytes() / 16);
  if (head_) head_(out);
  renderer_->render(source(), out);
  renderer_->set_last_render(platform::thread_cpu_seconds() - cpu_start, out.size());
  return out;
}

asio::awaitable<bool> MetricsEndpoint::render_pieces(std::function<void(std::string&)> sink) {
  MetricsRenderer::Chunks chunks;
  chunks.bytes = options_.piece_bytes;
  chunks.flush = [&](std::string& text) {
    sink(text);
    text.clear();
  };
  // After every piece, whatever waits on the loop (probe completions, scrapes) runs first.
  chunks.behind = [] { return true; };
  chunks.drain = [this]() -> asio::awaitable<void> {
    co_await asio::post(executor_, asio::use_awaitable);
  };
  std::string text;
  if (head_) head_(text);
  if (!co_await renderer_->render_async(source(), text, &chunks)) co_return false;
  chunks.flush(text);
  co_return true;
}

// The render goes to the compression worker a piece at a time, so a large estate's text is never
// held whole. A reload during a pause abandons that render (it would mix two plans): it starts
// again, and after `attempts` abandoned renders the answer is 503.
asio::awaitable<HttpResponse> MetricsEndpoint::gzip_streamed() {
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    const double cpu_start = platform::thread_cpu_seconds();
    double cpu_paused = 0;  // what the loop did for others while the render waited
    GzipStream gzip;
    std::size_t bytes = 0;
    MetricsRenderer::Chunks chunks;
    chunks.bytes = options_.piece_bytes;
    chunks.flush = [&](std::string& text) {
      bytes += text.size();
      gzip.write(std::move(text));
      text = std::string();
      text.reserve(chunks.bytes + chunks.bytes / 8);
    };
    chunks.behind = [&] { return gzip.pending() >= options_.gzip_backlog; };
    chunks.drain = [&]() -> asio::awaitable<void> {
      const double paused_at = platform::thread_cpu_seconds();
      // Always let the loop run once (a reload waiting there overtakes this render even when
      // the worker has already caught up), then wait while it is behind.
      co_await asio::post(executor_, asio::use_awaitable);
      asio::steady_timer timer(executor_);
      while (gzip.pending() > options_.gzip_backlog / 2) {
        timer.expires_after(std::chrono::milliseconds(2));
        co_await timer.async_wait(asio::use_awaitable);
      }
      cpu_paused += platform::thread_cpu_seconds() - paused_at;
    };
    std::string text;
    if (head_) head_(text);
    const bool whole = co_await renderer_->render_async(source(), text, &chunks);
    if (!whole) continue;
    chunks.flush(text);
    renderer_->set_last_render(platform::thread_cpu_seconds() - cpu_start - cpu_paused, bytes);
    HttpResponse res;
    res.content_type = kContentType;
    res.headers.push_back({"Vary", "Accept-Encoding"});
    if (auto body = co_await gzip.finish()) {
      res.body = std::move(*body);
      res.headers.push_back({"Content-Encoding", "gzip"});
    } else {
      // zlib failed: the plain text, which the server may still try to compress.
      res.body = render();
      res.compressible = true;
      res.headers.clear();
    }
    co_return res;
  }
  HttpResponse busy;
  busy.status = 503;
  busy.body = "the configuration was reloaded during every attempt to render; try again\n";
  co_return busy;
}

}  // namespace kscprobe
