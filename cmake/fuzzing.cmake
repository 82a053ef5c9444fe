# libFuzzer targets (tests/fuzz/fuzz_*.cpp), built with -DKSCPROBE_BUILD_FUZZERS=ON and clang++ in
# a build directory of their own, together with -DKSCPROBE_SANITIZE=address,undefined so that a
# memory error is a crash the fuzzer reports. scripts/test.d/25-fuzz.sh runs each one for a
# bounded time over its seed corpus in tests/fuzz/corpus/<name>/.
if(KSCPROBE_BUILD_FUZZERS)
  file(GLOB _kscprobe_fuzz_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.cpp)
  foreach(_source IN LISTS _kscprobe_fuzz_sources)
    get_filename_component(_name ${_source} NAME_WE)
    add_executable(${_name} ${_source})
    target_link_libraries(${_name} PRIVATE kscprobe_app kscprobe_simulator kscprobe_test_warnings)
    target_link_options(${_name} PRIVATE -fsanitize=fuzzer)
  endforeach()
endif()

# The fault-matrix peer and the load tests: targets outside the default build (EXCLUDE_FROM_ALL)
# that their test stages build on demand, so the ordinary build stays as fast as before.
if(KSCPROBE_BUILD_TESTS AND NOT KSCPROBE_BUILD_FUZZERS)
  foreach(_dir fault load bench)
    if(EXISTS ${CMAKE_SOURCE_DIR}/tests/${_dir}/CMakeLists.txt)
      add_subdirectory(${CMAKE_SOURCE_DIR}/tests/${_dir} ${CMAKE_BINARY_DIR}/tests-${_dir})
    endif()
  endforeach()
endif()
