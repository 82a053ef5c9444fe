#pragma once
// Portability shims for the few C library facilities whose POSIX and Windows spellings differ.
// Header-only and free of windows.h (only windows-service/ includes it); the sockets API is in
// platform/net.hpp.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#ifdef _WIN32
#include <io.h>       // _commit
#include <process.h>  // _getpid
#else
#include <unistd.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>  // malloc_trim
#endif

namespace kscprobe::platform {

/// The broken-down UTC time of `t` (gmtime_r on POSIX, gmtime_s on Windows; both thread-safe).
inline std::tm utc_tm(std::time_t t) {
  std::tm tm{};
#ifdef _WIN32
  gmtime_s(&tm, &t);
#else
  gmtime_r(&t, &tm);
#endif
  return tm;
}

/// Seconds since the epoch of a broken-down UTC time (timegm on POSIX, _mkgmtime on Windows).
inline std::int64_t utc_seconds(std::tm* tm) {
#ifdef _WIN32
  return static_cast<std::int64_t>(_mkgmtime(tm));
#else
  return static_cast<std::int64_t>(timegm(tm));
#endif
}

/// Returns the heap's free memory to the system where the C library can (glibc's malloc_trim);
/// elsewhere a no-op.
inline void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

/// The process id (getpid / _getpid), e.g. to name a temporary file.
inline long process_id() {
#ifdef _WIN32
  return static_cast<long>(_getpid());
#else
  return static_cast<long>(::getpid());
#endif
}

/// Writes a file's data through to the disk (fsync / _commit), after fflush; true on success.
inline bool sync_file(std::FILE* f) {
#ifdef _WIN32
  return _commit(_fileno(f)) == 0;
#else
  return ::fsync(fileno(f)) == 0;
#endif
}

/// CPU time of the calling thread, in seconds (CLOCK_THREAD_CPUTIME_ID where there is one; else
/// the process's, from std::clock): to measure work done on the event loop's thread.
inline double thread_cpu_seconds() {
#ifdef CLOCK_THREAD_CPUTIME_ID
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
#endif
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

/// The signal that asks the daemon to re-read its configuration: SIGHUP. Windows has no such
/// signal (the service's reload control and POST /-/reload do it there): 0, never delivered.
#ifdef SIGHUP
inline constexpr int kReloadSignal = SIGHUP;
#else
inline constexpr int kReloadSignal = 0;
#endif

}  // namespace kscprobe::platform
