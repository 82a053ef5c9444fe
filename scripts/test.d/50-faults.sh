#!/usr/bin/env bash
# The fault matrix (tests/fault/README.md) between network namespaces: kscprobe's verdict and
# reason for every network fault, checked against blackbox_exporter's. Needs root; builds the
# fault peer into the build directory.
#   KSCPROBE_BUILD_DIR   build tree to use (default: build)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${KSCPROBE_BUILD_DIR:-build}
if [[ $(id -u) -ne 0 ]]; then
  echo "faults: needs root for network namespaces (ip netns, nftables)" >&2
  exit 1
fi
scripts/configure-tests.sh "$build"
timeout 900 ninja -C "$build" kscprobe kscprobe-fault-peer
timeout 240 tests/fault/run_matrix.sh "$build" "$build/fault-matrix.tsv"
