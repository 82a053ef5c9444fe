#include "tests/bench/bench_ksc.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

namespace kscprobe::bench {

namespace asio = boost::asio;

struct BenchKsc::Impl {
  asio::io_context io;
  std::unique_ptr<sim::KscOpenApiServer> server;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  sim::KscOpenApiOptions options;

  /// Runs `f` on the server's thread and waits for it (at most 60 s).
  template <typename F>
  auto on_thread(F f) -> decltype(f()) {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto result = task->get_future();
    asio::post(io, [task] { (*task)(); });
    if (result.wait_for(std::chrono::seconds(60)) != std::future_status::ready)
      throw std::runtime_error("the benchmark's KSC server did not answer within 60 s");
    return result.get();
  }
};

BenchKsc::BenchKsc() : impl_(std::make_unique<Impl>()) {}

BenchKsc::~BenchKsc() { stop(); }

void BenchKsc::start(const std::string& address, std::uint16_t port,
                     std::vector<sim::KscHostDef> hosts, std::map<std::int64_t, std::string> groups,
                     std::vector<std::string> update_agents) {
  impl_->options.address = address;
  impl_->options.port = port;
  impl_->server = std::make_unique<sim::KscOpenApiServer>(impl_->io, impl_->options);
  impl_->server->start();
  impl_->server->set_hosts(std::move(hosts));
  impl_->server->set_groups(std::move(groups));
  impl_->server->set_update_agents(std::move(update_agents));
  impl_->work.emplace(impl_->io.get_executor());
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void BenchKsc::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->on_thread([this] {
    impl_->server->stop();
    return 0;
  });
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
}

std::string BenchKsc::url() const { return impl_->server->url(); }
std::string BenchKsc::ca_pem() const { return impl_->server->ca().cert_pem; }
std::string BenchKsc::user() const { return impl_->options.user; }
std::string BenchKsc::password() const { return impl_->options.password; }

void BenchKsc::set_hosts(std::vector<sim::KscHostDef> hosts) {
  impl_->on_thread([this, h = std::move(hosts)]() mutable {
    impl_->server->set_hosts(std::move(h));
    return 0;
  });
}

sim::KscCounters BenchKsc::counters() {
  return impl_->on_thread([this] { return impl_->server->counters(); });
}

}  // namespace kscprobe::bench
