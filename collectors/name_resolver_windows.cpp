// The resolver's native backend on Windows, which builds without c-ares (CMake chooses this file,
// or name_resolver_posix.cpp): getaddrinfo on a pool of threads.
#include "collectors/name_resolver.hpp"

namespace kscprobe::detail {

std::unique_ptr<ResolverBackend> make_native_backend(boost::asio::any_io_executor executor,
                                                     const ResolverOptions& options) {
  return make_system_backend(std::move(executor), options);
}

}  // namespace kscprobe::detail
