# Service integration, install layout and the Debian package.
#
# `cmake --install build` (prefix /usr/local by default, /usr for packages) installs:
#   <prefix>/bin/kscprobe
#   <prefix>/lib/systemd/system/kscprobe.service, kscprobe.socket
#   <prefix>/lib/sysusers.d/kscprobe.conf, <prefix>/lib/tmpfiles.d/kscprobe.conf
#   <prefix>/share/man/man8/kscprobe.8.gz, <prefix>/share/doc/kscprobe/
#   <prefix>/share/doc/kscprobe/examples/icmp-raw.conf (an inactive drop-in: raw-socket ICMP)
#   /etc/kscprobe/kscprobe.toml (a minimal config that loads) and kscprobe.example.toml
#   /etc/default/kscprobe (extra command-line flags for the unit)
# systemd searches both /usr/lib and /usr/local/lib for units, sysusers and tmpfiles snippets,
# so either prefix works; the unit's ExecStart= is written at install time with the real prefix.
include(GNUInstallDirs)

set(KSCPROBE_CONFDIR "/etc/kscprobe" CACHE PATH "Where the configuration is installed")
set(KSCPROBE_DEFAULTSDIR "/etc/default" CACHE PATH "Where the unit's environment file goes")

if(NOT WIN32)
  set(_svc_src ${CMAKE_SOURCE_DIR}/systemd)
  set(_svc_gen ${CMAKE_BINARY_DIR}/systemd-gen)
  # Written at install time: CMAKE_INSTALL_PREFIX is then the prefix really used (CPack
  # installs with /usr, a developer with /usr/local).
  install(CODE "
    set(KSCPROBE_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    set(KSCPROBE_CONFDIR \"${KSCPROBE_CONFDIR}\")
    set(KSCPROBE_DEFAULTSDIR \"${KSCPROBE_DEFAULTSDIR}\")
    configure_file(\"${_svc_src}/kscprobe.service.in\" \"${_svc_gen}/kscprobe.service\" @ONLY)
    configure_file(\"${_svc_src}/kscprobe.socket\" \"${_svc_gen}/kscprobe.socket\" COPYONLY)
    file(READ \"${_svc_src}/kscprobe.8\" _man)
    file(MAKE_DIRECTORY \"${_svc_gen}\")
    file(WRITE \"${_svc_gen}/kscprobe.8\" \"\${_man}\")
    execute_process(COMMAND gzip -9nf \"${_svc_gen}/kscprobe.8\")
  " COMPONENT service)
  install(FILES ${_svc_gen}/kscprobe.service ${_svc_gen}/kscprobe.socket
          DESTINATION lib/systemd/system COMPONENT service)
  install(FILES ${_svc_src}/kscprobe.sysusers DESTINATION lib/sysusers.d RENAME kscprobe.conf
          COMPONENT service)
  install(FILES ${_svc_src}/kscprobe.tmpfiles DESTINATION lib/tmpfiles.d RENAME kscprobe.conf
          COMPONENT service)
  install(FILES ${_svc_gen}/kscprobe.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8
          COMPONENT service)
  install(FILES ${_svc_src}/kscprobe.toml DESTINATION ${KSCPROBE_CONFDIR} COMPONENT service)
  install(FILES ${CMAKE_SOURCE_DIR}/examples/kscprobe.example.toml
          DESTINATION ${KSCPROBE_CONFDIR} COMPONENT service)
  install(FILES ${_svc_src}/kscprobe.default DESTINATION ${KSCPROBE_DEFAULTSDIR}
          RENAME kscprobe COMPONENT service)
  install(FILES ${_svc_src}/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT service)
  # Only an example: copied to /etc/systemd/system/kscprobe.service.d/ by whoever wants it.
  install(FILES ${_svc_src}/kscprobe.service.d/icmp-raw.conf.example
          DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples RENAME icmp-raw.conf COMPONENT service)
  install(CODE "
    file(READ \"${_svc_src}/changelog\" _cl)
    file(WRITE \"${_svc_gen}/changelog\" \"\${_cl}\")
    execute_process(COMMAND gzip -9nf \"${_svc_gen}/changelog\")
  " COMPONENT service)
  install(FILES ${_svc_gen}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR}
          COMPONENT service)

  # The Debian package: `cpack --config build/CPackConfig.cmake -G DEB`.
  set(CPACK_GENERATOR "DEB")
  set(CPACK_PACKAGE_NAME "kscprobe")
  set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
  # Set to the real maintainer when publishing the package.
  set(KSCPROBE_DEB_MAINTAINER "kscprobe maintainers <kscprobe@example.org>"
      CACHE STRING "Maintainer field of the .deb")
  set(CPACK_PACKAGE_CONTACT "${KSCPROBE_DEB_MAINTAINER}")
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
      "Kaspersky Security Center port prober and Prometheus exporter")
  set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
      "kscprobe probes the documented network ports of a Kaspersky Security Center\n\
estate (administration servers, distribution points, Network Agents, Web\n\
Console, iOS MDM, database) on its own schedule and serves reachability,\n\
latency, TLS certificate and failure-reason metrics for Prometheus.")
  set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
  set(CPACK_DEBIAN_PACKAGE_SECTION "net")
  set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/kscprobe")
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  # systemd-sysusers and systemd-tmpfiles come with systemd; the unit is useless without it.
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
  set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
      ${_svc_src}/debian/postinst ${_svc_src}/debian/prerm ${_svc_src}/debian/postrm
      ${_svc_src}/debian/conffiles)
  set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
  # Stripped binary in the package, as Debian policy asks.
  set(CPACK_STRIP_FILES TRUE)
  include(CPack)
endif()

# Windows (MSVC + vcpkg, see windows-service/README.md): the service host and the App body.
if(WIN32)
  # The Windows edge, like systemd's: it depends on App's interface, nothing below includes it.
  add_library(kscprobe_winsvc STATIC ${CMAKE_SOURCE_DIR}/windows-service/service_framework.cpp
                                     ${CMAKE_SOURCE_DIR}/windows-service/service_app.cpp)
  target_link_libraries(kscprobe_winsvc PUBLIC kscprobe_app advapi32 shell32 ws2_32 mswsock)
  target_link_libraries(kscprobe_winsvc PRIVATE kscprobe_warnings)
  foreach(_exe kscprobe kscprobe-demo)
    target_link_libraries(${_exe} PRIVATE kscprobe_winsvc)
  endforeach()
  install(FILES ${CMAKE_SOURCE_DIR}/examples/kscprobe.example.toml
          ${CMAKE_SOURCE_DIR}/systemd/kscprobe.toml DESTINATION etc)
endif()
