#include "daemon/discovery/discovery.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <set>
#include <tuple>

namespace kscprobe::ksc {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// The reasons a device makes no target (the inventory's, then to_targets'): present with 0 in a
// status, so that the series exist before the first device is skipped.
constexpr const char* kSkipReasons[] = {"no_address",   "bad_address", "duplicate_name", "no_id",
                                        "not_a_record", "over_limit",  "listing_short"};

// No loop runs more often than this, whatever refresh and first_retry say.
constexpr Clock::duration kMinDelay = std::chrono::milliseconds(50);

std::string seconds_text(Clock::duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Overwrites a string's whole buffer, then empties it.
void wipe(std::string& secret) {
  secret.resize(secret.capacity());
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace

void RunCancel::cancel() {
  cancelled_ = true;
  if (client_ != nullptr) client_->cancel();
}

void RunCancel::time_out() {
  timed_out_ = true;
  cancel();
}

asio::awaitable<RunResult> run_discovery(asio::any_io_executor executor, KscSource source,
                                         Clock::duration run_timeout,
                                         std::shared_ptr<RunCancel> cancel) {
  const auto start = Clock::now();
  RunResult result;
  if (!cancel) cancel = std::make_shared<RunCancel>();
  std::string why;
  std::optional<std::string> read = read_ksc_password(source, &why);
  if (!read) {
    result.error = Error::of(ErrorKind::password, std::move(why));
    result.took = Clock::now() - start;
    co_return result;
  }
  Inventory inventory;
  Error error;
  {
    Client client(executor, source, *read);
    wipe(*read);
    // Detached on every way out of this block, exceptions included.
    struct Attached {
      RunCancel& cancel;
      ~Attached() { cancel.attach(nullptr); }
    } attached{*cancel};
    cancel->attach(&client);
    asio::steady_timer limit(executor, run_timeout);
    limit.async_wait([cancel](boost::system::error_code ec) {
      if (!ec) cancel->time_out();
    });
    if (!cancel->cancelled()) {
      error = co_await discover(client, source, &inventory);
      co_await client.close();
    }
    limit.cancel();
  }
  if (cancel->timed_out())
    error = Error::of(ErrorKind::timeout,
                      "the discovery did not finish within " + seconds_text(run_timeout));
  else if (cancel->cancelled())
    error = Error::of(ErrorKind::closed, "the discovery was cancelled");
  result.took = Clock::now() - start;
  if (error) {
    result.error = std::move(error);
    co_return result;
  }
  result.targets = to_targets(inventory, source, &result.stats, &result.agents);
  result.skipped = inventory.skipped;
  for (const auto& [reason, count] : result.stats.skipped) result.skipped[reason] += count;
  result.statistics = std::move(inventory.statistics);
  result.statistics_error = std::move(inventory.statistics_error);
  result.listed = inventory.listed;
  co_return result;
}

bool same_settings(const KscSource& a, const KscSource& b) {
  auto limits = [](const KscLimits& l) {
    return std::tie(l.request_timeout, l.page_size, l.max_body_bytes, l.max_devices, l.max_groups,
                    l.min_chunk_items);
  };
  auto settings = [](const KscSource& s) {
    return std::tie(s.name, s.url, s.user, s.password_file, s.password_env, s.domain, s.internal,
                    s.vserver, s.session, s.ca_file, s.fingerprint_sha256, s.insecure_skip_verify,
                    s.server_name, s.refresh, s.stale_after, s.groups, s.include_unassigned,
                    s.host_filter, s.roles, s.labels, s.features);
  };
  return settings(a) == settings(b) && limits(a.limits) == limits(b.limits);
}

bool same_targets(const std::vector<DiscoveredTarget>& a, const std::vector<DiscoveredTarget>& b) {
  return a == b;
}

struct Discovery::Runner {
  Runner(asio::any_io_executor executor, KscSource src, Discovery* discovery)
      : source(std::move(src)), owner(discovery), timer(executor) {}

  KscSource source;
  Discovery* owner;  // null once halted: the loop then ends without touching it
  bool halted = false;
  asio::steady_timer timer;
  std::shared_ptr<RunCancel> run;  // the run in flight

  // The last good result.
  std::vector<DiscoveredTarget> targets;
  std::shared_ptr<const std::vector<AgentView>> agents;  // the server's view of `targets`
  TargetStats stats;
  std::map<std::string, std::size_t> skipped;
  std::size_t listed = 0;  // devices the server listed
  std::optional<double> last_success_unix;
  std::optional<Clock::time_point> last_success;
  // The last run.
  bool ran = false;
  bool success = false;
  double duration_seconds = 0;
  std::vector<Statistic> statistics;
  Error error;
  std::string statistics_error;
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;
  Clock::duration backoff{};  // the last retry delay; zero after a success

  /// The last success is older than stale_after (never before a first success).
  bool stale(Clock::time_point now) const {
    return last_success && now - *last_success > source.stale_after;
  }
};

Discovery::Discovery(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)), options_(std::move(options)) {
  if (!options_.wall_clock) options_.wall_clock = wall_now;
}

Discovery::~Discovery() { stop(); }

void Discovery::halt(Runner& runner) {
  runner.halted = true;
  runner.owner = nullptr;
  runner.timer.cancel();
  if (runner.run) runner.run->cancel();
}

std::shared_ptr<Discovery::Runner> Discovery::start(KscSource source) {
  auto runner = std::make_shared<Runner>(executor_, std::move(source), this);
  asio::co_spawn(executor_, loop(runner), asio::detached);
  return runner;
}

asio::awaitable<void> Discovery::loop(std::shared_ptr<Runner> runner) {
  while (!runner->halted) {
    auto cancel = std::make_shared<RunCancel>();
    runner->run = cancel;
    RunResult result;
    std::optional<std::string> failure;
    try {
      result = co_await run_discovery(runner->timer.get_executor(), runner->source,
                                      runner->owner->options_.run_timeout, cancel);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    runner->run.reset();
    if (runner->halted) co_return;
    if (failure) {
      result = RunResult{};
      result.error = Error::of(ErrorKind::malformed, "internal error: " + *failure);
    }
    Discovery& self = *runner->owner;
    auto [changed, delay] = self.finish_run(*runner, std::move(result));
    if (changed && self.on_change) self.on_change();
    if (runner->halted) co_return;
    if (self.on_run) self.on_run();
    if (runner->halted) co_return;
    runner->timer.expires_after(std::max(delay, kMinDelay));
    co_await runner->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

std::pair<bool, Clock::duration> Discovery::finish_run(Runner& r, RunResult result) {
  const KscSource& s = r.source;
  const std::string who = "KSC " + s.name + ": ";
  const Clock::duration refresh = std::max<Clock::duration>(s.refresh, kMinDelay);
  const bool recovered = r.ran && !r.success;
  ++r.runs;
  r.ran = true;
  r.duration_seconds = std::chrono::duration<double>(result.took).count();

  if (result.error) {
    ++r.failures;
    r.success = false;
    r.statistics.clear();
    r.backoff = r.backoff == Clock::duration::zero()
                    ? options_.first_retry
                    : std::min<Clock::duration>(r.backoff * 2, refresh);
    r.backoff = std::min<Clock::duration>(r.backoff, refresh);
    const bool repeated =
        r.error.kind == result.error.kind && r.error.message == result.error.message;
    r.error = std::move(result.error);
    if (options_.log && !repeated)
      options_.log(true, who + "discovery failed (" + std::string(to_string(r.error.kind)) +
                             "): " + r.error.message + "; " +
                             (r.last_success ? "keeping the " + std::to_string(r.targets.size()) +
                                                   " targets of the last successful discovery"
                                             : std::string("no targets yet")) +
                             "; next attempt in " + seconds_text(r.backoff));
    return {false, r.backoff};
  }

  r.success = true;
  r.error = Error{};
  r.backoff = Clock::duration::zero();
  r.last_success = Clock::now();
  r.last_success_unix = options_.wall_clock();
  r.statistics = std::move(result.statistics);
  r.stats = result.stats;
  r.listed = result.listed;
  r.skipped.clear();
  for (const char* reason : kSkipReasons) r.skipped[reason] = 0;
  for (const auto& [reason, count] : result.skipped) r.skipped[reason] += count;
  const bool changed = !same_targets(r.targets, result.targets);
  r.targets = std::move(result.targets);
  r.agents = std::make_shared<const std::vector<AgentView>>(std::move(result.agents));
  if (options_.log) {
    if (result.statistics_error != r.statistics_error && !result.statistics_error.empty())
      options_.log(true, who + "no server statistics: " + result.statistics_error);
    if (auto it = result.skipped.find("listing_short"); it != result.skipped.end() && it->second)
      options_.log(true, who + "the server counted " + std::to_string(result.listed) +
                             " devices and handed out " + std::to_string(it->second) +
                             " fewer (devices removed while they were listed, or a server that "
                             "ends its listings early)");
    if (changed || recovered || r.runs == 1) {
      std::size_t skipped = 0;
      for (const auto& [reason, count] : r.skipped) skipped += count;
      options_.log(false, who + (recovered ? "discovery recovered: " : "") +
                              std::to_string(r.targets.size()) + " targets from " +
                              std::to_string(result.listed) + " devices" +
                              (skipped ? ", " + std::to_string(skipped) + " skipped" : "") +
                              "; next discovery in " + seconds_text(refresh));
    }
  }
  r.statistics_error = std::move(result.statistics_error);
  return {changed, refresh};
}

bool Discovery::set_sources(std::vector<KscSource> sources) {
  if (stopped_) return false;
  bool changed = false;
  std::vector<std::shared_ptr<Runner>> next;
  std::set<std::string> names;
  for (KscSource& source : sources) {
    if (!names.insert(source.name).second) continue;
    auto old = std::find_if(runners_.begin(), runners_.end(),
                            [&](const auto& r) { return r && r->source.name == source.name; });
    if (old != runners_.end() && same_settings((*old)->source, source)) {
      // Kept: only its place in the file may have moved.
      (*old)->source.pos = source.pos;
      next.push_back(std::move(*old));
      continue;
    }
    if (old != runners_.end()) {
      changed |= !(*old)->targets.empty();
      halt(**old);
      old->reset();
    }
    next.push_back(start(std::move(source)));
  }
  for (auto& r : runners_) {
    if (!r) continue;
    changed |= !r->targets.empty();
    halt(*r);
  }
  runners_ = std::move(next);
  return changed;
}

DiscoveredTargets Discovery::target_lists() const {
  DiscoveredTargets out;
  out.reserve(runners_.size());
  for (const auto& r : runners_) out.push_back({r->targets, r->source.features, r->source.pos});
  return out;
}

std::size_t Discovery::target_count() const {
  std::size_t n = 0;
  for (const auto& r : runners_) n += r->targets.size();
  return n;
}

std::vector<DiscoveryStatus> Discovery::status() const {
  std::vector<DiscoveryStatus> out;
  out.reserve(runners_.size());
  const auto now = Clock::now();
  for (const auto& r : runners_) {
    DiscoveryStatus st;
    st.name = r->source.name;
    st.ran = r->ran;
    st.success = r->success;
    st.duration_seconds = r->duration_seconds;
    st.last_success_unix = r->last_success_unix;
    std::set<Role> seen;
    for (Role role : r->source.roles)
      if (seen.insert(role).second)
        st.targets_by_role.emplace_back(role, r->stats.by_role[static_cast<int>(role)]);
    st.targets = r->targets.size();
    st.devices = r->listed;
    st.skipped = r->skipped;
    if (st.skipped.empty())
      for (const char* reason : kSkipReasons) st.skipped[reason] = 0;
    st.statistics = r->statistics;
    if (r->error) {
      st.error_kind = std::string(to_string(r->error.kind));
      st.error = r->error.message;
    }
    st.stale = r->stale(now);
    st.runs = r->runs;
    st.failures = r->failures;
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<AgentSection> Discovery::agent_sections() const {
  std::vector<AgentSection> out;
  out.reserve(runners_.size());
  const auto now = Clock::now();
  for (const auto& r : runners_) {
    AgentSection a;
    a.name = r->source.name;
    a.stale_after = r->source.stale_after;
    a.stale = r->stale(now);
    a.agents = r->agents;
    out.push_back(std::move(a));
  }
  return out;
}

bool Discovery::settled() const {
  return std::all_of(runners_.begin(), runners_.end(), [](const auto& r) { return r->ran; });
}

void Discovery::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& r : runners_) halt(*r);
}

}  // namespace kscprobe::ksc
