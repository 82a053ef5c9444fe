#pragma once
// Files and temporary directories of the tests: every test, tool and peer makes its scratch
// files here, so the names (/tmp/kscprobe-*) and the clean-up are the same everywhere.
#include <string>

namespace kscprobe::test {

/// The whole content of a file ("" when it cannot be read).
std::string read_file(const std::string& path);

/// Writes `text` to `path`, replacing what was there.
void write_file(const std::string& path, const std::string& text);

/// Writes `text` next to `path` and renames it over `path`: a reader never sees half a file.
void replace_file(const std::string& path, const std::string& text);

/// A new directory /tmp/kscprobe-<tag>-XXXXXX, left in place (a failed run's files stay for a
/// look); throws std::runtime_error when it cannot be made.
std::string temp_dir(const std::string& tag = "test");

/// A temporary directory removed, with everything in it, when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// path() + "/" + name.
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  /// Writes a file in the directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

/// One file with `content` in a directory of its own, both removed when the object goes.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content);
  const std::string& path() const { return path_; }

 private:
  TempDir dir_;
  std::string path_;
};

}  // namespace kscprobe::test
