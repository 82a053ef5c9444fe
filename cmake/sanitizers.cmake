# -DKSCPROBE_SANITIZE=address,undefined (or thread) builds everything with those sanitizers.
# Included before any target is defined, so the flags reach kscprobe_app, the binaries and the
# test suites alike (a sanitizer runtime must be linked into every object that it instruments).
set(KSCPROBE_SANITIZE "" CACHE STRING "Comma-separated sanitizers: address,undefined or thread")

if(KSCPROBE_SANITIZE)
  string(REPLACE "," ";" _kscprobe_sanitizers "${KSCPROBE_SANITIZE}")
  foreach(_san IN LISTS _kscprobe_sanitizers)
    if(NOT _san MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "KSCPROBE_SANITIZE: unknown sanitizer '${_san}'")
    endif()
  endforeach()
  if("thread" IN_LIST _kscprobe_sanitizers AND "address" IN_LIST _kscprobe_sanitizers)
    message(FATAL_ERROR "KSCPROBE_SANITIZE: thread and address cannot be combined")
  endif()
  set(_flags -fsanitize=${KSCPROBE_SANITIZE} -fno-omit-frame-pointer)
  if("undefined" IN_LIST _kscprobe_sanitizers)
    # Report-and-stop instead of report-and-continue, so a test run cannot pass over UB.
    list(APPEND _flags -fno-sanitize-recover=all)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      # Clang 14 cannot emit -fsanitize=function's prologue data for the split functions of
      # C++20 coroutines ("Cannot represent a difference across sections"); the rest of UBSan
      # works with them.
      list(APPEND _flags -fno-sanitize=function)
    endif()
  endif()
  add_compile_options(${_flags})
  add_link_options(-fsanitize=${KSCPROBE_SANITIZE})
  message(STATUS "kscprobe: sanitizers ${KSCPROBE_SANITIZE}")
endif()

# libFuzzer builds (cmake/fuzzing.cmake adds the fuzz targets): every object gets the coverage
# instrumentation libFuzzer steers by, so the fuzzers explore kscprobe_app's code, not only
# their own file. Clang only; use a build directory of its own.
option(KSCPROBE_BUILD_FUZZERS "Build the libFuzzer targets in tests/fuzz (clang only)" OFF)
if(KSCPROBE_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KSCPROBE_BUILD_FUZZERS needs clang (CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
