# Service integration, install layout, the Debian package and the RPM.
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
  set(_description
      "kscprobe probes the documented network ports of a Kaspersky Security Center\n\
estate (administration servers, distribution points, Network Agents, Web\n\
Console, iOS MDM, database) on its own schedule and serves reachability,\n\
latency, TLS certificate and failure-reason metrics for Prometheus.")
  set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${_description}")
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

  # The RPM, from the same install rules (the same files), the same conffiles
  # (systemd/debian/conffiles), the same permissions (systemd/kscprobe.tmpfiles) and scriptlets
  # that do what the .deb's maintainer scripts do (systemd/rpm/):
  # `cpack --config build/CPackConfig.cmake -G RPM` (needs rpmbuild: Debian package rpm).
  set(CPACK_RPM_PACKAGE_RELEASE 1)
  set(CPACK_RPM_FILE_NAME RPM-DEFAULT)  # kscprobe-<version>-<release>.<arch>.rpm
  set(CPACK_RPM_PACKAGE_DESCRIPTION "${_description}")
  set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
  set(CPACK_RPM_PACKAGE_URL "${CPACK_DEBIAN_PACKAGE_HOMEPAGE}")
  # As systemd/copyright says: no license declared yet.
  set(CPACK_RPM_PACKAGE_LICENSE "LicenseRef-undeclared")
  set(CPACK_RPM_PACKAGE_REQUIRES "systemd")
  set(CPACK_RPM_PACKAGE_REQUIRES_PRE "systemd")
  set(CPACK_RPM_PACKAGE_REQUIRES_POST "systemd")
  set(CPACK_RPM_PACKAGE_REQUIRES_PREUN "systemd")
  # Files go where the install rules put them (/etc is not under the prefix).
  set(CPACK_RPM_PACKAGE_RELOCATABLE OFF)
  # No /usr/lib/.build-id links: they would belong to no debuginfo package. No brp-* scripts
  # after %install: CPack already strips the binary and the install rules compress the man page
  # and the changelog (and Debian's brp-compress needs a shell that /bin/sh is not there).
  # The Packager tag: the .deb's maintainer.
  set(CPACK_RPM_SPEC_MORE_DEFINE
      "%define _build_id_links none\n%define __os_install_post %{nil}\n%define packager ${KSCPROBE_DEB_MAINTAINER}")
  # Directories that belong to the filesystem or systemd packages, not to kscprobe.
  set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
      /etc/default /usr/lib/systemd /usr/lib/systemd/system /usr/lib/sysusers.d
      /usr/lib/tmpfiles.d /usr/share/man /usr/share/man/man8 /usr/share/doc)
  # Conffiles: %config(noreplace), with the mode and group that tmpfiles gives them (`d` and `z`
  # lines), so that rpm lays them so and `rpm -V` agrees with what postinst makes of them.
  file(STRINGS ${_svc_src}/debian/conffiles _conffiles REGEX "^/")
  file(STRINGS ${_svc_src}/kscprobe.tmpfiles _tmpfiles REGEX "^[dz] ")
  set(_filelist "")
  foreach(_line IN LISTS _tmpfiles)
    string(REGEX MATCH "^([dz]) ([^ ]+) ([0-7]+) ([^ ]+) ([^ ]+)" _ok "${_line}")
    set(_attr "%attr(${CMAKE_MATCH_3},${CMAKE_MATCH_4},${CMAKE_MATCH_5})")
    if(CMAKE_MATCH_1 STREQUAL "d")
      list(APPEND _filelist "${_attr} %dir ${CMAKE_MATCH_2}")
    else()
      set(_attr_${CMAKE_MATCH_2} "${_attr}")
    endif()
  endforeach()
  foreach(_f IN LISTS _conffiles)
    if(DEFINED _attr_${_f})
      list(APPEND _filelist "%config(noreplace) ${_attr_${_f}} ${_f}")
    else()
      list(APPEND _filelist "%config(noreplace) ${_f}")
    endif()
  endforeach()
  set(CPACK_RPM_USER_FILELIST ${_filelist})
  # %pre creates the account from the same sysusers snippet, before %attr needs its group.
  file(READ ${_svc_src}/kscprobe.sysusers KSCPROBE_SYSUSERS)
  string(STRIP "${KSCPROBE_SYSUSERS}" KSCPROBE_SYSUSERS)
  configure_file(${_svc_src}/rpm/pre.in ${_svc_gen}/rpm-pre @ONLY)
  set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${_svc_gen}/rpm-pre)
  set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${_svc_src}/rpm/post)
  set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${_svc_src}/rpm/preun)
  set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${_svc_src}/rpm/postun)
  # %changelog from systemd/changelog (Debian's format: one entry per version).
  file(STRINGS ${_svc_src}/changelog _cl_lines)
  set(_rpm_cl "")
  set(_items "")
  foreach(_line IN LISTS _cl_lines)
    if(_line MATCHES "^kscprobe \\(([^)]+)\\)")
      set(_ver "${CMAKE_MATCH_1}")
    elseif(_line MATCHES "^  \\* (.*)")
      string(APPEND _items "- ${CMAKE_MATCH_1}\n")
    elseif(_line MATCHES "^    (.*)")
      string(APPEND _items "  ${CMAKE_MATCH_1}\n")
    elseif(_line MATCHES "^ -- (.*>)  ([A-Z][a-z][a-z]), ([0-9]+) ([A-Z][a-z][a-z]) ([0-9]+)")
      string(APPEND _rpm_cl "* ${CMAKE_MATCH_2} ${CMAKE_MATCH_4} ${CMAKE_MATCH_3} ${CMAKE_MATCH_5} "
             "${CMAKE_MATCH_1} - ${_ver}-${CPACK_RPM_PACKAGE_RELEASE}\n${_items}\n")
      set(_items "")
    endif()
  endforeach()
  file(WRITE ${_svc_gen}/rpm-changelog "${_rpm_cl}")
  set(CPACK_RPM_CHANGELOG_FILE ${_svc_gen}/rpm-changelog)
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
