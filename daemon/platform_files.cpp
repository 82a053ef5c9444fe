#include "daemon/platform_files.hpp"

#ifdef _WIN32
#include <algorithm>
#include <chrono>
#include <cwctype>
#include <filesystem>
#include <system_error>
#else
#include <glob.h>
#include <sys/resource.h>
#include <sys/stat.h>
#endif

namespace kscprobe::platform {

#ifdef _WIN32

namespace {

namespace fs = std::filesystem;

// The configuration's paths are UTF-8; Windows paths are UTF-16.
fs::path from_utf8(const std::string& s) { return fs::path(std::u8string(s.begin(), s.end())); }
std::string to_utf8(const fs::path& p) {
  std::u8string s = p.u8string();
  return std::string(s.begin(), s.end());
}

// * matches any run of characters, ? one character; case-insensitive.
bool wildcard_match(std::wstring_view pattern, std::wstring_view name) {
  std::size_t p = 0, n = 0, star = std::wstring_view::npos, resume = 0;
  auto same = [](wchar_t a, wchar_t b) { return std::towlower(a) == std::towlower(b); };
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == L'?' || same(pattern[p], name[n]))) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == L'*') {
      star = p++;
      resume = n;
    } else if (star != std::wstring_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == L'*') ++p;
  return p == pattern.size();
}

}  // namespace

std::vector<std::string> glob_files(const std::string& pattern, std::size_t limit) {
  std::vector<std::string> out;
  fs::path full = from_utf8(pattern);
  std::wstring last = full.filename().wstring();
  std::error_code ec;
  if (last.find_first_of(L"*?") == std::wstring::npos) {
    if (limit > 0 && fs::exists(full, ec)) out.push_back(pattern);
    return out;
  }
  fs::path dir = full.parent_path();
  for (fs::directory_iterator it(dir.empty() ? fs::path(".") : dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (out.size() >= limit) break;
    std::wstring name = it->path().filename().wstring();
    // Like glob(3): a leading dot is matched only by a leading dot.
    if (name.empty() || (name[0] == L'.' && last[0] != L'.')) continue;
    if (!wildcard_match(last, name)) continue;
    out.push_back(to_utf8(dir / it->path().filename()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<FileStamp> file_stamp(const std::string& path) {
  std::error_code ec;
  fs::path p = from_utf8(path);
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  auto mtime = fs::last_write_time(p, ec);
  if (ec) return std::nullopt;
  auto size = fs::file_size(p, ec);
  if (ec) return std::nullopt;
  FileStamp s;
  s.mtime_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
  s.size = static_cast<long long>(size);
  return s;
}

unsigned long long raise_open_file_limit() { return 0; }

#else

unsigned long long raise_open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return static_cast<unsigned long long>(rl.rlim_cur);
}

std::vector<std::string> glob_files(const std::string& pattern, std::size_t limit) {
  std::vector<std::string> out;
  glob_t g{};
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (std::size_t i = 0; i < g.gl_pathc && out.size() < limit; ++i)
      out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  return out;
}

std::optional<FileStamp> file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  FileStamp s;
  s.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
  s.size = static_cast<long long>(st.st_size);
  s.inode = static_cast<unsigned long long>(st.st_ino);
  return s;
}

#endif

}  // namespace kscprobe::platform
