// DatagramMux where it is not implemented (not Linux): probe_udp does not use it there; a probe
// started on it ends as "no socket". CMake builds this file instead of datagram_mux_linux.cpp.
#include "collectors/datagram_mux.hpp"

namespace kscprobe {

namespace asio = boost::asio;

struct DatagramMux::Impl {
  std::shared_ptr<detail::PendingProbes> pending;
};

DatagramMux::DatagramMux(asio::any_io_executor executor)
    : impl_(std::make_shared<Impl>(Impl{detail::PendingProbes::create(executor)})) {}

DatagramMux::~DatagramMux() { impl_->pending->close(); }

void DatagramMux::start(const asio::ip::udp::endpoint&, std::string_view, Clock::duration,
                        Clock::time_point, detail::PendingProbes::Handler handler) {
  DatagramOutcome outcome;
  outcome.kind = DatagramOutcome::Kind::no_socket;
  impl_->pending->post_completion(std::move(handler), outcome);
}

std::size_t DatagramMux::pending() const { return impl_->pending->size(); }

int DatagramMux::open_sockets() const { return 0; }

}  // namespace kscprobe
