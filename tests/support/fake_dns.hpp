#pragma once
// A tiny DNS server for the resolver's tests and the names benchmark: UDP (127.0.0.1 unless told
// otherwise), on a thread of its own. It answers A queries with one address and a TTL after a
// set delay, AAAA queries with no record (NODATA), names whose first label is "nx" with NXDOMAIN
// and "servfail" with SERVFAIL; it counts every query by name and type and by the second it
// came in, and can be told to never answer.
#include <boost/asio/ip/address_v4.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kscprobe::test {

class FakeDnsServer {
 public:
  static constexpr std::uint16_t kTypeA = 1;
  static constexpr std::uint16_t kTypeAaaa = 28;

  struct Options {
    /// How long each answer waits before it is sent.
    std::chrono::microseconds delay{0};
    std::uint32_t ttl = 60;
    /// The address of every A answer.
    boost::asio::ip::address_v4 address = boost::asio::ip::address_v4::loopback();
    /// False: queries are counted and never answered.
    bool answer = true;
    /// Where it listens (the benchmark: an address of the estate's namespace and port 53).
    boost::asio::ip::address_v4 listen_address = boost::asio::ip::address_v4::loopback();
    std::uint16_t listen_port = 0;  // 0: any free port
    /// Each name's own address (the benchmark's estate); a name it gives none answers NXDOMAIN.
    /// Called on the server's thread with the name in lower case. Unset: `address` for all.
    std::function<std::optional<boost::asio::ip::address_v4>(const std::string&)> address_of;
  };

  explicit FakeDnsServer(Options options);
  ~FakeDnsServer();
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  std::uint16_t port() const { return port_; }
  /// "127.0.0.1:<port>", for ResolverOptions::test_server.
  std::string server() const;
  void set_answering(bool answer);

  /// Queries received, all of them or of one name (lower case, no final dot) and type.
  std::uint64_t queries() const;
  std::uint64_t queries_for(const std::string& name, std::uint16_t type = kTypeA) const;
  /// The most queries of type A any one name received.
  std::uint64_t most_queries_of_one_name() const;
  /// Distinct names asked (any type).
  std::size_t names() const;
  /// Queries received in each whole second since the server started (index 0: the first).
  std::vector<std::uint64_t> queries_by_second() const;
  std::chrono::steady_clock::time_point started() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace kscprobe::test
