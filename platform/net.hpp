#pragma once
// The BSD sockets API used directly (inet_pton, getsockname, sockaddr_storage, AF_INET6):
// <arpa/inet.h> and <sys/socket.h> on POSIX, Winsock 2 on Windows; and socket error numbers as
// <cerrno> names on both. winsock2.h brings in windows.h, as Boost.Asio's own socket headers do;
// lean and without the min/max macros.
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <cerrno>

namespace kscprobe::platform {

/// The <cerrno> value of a socket error number (error_code::value() of a system error): itself
/// on POSIX. On Windows, Winsock's WSAE... numbers become their <cerrno> names (EHOSTDOWN, which
/// the Windows C library lacks, becomes EHOSTUNREACH) and anything else 0, so that no Win32
/// error code is taken for the errno value it happens to equal.
inline int socket_errno(int value) {
#ifdef _WIN32
  switch (value) {
    case WSAECONNREFUSED:
      return ECONNREFUSED;
    case WSAETIMEDOUT:
      return ETIMEDOUT;
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN:
      return EHOSTUNREACH;
    case WSAENETUNREACH:
      return ENETUNREACH;
    case WSAENETDOWN:
      return ENETDOWN;
    case WSAEACCES:
      return EACCES;
    case WSAEADDRNOTAVAIL:
      return EADDRNOTAVAIL;
    case WSAECONNRESET:
      return ECONNRESET;
    case WSAECONNABORTED:
      return ECONNABORTED;
    case ERROR_BROKEN_PIPE:
      return EPIPE;
    // The host's own shortages (collectors/error_mapping.cpp: a local fault, never the target's).
    case WSAEMFILE:
      return EMFILE;
    case WSAENOBUFS:
      return ENOBUFS;
    default:
      return 0;
  }
#else
  return value;
#endif
}

/// Whether a UDP socket error (as a <cerrno> value) is the ICMP port unreachable of its peer:
/// ECONNREFUSED, and on Windows also ECONNRESET, which is how Winsock reports it.
inline bool is_udp_port_unreachable(int errno_value) {
#ifdef _WIN32
  return errno_value == ECONNREFUSED || errno_value == ECONNRESET;
#else
  return errno_value == ECONNREFUSED;
#endif
}

/// Whether a system error's value is a resolver's: on Windows Asio reports getaddrinfo's errors
/// (Winsock's WSAHOST_NOT_FOUND, ...) in the system category; elsewhere they have categories of
/// their own, and no system error is one.
inline bool is_resolver_system_error(int value) {
#ifdef _WIN32
  return value == WSAHOST_NOT_FOUND || value == WSATRY_AGAIN || value == WSANO_RECOVERY ||
         value == WSANO_DATA || value == WSATYPE_NOT_FOUND;
#else
  (void)value;
  return false;
#endif
}

/// A plain connected UDP socket learns of ICMP port unreachable and admin-prohibited only; with
/// IP_RECVERR (Linux) the kernel also reports host and network unreachable. Elsewhere a no-op
/// (Windows' option of that name differs).
template <class NativeSocket>
inline void enable_udp_icmp_errors(NativeSocket socket, bool v6) {
#if defined(IP_RECVERR) && defined(IPV6_RECVERR) && !defined(_WIN32)
  int one = 1;
  if (v6) {
    ::setsockopt(socket, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
  } else {
    ::setsockopt(socket, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
  }
#else
  (void)socket;
  (void)v6;
#endif
}

}  // namespace kscprobe::platform
