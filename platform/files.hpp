#pragma once
// File-system calls whose POSIX and Windows forms differ: pattern matching of file names (glob(3)
// has no Windows counterpart) and the stamp that tells a changed file (stat(2) has no inode and
// only whole seconds there). Windows builds use std::filesystem.
#include <optional>
#include <string>
#include <vector>

namespace kscprobe::platform {

/// The paths matching `pattern`, sorted, at most `limit`. POSIX: glob(3), wildcards anywhere.
/// Windows: * and ? in the last path element only (as Prometheus' file_sd documents), names
/// compared without regard to case, as the file system does.
std::vector<std::string> glob_files(const std::string& pattern, std::size_t limit = 100000);

/// What changes when a file is rewritten or replaced: modification time, size and (POSIX) inode.
struct FileStamp {
  long long mtime_ns = 0;
  long long size = 0;
  unsigned long long inode = 0;  ///< 0 on Windows
  bool operator==(const FileStamp&) const = default;
};

/// The stamp of the regular file `path`; nullopt when it is missing or not a regular file.
std::optional<FileStamp> file_stamp(const std::string& path);

/// Reads the regular file `path`, at most `max_bytes` (a longer file is an error), without ever
/// blocking on it: a FIFO, a device or a directory is refused before it is read (POSIX: opened
/// with O_NONBLOCK and checked with fstat; Windows: only disk files). False with the reason in
/// *error ("is not a regular file", "is over N bytes", the system's message).
bool read_small_regular_file(const std::string& path, std::size_t max_bytes, std::string* content,
                             std::string* error);

/// Whether users other than the owner and the group may read `path` (POSIX: the "other" read
/// bit). Windows: false (access lists are not read here).
bool readable_by_others(const std::string& path);

/// Raises the soft limit of open files to the hard limit (as Go programs such as Prometheus do)
/// and returns the limit now in force: every TCP probe in flight holds a descriptor, and the
/// soft default of 1 024 is smaller than the budgets of a large estate. Windows: no such limit,
/// returns 0.
unsigned long long raise_open_file_limit();

}  // namespace kscprobe::platform
