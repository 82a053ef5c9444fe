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
  target_sources(kscprobe PRIVATE "${_gen}/messages.rc")
  # The .rc names its .bin relative to the folder it is in.
  target_include_directories(kscprobe PRIVATE "$<$<COMPILE_LANGUAGE:RC>:${_gen}>")
endfunction()

if(TARGET kscprobe)
  kscprobe_add_event_messages()
else()
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL kscprobe_add_event_messages)
endif()
