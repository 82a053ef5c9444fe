#!/usr/bin/env bash
# Benchmark (tests/bench/): kscprobe on a simulated KSC estate over a veth pair, beside
# blackbox_exporter driven the way Prometheus drives it, a plain connect loop (the floor) and
# openssl s_time; results as JSON, a Markdown table, and the README's benchmark section.
#   scripts/bench.sh           every scenario (about 20 minutes, plus the build)
#   scripts/bench.sh --quick   smaller numbers, short windows (about two minutes): a smoke run
#   scripts/bench.sh --scenarios=exposition   the estate's /metrics written by kscprobe and
#       through prometheus-cpp (kscprobe_exposition_bench: a few minutes, no root, no namespaces;
#       $build/bench/exposition.json)
# Other arguments go to the benchmark program (kscprobe_bench --help lists them).
# KSCPROBE_BENCH_BUILD_DIR picks the build directory (default build); the results go to
# $build/bench/results.json and results.md (--results=FILE elsewhere). A full run rewrites the
# README section between <!-- bench:begin --> and <!-- bench:end -->; KSCPROBE_BENCH_README=0
# leaves it. KSCPROBE_BENCH_NICE: priority of the run (default -10, 10 for the exposition; 0
# leaves it).
# Needs root: it makes two network namespaces, the prober's and the estate's, joined by a veth.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
exposition=0
build=${KSCPROBE_BENCH_BUILD_DIR:-build}
results=$build/bench/results.json
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    --results=*) results=${arg#--results=} ;;
    --scenarios=exposition) exposition=1 ;;
    --help | -h)
      sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
  esac
done

# The exposition comparison: two writers of the same text in child processes of one program,
# CPU time and memory of each, so neither root nor the estate's namespaces. prometheus-cpp-dev is
# only the benchmark's: the daemon's build never needs it (scripts/packages/build.txt has no
# such line). Without it the program measures kscprobe's writer alone and says so.
if ((exposition)); then
  ./scripts/install-deps.sh
  if ! dpkg-query -W -f='${Status}' prometheus-cpp-dev 2>/dev/null | grep -q "install ok installed"; then
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus-cpp-dev
    else
      echo "prometheus-cpp-dev is not installed (sudo apt-get install prometheus-cpp-dev):" \
        "only kscprobe's writer will be measured" >&2
    fi
  fi
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
  scripts/configure-tests.sh "$build"
  # Again, so a tree configured before prometheus-cpp was installed finds it now.
  cmake -S . -B "$build" >/dev/null
  timeout 1800 ninja -C "$build" -j "$(nproc)" kscprobe_exposition_bench
  args=("--results=$build/bench/exposition.json")
  if ((quick)); then args+=(--agents=10000 --renders=5); fi
  for arg in "$@"; do
    case $arg in
      --quick | --scenarios=*) ;;
      *) args+=("$arg") ;;
    esac
  done
  # CPU time and peak memory of each child, not wall time: a low priority leaves the figures as
  # they are and the machine to whatever else runs on it.
  exec nice -n "${KSCPROBE_BENCH_NICE:-10}" "$build/tests-bench/kscprobe_exposition_bench" "${args[@]}"
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "scripts/bench.sh needs root for its network namespaces: sudo scripts/bench.sh $*" >&2
  exit 1
fi

./scripts/install-deps.sh
missing=()
for p in prometheus-blackbox-exporter iproute2 procps nftables openssl python3 prometheus-cpp-dev; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
scripts/configure-tests.sh "$build"
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
prober=kscprobe-bench-prober-$$
estate=kscprobe-bench-estate-$$
cleanup() {
  rm -rf "/etc/netns/$prober"
  ip netns del "$prober" 2>/dev/null || true
  ip netns del "$estate" 2>/dev/null || true
  if [[ -n $autogroup_before ]]; then echo "$autogroup_before" >/proc/$$/autogroup || true; fi
}
trap cleanup EXIT
ip netns add "$prober"
ip netns add "$estate"
ip -n "$prober" link set lo up
ip -n "$estate" link set lo up
# The veth pair: the only way between the two, so every probe crosses it and its connect
# completes asynchronously, as to a remote host. Nothing here reaches any other network.
ip link add veth-prober netns "$prober" type veth peer name veth-estate netns "$estate"
ip -n "$prober" addr add 10.95.255.1/30 dev veth-prober
ip -n "$estate" addr add 10.95.255.2/30 dev veth-estate
ip -n "$prober" link set veth-prober up
ip -n "$estate" link set veth-estate up
# The estate answers for all of 10.96.0.0/12 without an address per host (the benchmark's
# second octets 100-108); the prober reaches it over the veth.
ip -n "$prober" route add 10.96.0.0/12 via 10.95.255.2
ip -n "$estate" route add local 10.96.0.0/12 dev lo
# What a real estate also has (octets as in tests/bench/bench_main.cpp): hosts that refuse a
# TCP port (RST, as with no listener: 10.106/16), hosts that are off or behind a firewall that
# drops (10.107/16), agents whose UDP ports are closed (ICMP port unreachable: 10.108/16, and
# 10.111/16 for the moonshot's many more).
ip netns exec "$estate" nft -f - <<'EOF'
table ip bench {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 10.107.0.0/16 drop
    ip daddr 10.106.0.0/16 ip protocol tcp reject with tcp reset
    ip daddr { 10.108.0.0/16, 10.111.0.0/16 } ip protocol udp reject with icmp type port-unreachable
  }
}
EOF
# Thousands of connects a second: a wide ephemeral range and TIME_WAIT ports reused on the
# prober's side, deep accept queues on the estate's. ICMP errors are not rate limited in the
# estate, so every closed UDP port answers with port unreachable and none looks silent.
ip netns exec "$prober" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
  net.ipv4.tcp_tw_reuse=1
ip netns exec "$estate" sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
  net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=10000000 net.ipv4.icmp_msgs_burst=10000000
# The estate-names scenario's DNS server listens on the estate's end of the veth, port 53 (the
# benchmark's kDnsServer); `ip netns exec` mounts this file on /etc/resolv.conf for the
# benchmark and the kscprobe it starts, so kscprobe asks that server as it would a real one.
mkdir -p "/etc/netns/$prober"
printf 'nameserver 10.95.255.2\n' >"/etc/netns/$prober/resolv.conf"
# One descriptor per connection in flight, for the probers and the estate alike.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

limit=2400
if ((quick)); then limit=400; fi
mkdir -p "$(dirname "$results")"
timeout --kill-after=10 "$limit" nice -n "$prio" \
  ip netns exec "$prober" "$build/tests-bench/kscprobe_bench" --kscprobe="$build/kscprobe" \
  --estate-netns="/run/netns/$estate" --results="$results" "$@"

table=${results%.json}.md
python3 scripts/bench_table.py "$results" --output "$table"
echo "table: $table"
if ((!quick)) && [[ ${KSCPROBE_BENCH_README:-1} != 0 ]]; then
  python3 scripts/bench_table.py "$results" --readme README.md
  echo "README.md: benchmark section regenerated"
fi
