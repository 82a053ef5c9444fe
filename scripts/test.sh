#!/usr/bin/env bash
# One command to test kscprobe: installs what is missing (including prometheus/promtool for the
# end-to-end test), builds everything and runs every test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh -DKSCPROBE_BUILD_TESTS=ON
ctest --test-dir build --output-on-failure -j 2 --timeout 300
