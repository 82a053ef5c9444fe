#!/usr/bin/env bash
# Configures and builds kscprobe with Ninja (and ccache when present) into ./build: the
# `default` preset of CMakePresets.json. Extra arguments (-DNAME=VALUE) go to cmake.
# KSCPROBE_WERROR=1 (scripts/test.sh sets it): a compiler warning fails the build. The
# warnings are read from the build's output rather than turned into errors by -Werror, so the
# compile commands, and with them ccache's hits, stay those of every other build; a file
# ccache serves replays its warnings too. In a fresh tree (CI's clone) every file is compiled
# or replayed, so every warning shows.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# ccache hits across checkouts in different folders (CI clones elsewhere).
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
cmake --preset default "$@" >/dev/null
if [[ ${KSCPROBE_WERROR:-0} != 1 ]]; then
  exec ninja -C build -j "$jobs"
fi
log=build/build.log
status=0
ninja -C build -j "$jobs" 2>&1 | tee "$log" || status=$?
((status == 0)) || exit "$status"
if grep -E ': warning: ' "$log" >/dev/null; then
  echo "build: compiler warnings (KSCPROBE_WERROR=1 makes them errors):" >&2
  grep -E ': warning: ' "$log" | sort -u >&2
  exit 1
fi
