# Toolchain for the Windows build on Linux: mingw-w64 for x86_64, the posix threads compiler
# (std::thread and std::mutex on winpthreads, which Asio and the scheduler need). The
# "windows-mingw" preset (CMakePresets.json) uses it; scripts/mingw-deps.sh builds the libraries
# Debian has no mingw package of first.
#
# Where the libraries come from:
# - OpenSSL and yaml-cpp: the static builds of scripts/mingw-deps.sh, found through
#   ${KSCPROBE_MINGW_DEPS}/prefixes.cmake, which it writes (the prefixes are per version);
# - zlib: Debian's libz-mingw-w64-dev (/usr/x86_64-w64-mingw32);
# - Boost, fmt, spdlog, toml++ and CLI11: the Linux packages' headers (header-only, or used
#   header-only: cmake/mingw/*Config.cmake), through a folder of links to just those headers,
#   so that no other header of /usr/include (Linux's OpenSSL, zlib, yaml-cpp) is seen.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(KSCPROBE_MINGW_HOST x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${KSCPROBE_MINGW_HOST}-gcc-posix)
set(CMAKE_CXX_COMPILER ${KSCPROBE_MINGW_HOST}-g++-posix)
set(CMAKE_RC_COMPILER ${KSCPROBE_MINGW_HOST}-windres)

# The cache folder of scripts/mingw-deps.sh: the cache variable, the environment, the default.
if(NOT KSCPROBE_MINGW_DEPS)
  if(DEFINED ENV{KSCPROBE_MINGW_DEPS} AND NOT "$ENV{KSCPROBE_MINGW_DEPS}" STREQUAL "")
    set(KSCPROBE_MINGW_DEPS "$ENV{KSCPROBE_MINGW_DEPS}")
  else()
    set(KSCPROBE_MINGW_DEPS /var/cache/kscprobe/mingw-deps)
  endif()
endif()
# try_compile projects read this file again: they get the same folder.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KSCPROBE_MINGW_DEPS)
if(NOT EXISTS "${KSCPROBE_MINGW_DEPS}/prefixes.cmake")
  message(FATAL_ERROR "${KSCPROBE_MINGW_DEPS}/prefixes.cmake not found: run scripts/mingw-deps.sh "
                      "first (it builds OpenSSL and yaml-cpp for mingw-w64)")
endif()
# Sets KSCPROBE_MINGW_OPENSSL and KSCPROBE_MINGW_YAML_CPP (the install prefixes).
include("${KSCPROBE_MINGW_DEPS}/prefixes.cmake")

set(CMAKE_FIND_ROOT_PATH "${KSCPROBE_MINGW_OPENSSL}" "${KSCPROBE_MINGW_YAML_CPP}"
                         /usr/${KSCPROBE_MINGW_HOST})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(OPENSSL_ROOT_DIR "${KSCPROBE_MINGW_OPENSSL}")
set(OPENSSL_USE_STATIC_LIBS TRUE)
set(ZLIB_USE_STATIC_LIBS TRUE)
set(yaml-cpp_DIR "${KSCPROBE_MINGW_YAML_CPP}/lib/cmake/yaml-cpp" CACHE PATH "")
foreach(_pkg Boost spdlog tomlplusplus CLI11)
  set(${_pkg}_DIR "${CMAKE_CURRENT_LIST_DIR}/mingw/${_pkg}" CACHE PATH "")
endforeach()

# One self-contained kscprobe.exe: the C and C++ runtimes and winpthreads linked in, no DLL
# besides Windows' own.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
