#!/usr/bin/env bash
# The endpoint under load and abuse (tests/abuse/endpoint_abuse.py, tests/fault/README.md): the
# real daemon against the simulated estate, /metrics hammered by wrk while probing must keep
# its schedule and scheduler lag; slowloris, idle, oversized and flooding clients cut off by
# the server's limits with its fds bounded, a normal client served throughout. As root it runs
# in a network namespace of its own, so its thousands of connections never touch the host's
# loopback. KSCPROBE_BUILD_DIR picks another build directory than build/.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${KSCPROBE_BUILD_DIR:-build}
for tool in wrk python3; do
  command -v "$tool" >/dev/null || { echo "endpoint: $tool is missing" >&2; exit 1; }
done
scripts/configure-tests.sh "$build"
timeout 900 ninja -C "$build" kscprobe kscprobe-sim
run=(timeout 180 python3 tests/abuse/endpoint_abuse.py --daemon "$build/kscprobe"
     --sim "$build/kscprobe-sim")
if [[ $(id -u) -eq 0 ]] && command -v ip >/dev/null; then
  ns=kscprobe-endpoint-$$
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" "${run[@]}"
else
  "${run[@]}"
fi
