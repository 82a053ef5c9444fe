# toml++ for the mingw build (cmake/mingw-w64.cmake): Debian's headers (header-only).
include("${CMAKE_CURRENT_LIST_DIR}/../headers.cmake")
if(NOT TARGET tomlplusplus::tomlplusplus)
  add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
  set_target_properties(tomlplusplus::tomlplusplus PROPERTIES INTERFACE_INCLUDE_DIRECTORIES
                                                              "${KSCPROBE_MINGW_HEADERS}")
endif()
set(tomlplusplus_FOUND TRUE)
