# Boost for the mingw build (cmake/mingw-w64.cmake): Debian's headers; Asio and Beast are
# compiled once in platform/asio_impl.cpp, so no Boost library is linked.
include("${CMAKE_CURRENT_LIST_DIR}/../headers.cmake")
if(NOT TARGET Boost::headers)
  add_library(Boost::headers INTERFACE IMPORTED)
  set_target_properties(Boost::headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES
                                                  "${KSCPROBE_MINGW_HEADERS}")
  # Asio on Winsock.
  set_target_properties(Boost::headers PROPERTIES INTERFACE_LINK_LIBRARIES "ws2_32;mswsock")
endif()
set(Boost_FOUND TRUE)
