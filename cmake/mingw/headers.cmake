# The Linux packages' headers that the mingw build uses, and only those: a folder of links in
# the build tree (/usr/include itself would bring Linux's OpenSSL, zlib and yaml-cpp headers
# before the mingw builds'). Included by the *Config.cmake files of this folder.
set(KSCPROBE_MINGW_HEADERS "${CMAKE_BINARY_DIR}/mingw-headers")
foreach(_h boost fmt spdlog toml++ CLI)
  if(NOT EXISTS "${KSCPROBE_MINGW_HEADERS}/${_h}")
    if(NOT EXISTS "/usr/include/${_h}")
      message(FATAL_ERROR "/usr/include/${_h} missing (scripts/packages/build.txt)")
    endif()
    file(MAKE_DIRECTORY "${KSCPROBE_MINGW_HEADERS}")
    file(CREATE_LINK "/usr/include/${_h}" "${KSCPROBE_MINGW_HEADERS}/${_h}" SYMBOLIC)
  endif()
endforeach()
