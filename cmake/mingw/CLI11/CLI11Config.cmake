# CLI11 for the mingw build (cmake/mingw-w64.cmake): Debian's headers (header-only).
include("${CMAKE_CURRENT_LIST_DIR}/../headers.cmake")
if(NOT TARGET CLI11::CLI11)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES
                                                "${KSCPROBE_MINGW_HEADERS}")
endif()
set(CLI11_FOUND TRUE)
