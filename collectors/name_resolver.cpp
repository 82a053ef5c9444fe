#include "collectors/name_resolver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <unordered_map>
#include <utility>
#include <vector>

#include "collectors/address.hpp"

namespace kscprobe {
namespace {

namespace asio = boost::asio;

// One caller waiting for a query: the query's completion fills `answer` and cancels `done`,
// which the caller awaits until its deadline. It lives in the caller's coroutine; the query
// holds it weakly, so a caller that gave up at its deadline leaves nothing behind.
struct Waiter {
  Waiter(const asio::any_io_executor& executor, NameResolver::Clock::time_point deadline)
      : done(executor, deadline) {}
  asio::steady_timer done;
  LookupAnswer answer;
  bool finished = false;
};

}  // namespace

struct NameResolver::Core : std::enable_shared_from_this<NameResolver::Core> {
  Core(asio::any_io_executor ex, ResolverOptions opts)
      : executor(std::move(ex)), options(std::move(opts)), cache(options.cache) {
    if (options.max_in_flight == 0) options.max_in_flight = 1;
  }

  // A name queued or asked, with everyone waiting for it.
  struct Pending {
    std::vector<std::weak_ptr<Waiter>> waiters;
  };

  bool has_live_waiter(const Pending& p) const {
    for (const auto& w : p.waiters) {
      if (auto waiter = w.lock(); waiter && !waiter->finished) return true;
    }
    return false;
  }

  // Joins the query of `key`, starts one, or queues it; false when the queue is full.
  bool enqueue(const std::string& key, const std::shared_ptr<Waiter>& waiter) {
    if (auto it = pending.find(key); it != pending.end()) {
      it->second.waiters.push_back(waiter);
      ++stats.joined;
      return true;
    }
    if (in_flight < options.max_in_flight) {
      pending[key].waiters.push_back(waiter);
      start(key);
      return true;
    }
    if (queue.size() >= options.max_queued) return false;
    pending[key].waiters.push_back(waiter);
    queue.push_back(key);
    return true;
  }

  void start(const std::string& key) {
    ++in_flight;
    ++stats.queries;
    backend->query(key, [weak = weak_from_this(), key](detail::ResolverBackend::Answer answer) {
      if (auto core = weak.lock()) core->complete(key, std::move(answer));
    });
  }

  void complete(const std::string& key, detail::ResolverBackend::Answer answer) {
    if (closed) return;
    --in_flight;
    cache.store(key, answer.answer, answer.ttl, Clock::now());
    if (auto node = pending.extract(key)) {
      for (const auto& w : node.mapped().waiters) {
        auto waiter = w.lock();
        if (!waiter || waiter->finished) continue;
        waiter->answer = answer.answer;
        waiter->finished = true;
        waiter->done.cancel();
      }
    }
    pump();
  }

  // Starts queued names while there is room; a name nobody waits for any more (every caller
  // gave up at its deadline) is dropped rather than asked.
  void pump() {
    while (in_flight < options.max_in_flight && !queue.empty()) {
      std::string key = std::move(queue.front());
      queue.pop_front();
      auto it = pending.find(key);
      if (it == pending.end()) continue;
      if (!has_live_waiter(it->second)) {
        pending.erase(it);
        continue;
      }
      start(key);
    }
  }

  void shutdown() {
    closed = true;
    backend.reset();
    for (auto& [key, p] : pending) {
      for (const auto& w : p.waiters) {
        auto waiter = w.lock();
        if (!waiter || waiter->finished) continue;
        waiter->answer.status = LookupStatus::cancelled;
        waiter->answer.detail = "the resolver stopped";
        waiter->finished = true;
        waiter->done.cancel();
      }
    }
    pending.clear();
    queue.clear();
  }

  asio::any_io_executor executor;
  ResolverOptions options;
  ResolverCache cache;
  std::unique_ptr<detail::ResolverBackend> backend;
  std::unordered_map<std::string, Pending> pending;
  std::deque<std::string> queue;
  std::size_t in_flight = 0;
  ResolverStats stats;
  bool closed = false;
};

NameResolver::NameResolver(asio::any_io_executor executor, ResolverOptions options)
    : core_(std::make_shared<Core>(executor, std::move(options))) {
  core_->backend = core_->options.backend == ResolverOptions::Backend::system
                       ? detail::make_system_backend(executor, core_->options)
                       : detail::make_native_backend(executor, core_->options);
}

NameResolver::NameResolver(asio::any_io_executor executor, ResolverOptions options,
                           std::unique_ptr<detail::ResolverBackend> backend)
    : core_(std::make_shared<Core>(std::move(executor), std::move(options))) {
  core_->backend = std::move(backend);
}

NameResolver::~NameResolver() { core_->shutdown(); }

ResolverStats NameResolver::stats() const {
  ResolverStats s = core_->stats;
  s.in_flight = core_->in_flight;
  s.queued = core_->queue.size();
  return s;
}

const ResolverOptions& NameResolver::options() const { return core_->options; }

std::optional<asio::ip::address> NameResolver::cached_address(std::string_view name) {
  auto first = core_->cache.find_first(name, Clock::now());
  if (!first) return std::nullopt;
  ++core_->stats.lookups;
  ++core_->stats.cache_hits;
  return first;
}

asio::awaitable<LookupResult> NameResolver::lookup(SharedText name, Clock::time_point deadline) {
  LookupResult result;
  if (auto literal = parse_ip_literal(name)) {
    result.status = LookupStatus::ok;
    result.addresses.push_back(*literal);
    co_return result;
  }
  if (is_reserved_invalid_name(name)) {
    result.status = LookupStatus::not_found;
    result.detail = "reserved name (RFC 6761)";
    co_return result;
  }
  // The frame keeps the core: the resolver may be destroyed while this waits.
  std::shared_ptr<Core> core = core_;
  ++core->stats.lookups;
  if (auto hit = core->cache.find(name, Clock::now())) {
    ++core->stats.cache_hits;
    static_cast<LookupAnswer&>(result) = std::move(*hit);
    result.cached = true;
    co_return result;
  }
  if (core->closed) {
    result.status = LookupStatus::cancelled;
    result.detail = "the resolver stopped";
    co_return result;
  }
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor, deadline);
  if (!core->enqueue(ResolverCache::key(name), waiter)) {
    ++core->stats.queue_full;
    result.status = LookupStatus::queue_full;
    result.detail = "the resolver's queue is full (" + std::to_string(core->queue.size()) +
                    " names waiting, " + std::to_string(core->in_flight) + " asked)";
    co_return result;
  }
  boost::system::error_code ec;
  if (!waiter->finished) {
    std::tie(ec) = co_await waiter->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (waiter->finished) {
    static_cast<LookupAnswer&>(result) = std::move(waiter->answer);
    co_return result;
  }
  // The timer expired (the deadline) or was cancelled by the caller; the query goes on.
  if (!ec) {
    result.status = LookupStatus::timeout;
    result.detail = "no answer from the DNS server before the deadline";
  } else {
    result.status = LookupStatus::cancelled;
    result.detail = "lookup cancelled";
  }
  co_return result;
}

}  // namespace kscprobe
