#!/usr/bin/env bash
# One command to try kscprobe: installs what is missing, builds, and starts the daemon against
# the built-in demo estate (simulated KSC hosts on 127.77.x.x). The metrics URL is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DKSCPROBE_BUILD_TESTS=OFF
exec build/kscprobe-demo --demo "$@"
