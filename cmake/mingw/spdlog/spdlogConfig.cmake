# spdlog for the mingw build (cmake/mingw-w64.cmake): Debian's headers, header-only (the Linux
# build links libspdlog and libfmt, which have no mingw package). Debian's tweakme.h sets
# SPDLOG_FMT_EXTERNAL, so fmt is header-only too.
include("${CMAKE_CURRENT_LIST_DIR}/../headers.cmake")
if(NOT TARGET spdlog::spdlog)
  add_library(spdlog::spdlog INTERFACE IMPORTED)
  set_target_properties(spdlog::spdlog PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${KSCPROBE_MINGW_HEADERS}"
    INTERFACE_COMPILE_DEFINITIONS "SPDLOG_HEADER_ONLY;SPDLOG_FMT_EXTERNAL;FMT_HEADER_ONLY")
endif()
set(spdlog_FOUND TRUE)
