#!/usr/bin/env bash
# Configures and builds kscprobe with Ninja (and ccache when present) into ./build: the
# `default` preset of CMakePresets.json. Extra arguments (-DNAME=VALUE) go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# ccache hits across checkouts in different folders (CI clones elsewhere).
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
cmake --preset default "$@" >/dev/null
ninja -C build -j "$jobs"
