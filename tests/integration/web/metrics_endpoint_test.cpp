// MetricsEndpoint (/metrics) alone, on a result table and a scheduler that nothing probes: the
// plain and the gzip-streamed answers carry the same text, and a reload while a streamed render
// waits for the compressor starts the render again on the new plan, or answers 503 when every
// attempt was overtaken.
#include "daemon/web/metrics_endpoint.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <optional>

#include "daemon/runtime/result_table.hpp"
#include "daemon/runtime/scheduler.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/plan_builder.hpp"

using namespace kscprobe;
namespace asio = boost::asio;

namespace {

// `agents` agents named <prefix>-<i>, each with one TCP check that succeeded once.
std::shared_ptr<const Plan> plan_of(const std::string& prefix, int agents) {
  return test::PlanBuilder()
      .targets(prefix, agents, Role::agent, "127.0.0.1", "agents_tcp", Transport::tcp, 13000)
      .build();
}

ProbeResult ok() {
  ProbeResult r;
  r.success = true;
  r.duration = 0.001;
  r.set_phase(Phase::connect, 0.001);
  return r;
}

struct MetricsEndpointTest : ::testing::Test {
  asio::io_context io;
  ResultTable table{plan_of("old", 2000)};
  Scheduler scheduler{io.get_executor(),
                      [](const CheckSpec&, asio::cancellation_slot, Scheduler::Done) {},
                      [](std::uint32_t, const ProbeResult&) {}};
  int heads = 0;
  std::function<void()> on_head;

  MetricsEndpointTest() {
    for (std::uint32_t i = 0; i < table.size(); ++i) table.record(i, ok(), 1764979200);
  }

  // Small pieces and no backlog: the streamed render waits for the compressor after every
  // piece, whatever the compressor's speed, which is when a reload can overtake it.
  MetricsEndpoint endpoint(MetricsEndpoint::Options options = {.gzip_backlog = 0,
                                                               .piece_bytes = 4096}) {
    return MetricsEndpoint(
        io.get_executor(), table, scheduler,
        [this](std::string& out) {
          ++heads;
          out +=
              "# HELP head_info Ahead of the table.\n# TYPE head_info gauge\n"
              "head_info 1\n";
          if (on_head) on_head();
        },
        options);
  }

  HttpResponse get(MetricsEndpoint& e, const std::string& accept_encoding) {
    HttpRequest req;
    req.method = "GET";
    req.path = "/metrics";
    if (!accept_encoding.empty()) req.headers.push_back({"accept-encoding", accept_encoding});
    std::optional<HttpResponse> res;
    asio::co_spawn(io, e.handle(req), [&](std::exception_ptr error, HttpResponse r) {
      if (error) std::rethrow_exception(error);
      res = std::move(r);
    });
    io.restart();
    io.run_for(std::chrono::seconds(30));
    EXPECT_TRUE(res.has_value()) << "no answer within 30 s";
    return res.value_or(HttpResponse{});
  }

  void reload(const std::string& prefix) {
    std::vector<std::uint32_t> map;
    table = ResultTable::carry_over(plan_of(prefix, 2000), table, &map);
  }
};

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

// What the textfile and Pushgateway outputs write: the same text as a scrape, in pieces, with
// the event loop running between two of them (a timer posted meanwhile fires before the end).
TEST_F(MetricsEndpointTest, RenderPiecesYieldsToTheLoopBetweenPiecesAndCarriesTheSameText) {
  MetricsEndpoint e = endpoint();
  std::string joined;
  int pieces = 0, turns = 0, turns_before_last = -1;
  std::optional<bool> done;
  asio::co_spawn(io, e.render_pieces([&](std::string& piece) {
    joined += piece;
    ++pieces;
    turns_before_last = turns;
  }),
                 [&](std::exception_ptr error, bool whole_render) {
                   if (error) std::rethrow_exception(error);
                   done = whole_render;
                 });
  // Another task on the loop: one turn per post, as long as the render goes on.
  std::function<void()> tick = [&] {
    ++turns;
    if (!done) asio::post(io, tick);
  };
  asio::post(io, tick);
  io.restart();
  io.run_for(std::chrono::seconds(30));
  ASSERT_EQ(done, std::optional<bool>(true));
  // The whole render after the pieces: render() reports its own cost in the next render, so it
  // comes second to see the same text.
  const std::string whole = e.render();
  EXPECT_EQ(joined.size(), whole.size());
  EXPECT_TRUE(joined == whole) << "the pieces do not join into the scrape's text";
  EXPECT_GT(pieces, 50);
  // The other task ran while the pieces were written, not only after the last one.
  EXPECT_GT(turns_before_last, pieces / 2);
}

TEST_F(MetricsEndpointTest, PlainAndGzipStreamedCarryTheSameText) {
  MetricsEndpoint e = endpoint();
  HttpResponse plain = get(e, "");
  EXPECT_EQ(plain.status, 200u);
  EXPECT_TRUE(plain.compressible);
  EXPECT_EQ(plain.body.rfind("# HELP head_info", 0), 0u);
  EXPECT_NE(plain.body.find("kscprobe_probe_success{target=\"old-1999\""), std::string::npos);
  EXPECT_GT(plain.body.size(), 100u * 4096);  // many pieces, many waits for the compressor

  HttpResponse gz = get(e, "gzip");
  EXPECT_EQ(gz.status, 200u);
  EXPECT_EQ(header(gz, "Content-Encoding"), "gzip");
  EXPECT_EQ(header(gz, "Vary"), "Accept-Encoding");
  std::string text = test::gunzip(gz.body);
  // The two renders differ only in the renderer's figures about the previous render.
  auto without_self = [](const std::string& s) {
    std::string out;
    std::size_t pos = 0;
    while (pos < s.size()) {
      std::size_t end = s.find('\n', pos);
      if (end == std::string::npos) end = s.size();
      std::string_view line(s.data() + pos, end - pos);
      if (line.find("kscprobe_metrics_render") == std::string_view::npos &&
          line.find("kscprobe_scheduler") == std::string_view::npos &&
          line.find("kscprobe_process") == std::string_view::npos)
        out.append(line).push_back('\n');
      pos = end + 1;
    }
    return out;
  };
  EXPECT_EQ(without_self(text), without_self(plain.body));
  EXPECT_EQ(heads, 2);
}

TEST_F(MetricsEndpointTest, AReloadDuringAStreamedRenderStartsItAgainOnTheNewPlan) {
  MetricsEndpoint e = endpoint();
  // The first render's first wait for the compressor lets this reload in; the second render
  // runs on the new plan alone.
  on_head = [this] {
    if (heads == 1) asio::post(io, [this] { reload("new"); });
  };
  HttpResponse gz = get(e, "gzip");
  ASSERT_EQ(gz.status, 200u) << gz.body;
  std::string text = test::gunzip(gz.body);
  EXPECT_EQ(heads, 2);
  EXPECT_NE(text.find("target=\"new-1999\""), std::string::npos);
  EXPECT_EQ(text.find("target=\"old-"), std::string::npos);
}

TEST_F(MetricsEndpointTest, ReloadsOvertakingEveryAttemptGive503) {
  MetricsEndpoint e = endpoint({.gzip_backlog = 0, .piece_bytes = 4096, .attempts = 3});
  on_head = [this] { asio::post(io, [this] { reload("gen" + std::to_string(heads)); }); };
  HttpResponse r = get(e, "gzip");
  EXPECT_EQ(r.status, 503u);
  EXPECT_NE(r.body.find("reloaded during every attempt"), std::string::npos);
  EXPECT_EQ(heads, 3);
}

TEST_F(MetricsEndpointTest, WithoutAPlanOnlyTheHeadIsWritten) {
  table = ResultTable();
  MetricsEndpoint e = endpoint();
  HttpResponse plain = get(e, "");
  EXPECT_EQ(plain.body.rfind("# HELP head_info", 0), 0u);
  EXPECT_EQ(plain.body.find("kscprobe_probe_success"), std::string::npos);
}

}  // namespace
