// IcmpMux where no ICMP socket is implemented (not Linux): every probe ends as "no socket",
// which probe_icmp reports. CMake builds this file instead of icmp_mux_linux.cpp.
#include "collectors/icmp_prober.hpp"

namespace kscprobe {

namespace asio = boost::asio;

struct IcmpMux::Impl {
  std::shared_ptr<detail::PendingProbes> pending;
};

IcmpMux::IcmpMux(asio::any_io_executor executor) : IcmpMux(std::move(executor), Options{}) {}

IcmpMux::IcmpMux(asio::any_io_executor executor, Options)
    : impl_(std::make_shared<Impl>(Impl{detail::PendingProbes::create(executor)})) {}

IcmpMux::~IcmpMux() { impl_->pending->close(); }

void IcmpMux::start(const asio::ip::address&, Clock::duration, Clock::time_point,
                    detail::PendingProbes::Handler handler) {
  DatagramOutcome outcome;
  outcome.kind = DatagramOutcome::Kind::no_socket;
  impl_->pending->post_completion(std::move(handler), outcome);
}

std::string_view IcmpMux::socket_kind(bool) const { return ""; }

std::size_t IcmpMux::pending() const { return impl_->pending->size(); }

}  // namespace kscprobe
