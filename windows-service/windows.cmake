# The Event Log message table of the Windows build: windows-service/messages.mc, compiled by the
# message compiler (the Windows SDK's mc.exe next to rc.exe; windmc with mingw-w64) into
# messages.rc and a .bin, which the resource compiler links into kscprobe.exe. `kscprobe service
# install` registers the executable as the EventMessageFile of the Event Log source "kscprobe",
# so Event Viewer shows each entry's text instead of "the description cannot be found".
#
# The "windows-msvc" preset (CMakePresets.json) includes this file as
# CMAKE_PROJECT_kscprobe_INCLUDE, right after project(), before the kscprobe target exists: the
# work is then deferred to the end of the top-level CMakeLists.txt. Included later (after
# add_executable(kscprobe)), it does the work at once. Either way it runs once.
if(NOT WIN32)
  return()
endif()

function(kscprobe_add_event_messages)
  get_property(_done GLOBAL PROPERTY KSCPROBE_EVENT_MESSAGES_ADDED)
  if(_done)
    return()
  endif()
  set_property(GLOBAL PROPERTY KSCPROBE_EVENT_MESSAGES_ADDED TRUE)
  if(NOT TARGET kscprobe)
    message(WARNING "windows-service/windows.cmake: no kscprobe target, no Event Log messages")
    return()
  endif()
  # The message compiler that goes with the resource compiler: mc.exe with rc.exe (Windows
  # SDK), PREFIX-windmc with PREFIX-windres (binutils for mingw-w64).
  get_filename_component(_rc_dir "${CMAKE_RC_COMPILER}" DIRECTORY)
  get_filename_component(_rc_name "${CMAKE_RC_COMPILER}" NAME_WE)
  if(_rc_name MATCHES "windres$")
    string(REGEX REPLACE "windres$" "windmc" _mc_name "${_rc_name}")
  else()
    set(_mc_name mc)
  endif()
  find_program(KSCPROBE_MC_COMPILER NAMES ${_mc_name} HINTS "${_rc_dir}"
               DOC "Message compiler for windows-service/messages.mc")
  if(NOT KSCPROBE_MC_COMPILER)
    message(WARNING "No message compiler (mc.exe, from the Windows SDK): kscprobe.exe is built "
                    "without its Event Log message table")
    return()
  endif()
  set(_mc "${CMAKE_SOURCE_DIR}/windows-service/messages.mc")
  set(_gen "${CMAKE_BINARY_DIR}/windows-service")
  # -b: messages_MSG00409.bin (named after the .mc); -h and -r: where the header and the .rc go.
  add_custom_command(
    OUTPUT "${_gen}/messages.rc" "${_gen}/messages.h" "${_gen}/messages_MSG00409.bin"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${_gen}"
    COMMAND "${KSCPROBE_MC_COMPILER}" -b -h "${_gen}" -r "${_gen}" "${_mc}"
    DEPENDS "${_mc}"
    COMMENT "Compiling the Event Log messages (windows-service/messages.mc)"
    VERBATIM)
  # kscprobe is defined in daemon/, and a custom command's outputs only get their rule in the
  # directory that adds the command: a target of this directory runs it first (the .rc is marked
  # GENERATED for every directory, CMP0118).
  add_custom_target(kscprobe_event_messages DEPENDS "${_gen}/messages.rc" "${_gen}/messages.h"
                                                    "${_gen}/messages_MSG00409.bin")
  add_dependencies(kscprobe kscprobe_event_messages)
  target_sources(kscprobe PRIVATE "${_gen}/messages.rc")
  # The .rc names its .bin relative to the folder it is in.
  target_include_directories(kscprobe PRIVATE "$<$<COMPILE_LANGUAGE:RC>:${_gen}>")
endfunction()

# The portability guard of the mingw build (KSCPROBE_MSVC_HEADER_GUARD, on in the
# "windows-mingw" preset): mingw-w64 has POSIX headers that MSVC lacks; a project source file
# that includes one directly stops with an #error naming the platform/ header to use instead,
# so what builds with mingw does not fail only on MSVC for that. (Library headers that include
# them get mingw's.)
option(KSCPROBE_MSVC_HEADER_GUARD "Reject POSIX headers MSVC does not have (mingw builds)" OFF)
function(kscprobe_add_msvc_header_guard)
  if(NOT KSCPROBE_MSVC_HEADER_GUARD OR MSVC)
    return()
  endif()
  set(_guard "${CMAKE_BINARY_DIR}/msvc-guard")
  foreach(_h unistd.h sys/time.h dirent.h pthread.h strings.h libgen.h sys/param.h)
    file(CONFIGURE OUTPUT "${_guard}/${_h}" CONTENT "#if __INCLUDE_LEVEL__ == 1
#error \"<${_h}> does not exist with MSVC: see platform/platform.hpp\"
#else
#include_next <${_h}>
#endif
")
  endforeach()
  target_include_directories(kscprobe_build BEFORE INTERFACE "${_guard}")
endfunction()

# kscprobe-selftest.exe (windows-service/mingw/selftest.cpp): what scripts/test.d/40-windows.sh
# checks below the daemon under wine: bcrypt against libxcrypt's hashes, the time and file
# shims, and the message table of the registered EventMessageFile.
function(kscprobe_add_selftest)
  if(NOT TARGET kscprobe_winsvc OR TARGET kscprobe-selftest)
    return()
  endif()
  add_executable(kscprobe-selftest "${CMAKE_SOURCE_DIR}/windows-service/mingw/selftest.cpp")
  target_link_libraries(kscprobe-selftest PRIVATE kscprobe_winsvc kscprobe_warnings)
  if(MINGW)
    # Its entry point is wmain (wide arguments).
    target_link_options(kscprobe-selftest PRIVATE -municode)
  endif()
  set_target_properties(kscprobe-selftest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
endfunction()

function(kscprobe_windows_targets)
  kscprobe_add_event_messages()
  kscprobe_add_msvc_header_guard()
  kscprobe_add_selftest()
endfunction()

if(TARGET kscprobe)
  kscprobe_windows_targets()
else()
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL kscprobe_windows_targets)
endif()
