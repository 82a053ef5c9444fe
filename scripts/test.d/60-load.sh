#!/usr/bin/env bash
# Time and resource bounds under load (tests/load/): 200 000 probes leave no fd, socket or
# memory behind, silent probes end at their timeout, the in-flight budget holds and overruns
# are counted; then 200 000 probes again through the daemon's own launch path (App: the scheduler,
# the TCP and UDP callback fast paths, the result table, /metrics), each failure with the reason
# its peer dictates. As root it runs in a network namespace of its own, so its connections use
# their own loopback and ephemeral ports and never disturb the host's.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/configure-tests.sh build
timeout 900 ninja -C build load_tests
if [[ $(id -u) -eq 0 ]] && command -v ip >/dev/null; then
  ns=kscprobe-load-$$
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
  ip netns exec "$ns" ip link set lo up
  # Thousands of refused UDP probes a second: lift the kernel's ICMP error rate limits inside
  # this namespace, or a few port-unreachables are never sent and a closed port looks silent.
  ip netns exec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=1000000 \
    net.ipv4.icmp_msgs_burst=1000000 net.ipv6.icmp.ratelimit=0
  timeout 800 ip netns exec "$ns" build/tests-load/load_tests
else
  timeout 800 build/tests-load/load_tests
fi
