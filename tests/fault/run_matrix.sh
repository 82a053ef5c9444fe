#!/usr/bin/env bash
# The fault matrix (tests/fault/README.md): every network fault of tests/fault/matrix.tsv is
# produced for real between two network namespaces created here, probed by kscprobe --once and by
# prometheus-blackbox-exporter from the same namespace, and each verdict is compared with the
# expected one. Then the "host vanishes mid-run" case runs the daemon, takes the target's link
# down while it probes, and brings it back.
#
#   tests/fault/run_matrix.sh BUILD_DIR [RESULTS_TSV]
#
# Needs root (ip netns, nftables). Traffic stays on a veth pair between the two namespaces, in
# 10.200.1.0/24; the prober namespace has no other route, so nothing can leave the machine (the
# "no route" and ".invalid" cases rely on that). Everything is torn down on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run_matrix.sh BUILD_DIR [RESULTS_TSV]}" && pwd)
results=${2:-$build/fault-matrix.tsv}
kscprobe=$build/kscprobe
peer=$build/tests-fault/kscprobe-fault-peer
blackbox=$(command -v prometheus-blackbox-exporter || true)
for bin in "$kscprobe" "$peer"; do
  [[ -x "$bin" ]] || { echo "fault matrix: $bin is missing (build it first)" >&2; exit 1; }
done
[[ -n "$blackbox" ]] || { echo "fault matrix: prometheus-blackbox-exporter is missing" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "fault matrix: needs root for network namespaces" >&2; exit 1; }

suffix=$$
ns_p=kscf-p-$suffix  # the prober: kscprobe and blackbox_exporter
ns_t=kscf-t-$suffix  # the target: the fault peer behind nftables
veth_p=kfp$suffix
veth_t=kft$suffix
work=$(mktemp -d /tmp/kscprobe-fault-XXXXXX)
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$ns_p" 2>/dev/null || true
  ip netns del "$ns_t" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_p() { ip netns exec "$ns_p" "$@"; }
in_t() { ip netns exec "$ns_t" "$@"; }

# --- the two hosts -----------------------------------------------------------------------------
ip netns add "$ns_p"
ip netns add "$ns_t"
ip link add "$veth_p" netns "$ns_p" type veth peer name "$veth_t" netns "$ns_t"
in_p ip link set lo up
in_t ip link set lo up
in_p ip addr add 10.200.1.1/24 dev "$veth_p"
in_t ip addr add 10.200.1.2/24 dev "$veth_t"
in_p ip link set "$veth_p" up
in_t ip link set "$veth_t" up
# Linux rate-limits the ICMP errors it sends (a burst of ~6, then 1/s per destination, and a
# global budget): the rejects below would turn into timeouts after the first few probes.
in_t sysctl -qw net.ipv4.icmp_ratelimit=0
in_t sysctl -qw net.ipv4.icmp_msgs_per_sec=100000 2>/dev/null || true
in_t sysctl -qw net.ipv4.icmp_msgs_burst=100000 2>/dev/null || true

in_t nft -f - <<'EOF'
table ip fault {
  chain input {
    type filter hook input priority 0; policy accept;
    meta l4proto { tcp, udp } th dport 7200 drop
    meta l4proto { tcp, udp } th dport 7201 reject with icmp type port-unreachable
    meta l4proto { tcp, udp } th dport 7202 reject with icmp type host-unreachable
    meta l4proto { tcp, udp } th dport 7203 reject with icmp type admin-prohibited
  }
}
EOF

in_t timeout 300 "$peer" --address 10.200.1.2 --lifetime 280 >"$work/peer.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q 'fault-peer ready' "$work/peer.out" && break
  sleep 0.1
done
grep -q 'fault-peer ready' "$work/peer.out" || { cat "$work/peer.out"; exit 1; }

# --- kscprobe --once over the whole matrix ------------------------------------------------------
rows=$(grep -v '^#' "$here/matrix.tsv" | grep -v '^$')
config=$work/matrix.toml
{
  printf '[daemon]\ninterval = "10s"\ntimeout = "1s"\nmax_in_flight = 256\n'
  prev=""
  while IFS=$'\t' read -r case transport host port _; do
    if [[ "$case" != "$prev" ]]; then
      printf '\n[[target]]\nname = "%s"\nrole = "agent"\naddress = "%s"\n' "$case" "$host"
      printf 'disable = ["signal_udp", "multicast_udp"]\n'
      prev=$case
    fi
    printf '[[target.check]]\nname = "%s"\nport = %s\ntransport = "%s"\n' \
      "$transport" "$port" "$transport"
    if [[ "$transport" == http* ]]; then printf 'path = "/metrics"\n'; fi
  done <<<"$rows"
} >"$config"

start=$(date +%s%N)
in_p timeout 60 "$kscprobe" --once --config.file="$config" >"$work/once.txt" 2>"$work/once.err" || true
once_ms=$((($(date +%s%N) - start) / 1000000))
if ! grep -q 'passed,' "$work/once.txt"; then
  echo "fault matrix: kscprobe --once did not finish" >&2
  cat "$work/once.txt" "$work/once.err" >&2
  exit 1
fi

# --- blackbox_exporter on the same targets, from the same namespace -----------------------------
cat >"$work/blackbox.yml" <<'EOF'
modules:
  tcp:
    prober: tcp
    timeout: 1s
    tcp: {preferred_ip_protocol: ip4}
  tls:
    prober: tcp
    timeout: 1s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config: {insecure_skip_verify: true}
  http:
    prober: http
    timeout: 1s
    http: {preferred_ip_protocol: ip4}
  https:
    prober: http
    timeout: 1s
    http:
      preferred_ip_protocol: ip4
      tls_config: {insecure_skip_verify: true}
EOF
in_p timeout 200 "$blackbox" --config.file="$work/blackbox.yml" \
  --web.listen-address=127.0.0.1:9115 >"$work/blackbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  in_p curl -sf -m 1 http://127.0.0.1:9115/-/healthy >/dev/null 2>&1 && break
  sleep 0.1
done

bb_target() {  # module host port
  case $1 in
    http) echo "http://$2:$3/metrics" ;;
    https) echo "https://$2:$3/metrics" ;;
    *) echo "$2:$3" ;;
  esac
}

mkdir -p "$work/bb"
i=0
{
  while IFS=$'\t' read -r case transport host port _ module _; do
    i=$((i + 1))
    [[ "$module" == "-" ]] && continue
    echo "$i $module $(bb_target "$module" "$host" "$port")"
  done <<<"$rows"
} >"$work/bb-queries"
# One shell in the namespace runs the queries, eight at a time.
in_p bash -c '
  set -euo pipefail
  dir=$1
  while read -r n module target; do
    curl -s -m 10 "http://127.0.0.1:9115/probe?module=$module&target=$target" >"$dir/$n" || true &
    while (( $(jobs -rp | wc -l) >= 8 )); do wait -n || true; done
  done <"$dir/../bb-queries"
  wait
' _ "$work/bb"

# --- compare ------------------------------------------------------------------------------------
failures=0
printf 'case\ttransport\ttarget\texpected\tkscprobe\tkscprobe detail\tblackbox expected\tblackbox\n' \
  >"$results"
i=0
while IFS=$'\t' read -r case transport host port expect module bb_expect; do
  i=$((i + 1))
  line=$(awk -v t="$case" -v c="$transport" '$1 == t && $3 == c' "$work/once.txt")
  if [[ -z "$line" ]]; then
    got="missing"
    detail=""
  else
    result=$(awk '{print $7}' <<<"$line")
    reason=$(awk '{print $9}' <<<"$line")
    success=1
    [[ "$result" == "FAIL" ]] && success=0
    [[ "$reason" == "-" ]] && reason=none
    got="$success:$reason"
    # DETAIL is the last column and may hold spaces; CERT EXPIRY is "-" or "date (Nd)".
    detail=$(sed -E 's/^([^ ]+ +){9}(-|[0-9-]+ \([-0-9]+d\)) +//' <<<"$line")
  fi
  bb_got="-"
  if [[ "$module" != "-" ]]; then
    bb_got=$(awk '$1 == "probe_success" {print $2}' "$work/bb/$i" 2>/dev/null || true)
    [[ -n "$bb_got" ]] || bb_got="none"
  fi
  verdict=ok
  [[ "$got" == "$expect" ]] || verdict=FAIL
  [[ "$bb_got" == "$bb_expect" ]] || verdict=FAIL
  # Where blackbox has a verdict, it must agree with kscprobe's success.
  if [[ "$bb_got" =~ ^[01]$ && "$bb_got" != "${got%%:*}" ]]; then verdict=FAIL; fi
  if [[ "$verdict" != ok ]]; then
    failures=$((failures + 1))
    echo "FAIL $case/$transport ($host:$port): kscprobe $got (want $expect) [$detail]," \
      "blackbox $bb_got (want $bb_expect)" >&2
  fi
  printf '%s\t%s\t%s:%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$transport" "$host" "$port" "$expect" \
    "$got" "$detail" "$bb_expect" "$bb_got" >>"$results"
done <<<"$rows"
echo "fault matrix: $i cases, $failures failed; kscprobe --once took ${once_ms} ms"

# --- the host vanishes mid-run, then comes back -------------------------------------------------
cat >"$work/vanish.toml" <<'EOF'
[daemon]
interval = "1s"
timeout = "700ms"

# Every series of the check (agents default to "basic"): the stage reads its failure counters.
[metrics]
detail = { agent = "full" }

[[target]]
name = "vanish"
role = "agent"
address = "10.200.1.2"
disable = ["signal_udp", "multicast_udp"]
[[target.check]]
name = "tcp"
port = 8080
transport = "tcp"
[[target.check]]
name = "tls"
port = 8443
transport = "tls"
[[target.check]]
name = "https"
port = 8443
transport = "https"
[[target.check]]
name = "udp"
port = 15000
transport = "udp"
EOF
in_p timeout 120 "$kscprobe" --config.file="$work/vanish.toml" \
  --web.listen-address=127.0.0.1:9851 >"$work/daemon.out" 2>"$work/daemon.err" &
pids+=($!)

scrape() { in_p curl -s -m 2 http://127.0.0.1:9851/metrics 2>/dev/null || true; }
# success of each check: "tcp=1 tls=1 ..." in check order
successes() {
  scrape | awk '/^kscprobe_probe_success\{/ && /target="vanish"/ {
      match($0, /check="[^"]*"/); c = substr($0, RSTART + 7, RLENGTH - 8); s[c] = $2 }
    END { printf "tcp=%s tls=%s https=%s udp=%s", s["tcp"], s["tls"], s["https"], s["udp"] }'
}
# reasons counted so far for one check: "timeout=3 unreachable=1"
reasons() {
  scrape | awk -v c="$1" '/^kscprobe_probe_failures_total\{/ && /target="vanish"/ &&
      index($0, "check=\"" c "\"") { match($0, /reason="[^"]*"/);
      printf "%s=%s ", substr($0, RSTART + 8, RLENGTH - 9), $2 }'
}
wait_for() {  # pattern seconds
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    [[ "$(successes)" =~ $1 ]] && return 0
    sleep 0.3
  done
  return 1
}

vanish_ok=1
if wait_for '^tcp=1 tls=1 https=1 udp=1$' 15; then
  echo "vanish: all up: $(successes)"
  vanish_start=$SECONDS
  in_t ip link set "$veth_t" down
  if wait_for '^tcp=0 tls=0 https=0 ' 10; then
    echo "vanish: down after $((SECONDS - vanish_start)) s: $(successes)"
  else
    echo "FAIL vanish: the checks did not go down: $(successes)" >&2
    vanish_ok=0
  fi
  sleep 2  # a few more probes against the vanished host
  for c in tcp tls https udp; do
    r=$(reasons "$c")
    echo "vanish: $c failures by reason: ${r:-none}"
    want="0:timeout|unreachable"
    [[ "$c" == udp ]] && want="1:none (open|filtered), unreachable when ARP fails"
    printf 'vanish\t%s\t10.200.1.2\t%s\t%s\t\t0\t' "$c" "$want" "${r:-none}" >>"$results"
    if [[ "$c" != udp ]] && ! [[ "$r" =~ ^((timeout|unreachable)=[0-9]+\ ?)+$ ]]; then
      echo "FAIL vanish: $c failed for other reasons than timeout/unreachable: $r" >&2
      vanish_ok=0
    fi
    bb=$(in_p curl -s -m 5 "http://127.0.0.1:9115/probe?module=tcp&target=10.200.1.2:8080" |
      awk '$1 == "probe_success" {print $2}')
    printf '%s\n' "$bb" >>"$results"
  done
  [[ "$bb" == 0 ]] || { echo "FAIL vanish: blackbox says $bb" >&2; vanish_ok=0; }
  in_t ip link set "$veth_t" up
  back_start=$SECONDS
  if wait_for '^tcp=1 tls=1 https=1 udp=1$' 15; then
    echo "vanish: back up $((SECONDS - back_start)) s after the link came back"
  else
    echo "FAIL vanish: no recovery: $(successes)" >&2
    vanish_ok=0
  fi
else
  echo "FAIL vanish: the daemon never saw the host up: $(successes)" >&2
  cat "$work/daemon.err" >&2
  vanish_ok=0
fi
((vanish_ok)) || failures=$((failures + 1))

column -t -s $'\t' "$results" 2>/dev/null || cat "$results"
((failures == 0))
