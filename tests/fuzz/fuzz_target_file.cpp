// libFuzzer target: the Prometheus file_sd parser (config/target_file.cpp, JSON and YAML through
// yaml-cpp). Any file content must give either targets or positioned errors, never a crash, hang
// or leak. The parser reads a path, so each input is written to an in-memory file (memfd) that
// the parser opens as /proc/self/fd/N. What it accepts is merged into a configuration and
// expanded into a plan, as the daemon does with a target file.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "config/plan.hpp"
#include "config/target_file.hpp"
#include "config/target_files.hpp"

namespace {

int memory_file() {
  static const int fd = [] {
    int f = memfd_create("kscprobe-fuzz-target-file", MFD_CLOEXEC);
    if (f < 0) std::abort();
    return f;
  }();
  return fd;
}

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = memory_file();
  check(ftruncate(fd, 0) == 0);
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    check(n > 0);
    done += static_cast<std::size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  std::vector<kscprobe::TargetConfig> targets;
  std::vector<kscprobe::ConfigError> errors;
  const bool ok = kscprobe::parse_target_file(path, &targets, &errors);
  // The contract of parse_target_file: true means no error; a bad file contributes nothing.
  check(ok == errors.empty());
  if (!ok) {
    check(targets.empty());
    for (const auto& e : errors) (void)e.format();
    return 0;
  }
  for (const auto& t : targets) {
    check(!t.address.empty() && t.name == t.address);
    check(t.pos.file == path);
  }
  kscprobe::Config config;
  kscprobe::merge_targets(&config, std::move(targets), &errors);
  for (const auto& e : errors) (void)e.format();
  kscprobe::Plan plan = kscprobe::expand_plan(config);
  (void)plan;
  return 0;
}
