#include "tests/support/fake_dns.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <set>
#include <thread>
#include <vector>

namespace kscprobe::test {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

struct Question {
  std::string name;  // lower case, labels joined by dots
  std::uint16_t type = 0;
  std::size_t end = 0;  // offset just past QTYPE and QCLASS
};

// The question of a query (RFC 1035 4.1.2), or false if it is not one this server reads.
bool parse_question(const std::uint8_t* p, std::size_t n, Question* q) {
  if (n < 12) return false;
  if ((p[2] & 0x80) != 0) return false;      // a response, not a query
  if (p[4] != 0 || p[5] != 1) return false;  // exactly one question
  std::size_t i = 12;
  while (i < n && p[i] != 0) {
    const std::size_t len = p[i];
    if (len > 63 || i + 1 + len > n) return false;
    if (!q->name.empty()) q->name += '.';
    for (std::size_t k = 0; k < len; ++k) {
      char c = static_cast<char>(p[i + 1 + k]);
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      q->name += c;
    }
    i += 1 + len;
  }
  if (i + 5 > n) return false;
  q->type = static_cast<std::uint16_t>(p[i + 1] << 8 | p[i + 2]);
  q->end = i + 5;
  return true;
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}

}  // namespace

struct FakeDnsServer::Impl {
  explicit Impl(Options o)
      : options(std::move(o)),
        socket(io, udp::endpoint(options.listen_address, options.listen_port)) {
    answering = options.answer;
  }

  void receive() {
    socket.async_receive_from(asio::buffer(buffer), sender,
                              [this](boost::system::error_code ec, std::size_t n) {
                                if (ec) {
                                  if (ec == asio::error::operation_aborted) return;
                                  receive();
                                  return;
                                }
                                handle(n);
                                receive();
                              });
  }

  void handle(std::size_t n) {
    Question q;
    if (!parse_question(buffer.data(), n, &q)) return;
    {
      const auto second = static_cast<std::size_t>(
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
              .count());
      std::lock_guard lock(mutex);
      ++total;
      ++counts[{q.name, q.type}];
      seen.insert(q.name);
      if (by_second.size() <= second) by_second.resize(second + 1, 0);
      ++by_second[second];
    }
    if (!answering.load()) return;
    // The reply: the query's header and question, then the answer if there is one.
    auto reply =
        std::make_shared<std::vector<std::uint8_t>>(buffer.begin(), buffer.begin() + q.end);
    auto& r = *reply;
    std::uint8_t rcode = 0;
    const std::string first = q.name.substr(0, q.name.find('.'));
    if (first == "nx") rcode = 3;        // NXDOMAIN
    if (first == "servfail") rcode = 2;  // SERVFAIL
    asio::ip::address_v4 address = options.address;
    if (rcode == 0 && options.address_of) {
      const auto found = options.address_of(q.name);
      if (found)
        address = *found;
      else
        rcode = 3;
    }
    const bool a_record = rcode == 0 && q.type == kTypeA;
    r[2] = static_cast<std::uint8_t>(0x80 | (r[2] & 0x01) | 0x04);  // QR, RD as asked, AA
    r[3] = static_cast<std::uint8_t>(0x80 | rcode);                 // RA, RCODE
    r[6] = 0;
    r[7] = a_record ? 1 : 0;          // ANCOUNT
    r[8] = r[9] = r[10] = r[11] = 0;  // NSCOUNT, ARCOUNT
    if (a_record) {
      put16(r, 0xC00C);  // the name: a pointer to the question's
      put16(r, kTypeA);
      put16(r, 1);  // IN
      put32(r, options.ttl);
      put16(r, 4);
      const auto bytes = address.to_bytes();
      r.insert(r.end(), bytes.begin(), bytes.end());
    }
    const udp::endpoint to = sender;
    if (options.delay.count() <= 0) {
      boost::system::error_code ignored;
      socket.send_to(asio::buffer(r), to, 0, ignored);
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io, options.delay);
    timer->async_wait([this, timer, reply, to](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code ignored;
      socket.send_to(asio::buffer(*reply), to, 0, ignored);
    });
  }

  Options options;
  const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  asio::io_context io;
  udp::socket socket;
  udp::endpoint sender;
  std::array<std::uint8_t, 1500> buffer{};
  std::atomic<bool> answering{true};
  mutable std::mutex mutex;
  std::uint64_t total = 0;
  std::map<std::pair<std::string, std::uint16_t>, std::uint64_t> counts;
  std::set<std::string> seen;
  std::vector<std::uint64_t> by_second;
  std::thread thread;
};

FakeDnsServer::FakeDnsServer(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  port_ = impl_->socket.local_endpoint().port();
  // Room for a burst of thousands of queries while the thread is busy sending.
  boost::system::error_code ignored;
  impl_->socket.set_option(asio::socket_base::receive_buffer_size(4 << 20), ignored);
  impl_->receive();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

FakeDnsServer::~FakeDnsServer() {
  impl_->io.stop();
  impl_->thread.join();
}

std::string FakeDnsServer::server() const { return "127.0.0.1:" + std::to_string(port_); }

void FakeDnsServer::set_answering(bool answer) { impl_->answering = answer; }

std::uint64_t FakeDnsServer::queries() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->total;
}

std::uint64_t FakeDnsServer::queries_for(const std::string& name, std::uint16_t type) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->counts.find({name, type});
  return it == impl_->counts.end() ? 0 : it->second;
}

std::uint64_t FakeDnsServer::most_queries_of_one_name() const {
  std::lock_guard lock(impl_->mutex);
  std::uint64_t most = 0;
  for (const auto& [key, n] : impl_->counts) {
    if (key.second == kTypeA) most = std::max(most, n);
  }
  return most;
}

std::size_t FakeDnsServer::names() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->seen.size();
}

std::vector<std::uint64_t> FakeDnsServer::queries_by_second() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->by_second;
}

std::chrono::steady_clock::time_point FakeDnsServer::started() const { return impl_->start; }

}  // namespace kscprobe::test
