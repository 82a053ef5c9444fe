#!/usr/bin/env bash
# clang-tidy with the project's .clang-tidy over every translation unit of the product in build/
# (scripts/tidy.py; `scripts/tidy.py --tests` adds the test suites'): two at a time, within a
# budget. A file that passed is
# remembered (keyed by its content, its project headers, its compile command, .clang-tidy and the
# clang-tidy version), so a warm run checks only what changed; a finding fails the stage.
#   KSCPROBE_TIDY_CACHE   where passes are remembered (default /var/cache/kscprobe/tidy)
#   KSCPROBE_TIDY_BUDGET  seconds for the checks (default 1500; a cold run of the product's
#                         80 files takes about 10 minutes on two idle cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${KSCPROBE_BUILD_DIR:-build}
command -v clang-tidy >/dev/null || { echo "tidy: clang-tidy missing (scripts/packages)" >&2; exit 1; }
command -v ninja >/dev/null || { echo "tidy: ninja missing" >&2; exit 1; }
# The dependency log that keys the cache is the build's: the tree must be built.
scripts/configure-tests.sh "$build"
timeout 1800 ninja -C "$build" >/dev/null
exec python3 scripts/tidy.py --build "$build" --jobs "$(nproc 2>/dev/null || echo 2)" \
  --budget "${KSCPROBE_TIDY_BUDGET:-1500}"
