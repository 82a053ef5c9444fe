#pragma once
// Cross-build shim: POSIX <arpa/inet.h> for the mingw-w64 reduced build only, where inet_pton
// lives in Winsock. The MSVC build needs the same mapping in the source files that include it.
#include <winsock2.h>
#include <ws2tcpip.h>
