// The Pushgateway output looks its host up through a NameResolver, within the push's own
// deadline: a DNS server that never answers fails each push in time, and the pushes go on (the
// lookup had no deadline at all, so the first push waited for ever and no later one started).
// The textfile output writes the text in pieces, the loop running between them, and never
// leaves a render that a reload abandoned in the file.
#include "daemon/metric_outputs.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <functional>
#include <thread>

#include "tests/support/fake_dns.hpp"
#include "tests/support/files.hpp"
#include "tests/support/peers.hpp"

namespace kscprobe::test {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

asio::awaitable<bool> one_piece(std::string text, MetricText::Sink sink) {
  sink(text);
  co_return true;
}

// The same text both ways, in one piece.
MetricText fixed_text(std::string text) {
  MetricText t;
  t.whole = [text] { return text; };
  t.pieces = [text](MetricText::Sink sink) { return one_piece(text, std::move(sink)); };
  return t;
}

// Three pieces with a turn of the loop after each; the first render is abandoned after its
// first piece, as a reload abandons one.
struct Pieces {
  int renders = 0;
  int turns_seen = 0;
};
asio::awaitable<bool> three_pieces(std::shared_ptr<Pieces> state, MetricText::Sink sink) {
  const bool abandon = state->renders++ == 0;
  for (std::string piece : {"a 1\n", "b 2\n", "c 3\n"}) {
    sink(piece);
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    if (abandon) co_return false;
  }
  co_return true;
}

MetricOutputOptions push_options(const FakeDnsServer& dns, std::uint16_t port) {
  MetricOutputOptions o;
  o.push_url = "http://pgw.monitoring.test:" + std::to_string(port);
  o.push_interval = 100ms;
  o.push_timeout = 300ms;
  o.push_instance = "host-a";
  o.resolver.test_server = dns.server();
  return o;
}

TEST(PushResolve, ANeverAnsweringDnsServerFailsEachPushWithinItsDeadline) {
  FakeDnsServer dns({.answer = false});
  asio::io_context io;
  MetricOutputs outputs(io.get_executor(), push_options(dns, 9091), fixed_text("up 1\n"));
  std::string error;
  ASSERT_TRUE(outputs.start(&error)) << error;
  io.run_for(1500ms);
  outputs.stop();
  const PushStatus status = outputs.push_status();
  // A push every 100 ms, each given up after 300 ms: three or more have ended by 1.5 s.
  EXPECT_GE(status.attempts, 3u);
  EXPECT_EQ(status.failures, status.attempts);
  EXPECT_EQ(status.last_error, "resolve pgw.monitoring.test: no answer within 300ms");
  EXPECT_GE(dns.queries_for("pgw.monitoring.test"), 1u);
}

TEST(PushResolve, APushGoesToTheAddressTheNameResolvesTo) {
  FakeDnsServer dns({.ttl = 60});
  asio::io_context io;
  auto seen = std::make_shared<Seen>();
  std::uint16_t port = start_http_server(io, loopback_v4(), ServedReply{}, seen);
  MetricOutputs outputs(io.get_executor(), push_options(dns, port), fixed_text("up 1\n"));
  std::string error;
  ASSERT_TRUE(outputs.start(&error)) << error;
  io.run_for(1000ms);
  outputs.stop();
  const PushStatus status = outputs.push_status();
  EXPECT_GE(status.attempts, 2u);
  EXPECT_EQ(status.failures, 0u) << status.last_error;
  EXPECT_EQ(seen->method, "PUT");
  EXPECT_EQ(seen->target, "/metrics/job/kscprobe/instance/host-a");
  // Every push shares the answer while its TTL lasts.
  EXPECT_EQ(dns.queries_for("pgw.monitoring.test"), 1u);
}

TEST(PushResolve, APortAbove65535IsRefusedAtStart) {
  asio::io_context io;
  MetricOutputOptions o;
  o.push_url = "http://pgw:99999999999999999999";
  MetricOutputs outputs(io.get_executor(), o, fixed_text(""));
  std::string error;
  EXPECT_FALSE(outputs.start(&error));
  EXPECT_NE(error.find("65535"), std::string::npos) << error;
}

TEST(TextfileOutput, WritesThePiecesOfAWholeRenderAndNeverAnAbandonedOne) {
  TempDir tmp("textfile");
  const std::string dir = tmp.path();
  asio::io_context io;
  auto state = std::make_shared<Pieces>();
  MetricText text;
  text.whole = [] { return std::string("start 1\n"); };
  text.pieces = [state](MetricText::Sink sink) { return three_pieces(state, std::move(sink)); };
  MetricOutputOptions o;
  o.textfile_path = dir + "/kscprobe.prom";
  o.textfile_interval = 100ms;
  MetricOutputs outputs(io.get_executor(), o, text);
  std::string error;
  ASSERT_TRUE(outputs.start(&error)) << error;
  // start() writes the file whole at once; the periodic writes come in pieces.
  EXPECT_EQ(read_file(o.textfile_path), "start 1\n");
  io.run_for(350ms);
  outputs.stop();
  io.run_for(50ms);
  EXPECT_GE(state->renders, 2);
  EXPECT_EQ(read_file(o.textfile_path), "a 1\nb 2\nc 3\n");
  // No temporary file is left behind, the abandoned render's included.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "kscprobe.prom");
  }
  EXPECT_EQ(files, 1);
}

// A periodic write that cannot create its temporary file (the folder went away) fails without
// leaving anything behind, and the next write after the folder is back lands whole.
TEST(TextfileOutput, AWriteThatFailsIsRetriedAtTheNextTick) {
  TempDir tmp("textfile");
  const std::string dir = tmp.path() + "/out";
  std::filesystem::create_directory(dir);
  asio::io_context io;
  auto state = std::make_shared<Pieces>();
  state->renders = 1;  // no abandoned render here
  MetricText text;
  text.whole = [] { return std::string("start 1\n"); };
  text.pieces = [state](MetricText::Sink sink) { return three_pieces(state, std::move(sink)); };
  MetricOutputOptions o;
  o.textfile_path = dir + "/kscprobe.prom";
  o.textfile_interval = 100ms;
  MetricOutputs outputs(io.get_executor(), o, text);
  std::string error;
  ASSERT_TRUE(outputs.start(&error)) << error;
  std::filesystem::remove_all(dir);
  io.run_for(250ms);
  EXPECT_FALSE(std::filesystem::exists(dir));
  const int renders_while_missing = state->renders;
  std::filesystem::create_directory(dir);
  io.run_for(250ms);
  outputs.stop();
  io.run_for(50ms);
  EXPECT_EQ(read_file(o.textfile_path), "a 1\nb 2\nc 3\n");
  EXPECT_GT(state->renders, renders_while_missing);
}

// The periodic write's commit (a sync of tens of megabytes at a large estate, up to a second on a
// busy disk) runs off the event loop: the loop keeps its timers, so no probe starts late.
TEST(TextfileOutput, TheCommitRunsOffTheEventLoop) {
  TempDir tmp("textfile");
  asio::io_context io;
  auto state = std::make_shared<Pieces>();
  state->renders = 1;  // no abandoned render here
  MetricText text;
  text.whole = [] { return std::string("start 1\n"); };
  text.pieces = [state](MetricText::Sink sink) { return three_pieces(state, std::move(sink)); };
  MetricOutputOptions o;
  o.textfile_path = tmp.path() + "/kscprobe.prom";
  o.textfile_interval = 50ms;
  const auto loop_thread = std::this_thread::get_id();
  std::atomic<bool> committing{false}, on_loop{false};
  std::atomic<int> commits{0};
  o.before_commit = [&] {
    on_loop = on_loop || std::this_thread::get_id() == loop_thread;
    committing = true;
    std::this_thread::sleep_for(300ms);  // a slow disk
    committing = false;
    ++commits;
  };
  MetricOutputs outputs(io.get_executor(), o, text);
  std::string error;
  ASSERT_TRUE(outputs.start(&error)) << error;
  // A 10 ms tick on the loop, counted while a commit is in progress.
  int ticks_while_committing = 0;
  asio::steady_timer tick(io);
  std::function<void()> arm = [&] {
    tick.expires_after(10ms);
    tick.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (committing) ++ticks_while_committing;
      arm();
    });
  };
  arm();
  io.run_for(500ms);
  tick.cancel();
  outputs.stop();  // waits for a commit still in progress
  io.run_for(50ms);
  EXPECT_GE(commits.load(), 1);
  EXPECT_FALSE(on_loop.load()) << "the commit ran on the event loop's thread";
  EXPECT_GE(ticks_while_committing, 10) << "the loop stood still while the file was committed";
  EXPECT_EQ(read_file(o.textfile_path), "a 1\nb 2\nc 3\n");
}

}  // namespace
}  // namespace kscprobe::test
