#include "collectors/datagram_mux.hpp"

#include <boost/asio/post.hpp>
#include <cstring>
#include <utility>

#include "collectors/datagram_io.hpp"
#include "collectors/wake_grid.hpp"

namespace kscprobe {

namespace asio = boost::asio;

PeerKey PeerKey::of(const asio::ip::address& address, std::uint16_t tag) {
  PeerKey key;
  key.tag = tag;
  if (address.is_v4()) {
    auto bytes = address.to_v4().to_bytes();
    std::memcpy(key.address.data(), bytes.data(), bytes.size());
  } else {
    auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) {
      auto bytes = asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes();
      std::memcpy(key.address.data(), bytes.data(), bytes.size());
    } else {
      key.v6 = true;
      key.address = v6.to_bytes();
    }
  }
  return key;
}

std::size_t PeerKeyHash::operator()(const PeerKey& key) const noexcept {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  std::memcpy(&low, key.address.data(), 8);
  std::memcpy(&high, key.address.data() + 8, 8);
  std::uint64_t h = low ^ (high * 0x9e3779b97f4a7c15ull) ^
                    (static_cast<std::uint64_t>(key.tag) << 48) ^ (key.v6 ? 1ull << 47 : 0);
  // splitmix64's finalizer: every input bit reaches every output bit.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<std::size_t>(h);
}

namespace detail {

namespace {

// Under load the timer does not wake for every single deadline: it wakes on the loop's wake grid
// (wake_grid.hpp), at least this much after it last fired, and every probe due by then ends in
// the same turn.
constexpr auto kTimerCoalescing = std::chrono::milliseconds(4);
// Beyond this many deadline FIFOs, the empty ones are dropped.
constexpr std::size_t kFifosKept = 8;

}  // namespace

struct PendingProbes::Fifo {
  Clock::duration timeout{};
  boost::intrusive::list<Entry, boost::intrusive::member_hook<Entry, Hook, &Entry::deadline_hook>,
                         boost::intrusive::constant_time_size<false>>
      list;
};

// Lives in the caller's cancellation slot while the probe waits. A probe finished otherwise
// clears the slot (destroying this); one finished from here leaves it in place, disarmed, until
// the caller's next operation replaces it.
struct PendingProbes::CancelHandler {
  CancelHandler(PendingProbes* o, Entry* e) : owner(o), entry(e) {}
  void operator()(asio::cancellation_type type) {
    if (entry == nullptr || type == asio::cancellation_type::none) return;
    Entry* e = std::exchange(entry, nullptr);
    DatagramOutcome outcome;
    outcome.kind = DatagramOutcome::Kind::cancelled;
    owner->finish(e, outcome, /*from_slot=*/true);
  }
  PendingProbes* owner;
  Entry* entry;
};

std::shared_ptr<PendingProbes> PendingProbes::create(const asio::any_io_executor& executor) {
  return std::shared_ptr<PendingProbes>(new PendingProbes(executor));
}

PendingProbes::PendingProbes(const asio::any_io_executor& executor)
    : executor_(executor), timer_(executor) {}

PendingProbes::~PendingProbes() { close(); }

PendingProbes::Entry* PendingProbes::add(const PeerKey& key, Clock::duration timeout,
                                         Clock::time_point deadline, Handler handler) {
  if (closed_) {
    DatagramOutcome outcome;
    outcome.kind = DatagramOutcome::Kind::cancelled;
    post_completion(std::move(handler), outcome);
    return nullptr;
  }
  auto* entry = new Entry(std::move(handler));
  entry->key = key;
  entry->deadline = deadline;

  auto [it, inserted] = by_key_.try_emplace(key, entry);
  entry->keyed = true;
  if (!inserted) {
    Entry* last = it->second;
    while (last->next_same != nullptr) last = last->next_same;
    last->next_same = entry;
  }

  Fifo* fifo = nullptr;
  for (auto& f : fifos_) {
    if (f->timeout == timeout) {
      fifo = f.get();
      break;
    }
  }
  if (fifo == nullptr) {
    fifos_.push_back(std::make_unique<Fifo>());
    fifo = fifos_.back().get();
    fifo->timeout = timeout;
  }
  // Probes of one timeout start in order, so the new one nearly always goes last; one whose
  // name took a while to resolve started earlier and moves forward past the later ones.
  auto position = fifo->list.end();
  while (position != fifo->list.begin()) {
    auto previous = std::prev(position);
    if (previous->deadline <= deadline) break;
    position = previous;
  }
  fifo->list.insert(position, *entry);
  ++size_;

  entry->slot = asio::get_associated_cancellation_slot(entry->handler);
  if (entry->slot.is_connected()) entry->slot.template emplace<CancelHandler>(this, entry);
  arm(on_wake_grid(deadline));
  return entry;
}

std::size_t PendingProbes::finish_key(const PeerKey& key, const DatagramOutcome& outcome) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return 0;
  Entry* entry = it->second;
  by_key_.erase(it);
  std::size_t count = 0;
  while (entry != nullptr) {
    Entry* next = std::exchange(entry->next_same, nullptr);
    entry->keyed = false;  // out of the map already
    finish(entry, outcome, /*from_slot=*/false);
    entry = next;
    ++count;
  }
  return count;
}

void PendingProbes::finish(Entry* entry, DatagramOutcome outcome) {
  finish(entry, std::move(outcome), /*from_slot=*/false);
}

void PendingProbes::unlink_key(Entry* entry) {
  if (!entry->keyed) return;
  entry->keyed = false;
  auto it = by_key_.find(entry->key);
  if (it == by_key_.end()) return;
  if (it->second == entry) {
    if (entry->next_same == nullptr) {
      by_key_.erase(it);
    } else {
      it->second = entry->next_same;
    }
    return;
  }
  for (Entry* p = it->second; p->next_same != nullptr; p = p->next_same) {
    if (p->next_same == entry) {
      p->next_same = entry->next_same;
      return;
    }
  }
}

void PendingProbes::finish(Entry* entry, DatagramOutcome outcome, bool from_slot) {
  unlink_key(entry);
  entry->deadline_hook.unlink();
  entry->backlog_hook.unlink();
  --size_;
  if (!from_slot && entry->slot.is_connected()) entry->slot.clear();
  outcome.sent = entry->sent;
  outcome.sent_at = entry->sent_at;
  Handler handler = std::move(entry->handler);
  delete entry;
  post_completion(std::move(handler), std::move(outcome));
}

void PendingProbes::post_completion(Handler handler, DatagramOutcome outcome) {
  // Posted, never run inline: the probe's coroutine may start another probe at once, and must
  // not do so while this class walks its lists. The executor is the probes' own (one loop).
  asio::post(executor_, [handler = std::move(handler), outcome = std::move(outcome)]() mutable {
    std::move(handler)(std::move(outcome));
  });
}

void PendingProbes::arm(Clock::time_point at) {
  if (closed_ || (timer_waiting_ && timer_at_ <= at)) return;
  timer_at_ = at;
  timer_waiting_ = true;
  const std::uint64_t generation = ++timer_generation_;
  timer_.expires_at(at);  // a wait for a later time completes as aborted, and is ignored
  timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code&) {
    self->on_timer(generation);
  });
}

void PendingProbes::on_timer(std::uint64_t generation) {
  if (generation != timer_generation_) return;
  timer_waiting_ = false;
  if (closed_) return;
  const auto now = Clock::now();
  auto next = Clock::time_point::max();
  for (auto& fifo : fifos_) {
    while (!fifo->list.empty() && fifo->list.front().deadline <= now) {
      Entry& entry = fifo->list.front();
      DatagramOutcome outcome;
      outcome.kind = entry.sent ? DatagramOutcome::Kind::silence : DatagramOutcome::Kind::unsent;
      finish(&entry, outcome, /*from_slot=*/false);
    }
    if (!fifo->list.empty()) next = std::min(next, fifo->list.front().deadline);
  }
  // Timeouts come from the configuration (and /probe's scrape budget): a few at a time, but a
  // reload can leave some unused for good.
  if (fifos_.size() > kFifosKept) {
    std::erase_if(fifos_, [](const std::unique_ptr<Fifo>& f) { return f->list.empty(); });
  }
  if (next != Clock::time_point::max()) arm(on_wake_grid(std::max(next, now + kTimerCoalescing)));
}

void PendingProbes::close() {
  if (closed_) return;
  closed_ = true;
  ++timer_generation_;
  timer_.cancel();
  timer_waiting_ = false;
  for (auto& fifo : fifos_) {
    while (!fifo->list.empty()) {
      DatagramOutcome outcome;
      outcome.kind = DatagramOutcome::Kind::cancelled;
      finish(&fifo->list.front(), outcome, /*from_slot=*/false);
    }
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// DatagramMux

}  // namespace kscprobe
