#!/usr/bin/env bash
# scripts/configure-tests.sh [BUILD_DIR]: makes sure BUILD_DIR (default build) is configured
# with the test suites, whatever configured it before (scripts/demo.sh configures build/ without
# them), so a script that builds a test target (the benchmark, the fault peer, the load tests)
# never meets "unknown target". A build tree already configured with them is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [[ -f $build/build.ninja ]] && grep -q '^KSCPROBE_BUILD_TESTS:BOOL=ON$' "$build/CMakeCache.txt"; then
  exit 0
fi
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
if [[ $build == build ]]; then
  cmake --preset default >/dev/null
else
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKSCPROBE_BUILD_TESTS=ON \
    >/dev/null
fi
