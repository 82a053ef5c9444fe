#!/usr/bin/env bash
# Benchmark (tests/bench/): kscprobe on a simulated KSC estate, side by side with
# blackbox_exporter driven the way Prometheus drives it, ending with a Markdown table.
#   scripts/bench.sh           every scenario (about 7 minutes, plus the build)
#   scripts/bench.sh --quick   smaller numbers, short windows (about a minute): a smoke run
# Other arguments go to the benchmark program (kscprobe_bench --help lists them).
# KSCPROBE_BENCH_BUILD_DIR picks the build directory (default build); KSCPROBE_BENCH_NICE the
# priority of the run (default -10, so a build running beside it disturbs it less; 0 leaves it):
# the nice value of the run and, with autogroup scheduling, of this session's group meanwhile.
# Needs root: the run happens in a network namespace of its own, so the wildcard listeners that
# answer for every 127.x.y.z never face a real network, and the connections use their own
# loopback, ephemeral ports and kernel limits.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  if [[ $arg == --quick ]]; then quick=1; fi
  if [[ $arg == --help || $arg == -h ]]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  echo "scripts/bench.sh needs root for its network namespace: sudo scripts/bench.sh $*" >&2
  exit 1
fi

./scripts/install-deps.sh
missing=()
for p in prometheus-blackbox-exporter iproute2 procps; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build=${KSCPROBE_BENCH_BUILD_DIR:-build}
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
if [[ ! -f $build/build.ninja ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
timeout 1800 ninja -C "$build" -j "$(nproc)" kscprobe kscprobe_bench

prio=${KSCPROBE_BENCH_NICE:--10}
# With autogroup scheduling, nice only ranks processes inside one session's group, and every
# other session (a compiler, say) gets an equal share of the cores whatever its nice value: so
# the group of this session gets the priority too, and its value back at the end.
autogroup_before=
if [[ $prio != 0 && $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null) == 1 ]]; then
  autogroup_before=$(sed -n 's/.* nice \(-\{0,1\}[0-9]*\)$/\1/p' /proc/$$/autogroup 2>/dev/null)
  if [[ -z $autogroup_before ]] || ! echo "$prio" 2>/dev/null >/proc/$$/autogroup; then
    autogroup_before=
  fi
fi
ns=kscprobe-bench-$$
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  if [[ -n $autogroup_before ]]; then echo "$autogroup_before" >/proc/$$/autogroup || true; fi
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
# Thousands of connects a second to a few thousand addresses: a wide ephemeral range, TIME_WAIT
# ports reused for new connects, deep accept queues. The ICMP error rate limits do not matter
# to silent agents but are lifted as in the load stage, so a refused port never looks silent.
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1 \
  net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 net.ipv4.icmp_ratelimit=0 \
  net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000
# One descriptor per connection in flight, for the probers and the estate alike.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

limit=1500
if ((quick)); then limit=300; fi
timeout --kill-after=10 "$limit" nice -n "$prio" \
  ip netns exec "$ns" "$build/tests-bench/kscprobe_bench" --kscprobe="$build/kscprobe" "$@"
