#!/usr/bin/env bash
# Configures and builds kscprobe with Ninja (and ccache when present) into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# ccache hits across checkouts in different folders (CI clones elsewhere).
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C build -j "$jobs"
