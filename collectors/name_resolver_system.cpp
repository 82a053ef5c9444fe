// The resolver's getaddrinfo backend, on every platform: the native one where the build has no
// c-ares (Windows), and ResolverOptions::Backend::system elsewhere. getaddrinfo blocks and
// tells no TTL, so lookups run on a few threads of their own (not Asio's single resolver
// thread, which asks one name at a time) and answers are kept for the cache's floor.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "collectors/name_resolver.hpp"

namespace kscprobe::detail {
namespace {

namespace asio = boost::asio;

// Lookups at once: each blocks a thread for up to the system resolver's own timeout.
constexpr std::size_t kThreads = 8;

LookupAnswer answer_of(const boost::system::error_code& ec,
                       const asio::ip::tcp::resolver::results_type& results) {
  LookupAnswer answer;
  if (!ec) {
    for (const auto& entry : results) {
      const auto address = entry.endpoint().address();
      bool seen = false;
      for (const auto& a : answer.addresses) seen = seen || a == address;
      if (!seen) answer.addresses.push_back(address);
    }
  }
  if (!answer.addresses.empty()) {
    answer.status = LookupStatus::ok;
    return answer;
  }
  if (!ec || ec == asio::error::host_not_found || ec == asio::error::no_data) {
    answer.status = LookupStatus::not_found;
  } else {
    answer.status = LookupStatus::failed;
  }
  answer.detail = ec ? ec.message() : "no address";
  return answer;
}

class SystemBackend final : public ResolverBackend {
 public:
  explicit SystemBackend(asio::any_io_executor executor)
      : executor_(std::move(executor)), pool_(kThreads) {}

  ~SystemBackend() override {
    alive_.reset();
    // Lookups not begun are dropped; one in getaddrinfo is waited for (it cannot be stopped).
    pool_.stop();
    pool_.join();
  }

  void query(const std::string& name, Done done) override {
    asio::post(pool_, [name, done = std::move(done), executor = executor_,
                       alive = std::weak_ptr<int>(alive_), pool = pool_.get_executor()]() mutable {
      asio::ip::tcp::resolver resolver(pool);
      boost::system::error_code ec;
      auto results = resolver.resolve(name, "0", asio::ip::tcp::resolver::numeric_service, ec);
      Answer answer{answer_of(ec, results), std::nullopt};
      asio::post(executor, [alive, done = std::move(done), answer = std::move(answer)]() mutable {
        if (alive.lock()) done(std::move(answer));
      });
    });
  }

 private:
  asio::any_io_executor executor_;
  asio::thread_pool pool_;
  // Completions hold it weakly: once it is gone, a late one calls nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace

std::unique_ptr<ResolverBackend> make_system_backend(asio::any_io_executor executor,
                                                     const ResolverOptions&) {
  return std::make_unique<SystemBackend>(std::move(executor));
}

}  // namespace kscprobe::detail
