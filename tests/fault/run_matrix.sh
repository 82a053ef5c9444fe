#!/usr/bin/env bash
# The fault matrix (tests/fault/README.md): every network fault of tests/fault/matrix.tsv is
# produced for real between two network namespaces created here, probed by kscprobe --once, by the
# kscprobe daemon (its scheduler, the TCP and UDP callback fast paths, the result table and
# /metrics) and by prometheus-blackbox-exporter from the same namespace, and each verdict is
# compared with the expected one. The ICMP echo rows (transport icmp) run twice: once on a raw socket (ping sockets
# forbidden by net.ipv4.ping_group_range) and once on a ping socket (CAP_NET_RAW dropped), since
# the two read echo replies and ICMP errors in different ways. Then the "host vanishes mid-run"
# case runs the daemon, takes the target's link down while it probes, and brings it back.
#
#   tests/fault/run_matrix.sh BUILD_DIR [RESULTS_TSV]
#   KSCPROBE_FAULT_ROWS=local tests/fault/run_matrix.sh BUILD_DIR   # the host's own limits only
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
# Background jobs call `ip netns exec` directly, not through in_p/in_t: a function run with `&`
# gets a subshell of its own, and $! would name that subshell, so cleanup's kill would orphan
# the `timeout` below it (and the server under that) for minutes. ip netns exec execs its
# command, so $! is the `timeout` itself, which passes the SIGTERM on.

# --- the two hosts -----------------------------------------------------------------------------
ip netns add "$ns_p"
ip netns add "$ns_t"
ip link add "$veth_p" netns "$ns_p" type veth peer name "$veth_t" netns "$ns_t"
in_p ip link set lo up
in_t ip link set lo up
in_p ip addr add 10.200.1.1/24 dev "$veth_p"
in_t ip addr add 10.200.1.2/24 dev "$veth_t"
# Hosts for the ICMP echo rows (an echo has no port, so each fault needs an address of its own):
# .3 drops echo requests, .4 rejects them with host-unreachable, .5 with admin-prohibited.
for a in 3 4 5; do in_t ip addr add "10.200.1.$a/24" dev "$veth_t"; done
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
    ip daddr 10.200.1.3 icmp type echo-request drop
    ip daddr 10.200.1.4 icmp type echo-request reject with icmp type host-unreachable
    ip daddr 10.200.1.5 icmp type echo-request reject with icmp type admin-prohibited
    ip daddr 10.202.0.0/16 drop
  }
}
EOF
# The dropped estate of the local_fd_limit row: 10.202.0.0/16 is the target's, and drops it all.
in_t ip route add local 10.202.0.0/16 dev lo
in_p ip route add 10.202.0.0/16 via 10.200.1.2

ip netns exec "$ns_t" timeout 300 "$peer" --address 10.200.1.2 --lifetime 280 \
  >"$work/peer.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q 'fault-peer ready' "$work/peer.out" && break
  sleep 0.1
done
grep -q 'fault-peer ready' "$work/peer.out" || { cat "$work/peer.out"; exit 1; }

# --- the host's own limits ---------------------------------------------------------------------
# The rows of matrix.tsv whose second column is `local`: each runs the daemon in a scenario of
# its own where the prober's host runs short of something, and reads the verdicts back from
# /metrics. The targets may be up, time out or be pending (not probed yet): never refused or
# unreachable, which would blame them for the prober's own limits. About 30 s in all.
local_failures=0
# "verdict count" lines from a scrape: up, pending, or the reason of a failing check; every
# check of the config is expected (`want`), so the ones without a result are pending.
local_verdicts() {  # prom_file want
  awk -v want="$2" '
    function label(name,   re) {
      re = name "=\"[^\"]*\""
      if (!match($0, re)) return ""
      return substr($0, RSTART + length(name) + 2, RLENGTH - length(name) - 3)
    }
    /^kscprobe_probe_success\{/ { k = label("target") " " label("check"); ok[k] = $NF }
    /^kscprobe_probe_failure_info\{/ { why[label("target") " " label("check")] = label("reason") }
    END {
      n = 0
      for (k in ok) { n++; v = ok[k] == 1 ? "up" : (k in why ? why[k] : "down"); count[v]++ }
      count["pending"] = want - n
      for (v in count) if (count[v] > 0) print v, count[v]
    }' "$1" | sort
}
local_metric() {  # prom_file 'name{labels}' -> its value, or 0
  awk -v m="$2" 'index($0, m " ") == 1 { v = $NF } END { print (v == "" ? 0 : v) }' "$1"
}
# Runs the daemon in the prober's namespace with `config` for `seconds` after `prefix` (shell
# words ending in a command that execs "$0" "$@": ulimit, setpriv), then scrapes /metrics into
# `out`.prom and the status codes of /-/ready and /-/healthy into `out`.ready and `out`.healthy.
run_local_daemon() {  # config out seconds prefix
  local config=$1 out=$2 seconds=$3 prefix=$4 pid
  ip netns exec "$ns_p" bash -c "$prefix"' exec timeout 60 "$0" "$@"' "$kscprobe" \
    --config.file="$config" --web.listen-address=127.0.0.1:9853 >"$out.out" 2>"$out.err" &
  pid=$!
  pids+=("$pid")
  sleep "$seconds"
  # A daemon short of descriptors may refuse a connection for a moment: try a few times.
  : >"$out.prom"
  for _ in 1 2 3 4 5; do
    in_p curl -sf -m 3 http://127.0.0.1:9853/metrics >"$out.prom" 2>/dev/null && break
    sleep 0.5
  done
  in_p curl -s -m 3 -o /dev/null -w '%{http_code}' http://127.0.0.1:9853/-/ready \
    >"$out.ready" 2>/dev/null || true
  in_p curl -s -m 3 -o /dev/null -w '%{http_code}' http://127.0.0.1:9853/-/healthy \
    >"$out.healthy" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# Compares a scenario's verdicts with its row: only `allowed` verdicts, and the proof that the
# shortage was met.
judge_local() {  # case allowed proof out want
  local case=$1 allowed=$2 proof=$3 out=$4 want=$5 verdicts bad errors clamped ok=1 kind
  verdicts=$(local_verdicts "$out.prom" "$want" | tr '\n' ' ')
  bad=$(local_verdicts "$out.prom" "$want" | awk -v a="$allowed" '
    BEGIN { n = split(a, l, "|"); for (i = 1; i <= n; i++) allow[l[i]] = 1 }
    !($1 in allow) { printf "%s ", $0 }')
  errors=$(awk '/^kscprobe_local_errors_total\{/ { s += $NF } END { print s + 0 }' "$out.prom")
  clamped=$(local_metric "$out.prom" kscprobe_probe_budget_clamped)
  [[ -s "$out.prom" ]] || bad="no scrape"
  [[ -z "$bad" ]] || ok=0
  case $proof in
    'local_errors|clamped') [[ "$errors" != 0 || "$clamped" == 1 ]] || ok=0 ;;
    local_errors:*)
      kind=${proof#local_errors:}
      [[ $(local_metric "$out.prom" "kscprobe_local_errors_total{kind=\"$kind\"}") != 0 ]] || ok=0
      ;;
  esac
  echo "local $case: verdicts: ${verdicts:-none}; local errors $errors; budgets clamped" \
    "$clamped; /-/ready $(cat "$out.ready" 2>/dev/null), /-/healthy" \
    "$(cat "$out.healthy" 2>/dev/null)"
  printf '%s\tlocal/daemon\t-\t%s (%s)\t%s\tlocal errors %s, clamped %s\t-\t-\n' \
    "$case" "$allowed" "$proof" "${verdicts:-none}" "$errors" "$clamped" >>"$results.local"
  if ((!ok)); then
    local_failures=$((local_failures + 1))
    echo "FAIL $case: want only $allowed and $proof; got ${verdicts:-none}${bad:+(not allowed:" \
      "$bad)}, local errors $errors, clamped $clamped" >&2
    tail -5 "$out.err" >&2
  fi
}
local_rows() {
  : >"$results.local"
  local start_ms i ports
  start_ms=$(($(date +%s%N) / 1000000))
  # local_fd_limit: 400 database targets whose packets are dropped (every probe times out),
  # under an open-file limit of 48, soft and hard, so that kscprobe cannot raise it.
  {
    printf '[daemon]\ninterval = "5s"\ntimeout = "2s"\n'
    for i in $(seq 0 399); do
      printf '\n[[target]]\nname = "db-%03d"\nrole = "database"\nengine = "postgresql"\n' "$i"
      printf 'address = "10.202.%d.%d"\n' $((i / 200)) $((i % 200 + 1))
    done
  } >"$work/local-fd.toml"
  run_local_daemon "$work/local-fd.toml" "$work/local-fd" 12 'ulimit -n 48 &&'
  judge_local local_fd_limit 'timeout|pending' 'local_errors|clamped' "$work/local-fd" 400

  # local_port_range: a fast estate (the fault peer's open ports) through 4 local ports only:
  # each connection leaves its port in TIME_WAIT for a minute, so most connects find none.
  {
    printf '[daemon]\ninterval = "2s"\ntimeout = "1s"\n'
    for i in $(seq 0 19); do
      printf '\n[[target]]\nname = "fast-%02d"\nrole = "agent"\naddress = "10.200.1.2"\n' "$i"
      printf 'disable = ["signal_udp", "multicast_udp"]\n'
      printf '[[target.check]]\nname = "tcp"\nport = 8080\ntransport = "tcp"\n'
      printf '[[target.check]]\nname = "tls"\nport = 8443\ntransport = "tls"\n'
    done
    printf '\n[metrics]\ndetail = { agent = "full" }\n'
  } >"$work/local-ports.toml"
  ports=$(in_p sysctl -n net.ipv4.ip_local_port_range)
  in_p sysctl -qw net.ipv4.ip_local_port_range="40000 40003"
  run_local_daemon "$work/local-ports.toml" "$work/local-ports" 6 ''
  in_p sysctl -qw net.ipv4.ip_local_port_range="$ports"
  judge_local local_port_range 'up|pending' 'local_errors:port_range' "$work/local-ports" 40

  # local_icmp_permission: an ICMP echo check where no ICMP socket may be opened: ping sockets
  # allowed to no group, and CAP_NET_RAW dropped.
  cat >"$work/local-icmp.toml" <<'TOML'
[daemon]
interval = "1s"
timeout = "500ms"

[metrics]
detail = { agent = "full" }

[[target]]
name = "pinged"
role = "agent"
address = "10.200.1.2"
disable = ["signal_udp", "multicast_udp"]
features = ["icmp"]
TOML
  in_p sysctl -qw net.ipv4.ping_group_range="1 0"
  run_local_daemon "$work/local-icmp.toml" "$work/local-icmp" 4 \
    'exec setpriv --inh-caps=-net_raw --bounding-set=-net_raw -- timeout 60 "$0" "$@"; #'
  judge_local local_icmp_permission pending 'local_errors:icmp_permission' "$work/local-icmp" 1
  # While probes fail on the host the daemon is alive (200) but not ready (503).
  if [[ "$(cat "$work/local-icmp.ready")" != 503 || "$(cat "$work/local-icmp.healthy")" != 200 ]]
  then
    local_failures=$((local_failures + 1))
    echo "FAIL local_icmp_permission: /-/ready $(cat "$work/local-icmp.ready") (want 503)," \
      "/-/healthy $(cat "$work/local-icmp.healthy") (want 200)" >&2
  fi
  echo "local rows: 3 scenarios, $local_failures failed, in" \
    "$((($(date +%s%N) / 1000000 - start_ms) / 1000)) s"
}
local_rows
if [[ "${KSCPROBE_FAULT_ROWS:-all}" == local ]]; then
  column -t -s $'\t' "$results.local" 2>/dev/null || cat "$results.local"
  ((local_failures == 0))
  exit
fi

# --- kscprobe --once over the whole matrix ------------------------------------------------------
rows=$(grep -v '^#' "$here/matrix.tsv" | grep -v '^$' | awk -F'\t' '$2 != "local"')
# The name of a row's check in kscprobe's table: a transport, or the catalog's icmp_echo, which
# `features = ["icmp"]` switches on (the way users enable it).
check_name() { if [[ "$1" == icmp ]]; then echo icmp_echo; else echo "$1"; fi; }
write_config() {  # rows (one target per case, one extra check per port-based transport)
  local prev="" case transport host port
  printf '[daemon]\ninterval = "10s"\ntimeout = "1s"\nmax_in_flight = 256\n'
  while IFS=$'\t' read -r case transport host port _; do
    if [[ "$case" != "$prev" ]]; then
      printf '\n[[target]]\nname = "%s"\nrole = "agent"\naddress = "%s"\n' "$case" "$host"
      printf 'disable = ["signal_udp", "multicast_udp"]\n'
      if awk -F'\t' -v c="$case" '$1 == c && $2 == "icmp" { f = 1 } END { exit !f }' <<<"$1"; then
        printf 'features = ["icmp"]\n'
      fi
      prev=$case
    fi
    [[ "$transport" == icmp ]] && continue
    printf '[[target.check]]\nname = "%s"\nport = %s\ntransport = "%s"\n' \
      "$transport" "$port" "$transport"
    if [[ "$transport" == http* ]]; then printf 'path = "/metrics"\n'; fi
  done <<<"$1"
}
run_once() {  # config output [command prefix...]
  local config=$1 out=$2
  shift 2
  in_p timeout 60 "$@" "$kscprobe" --once --config.file="$config" >"$out" 2>"$out.err" || true
  if ! grep -q 'passed,' "$out"; then
    echo "fault matrix: kscprobe --once did not finish ($config)" >&2
    cat "$out" "$out.err" >&2
    exit 1
  fi
}

# Raw ICMP socket: the prober runs as root, and ping sockets are forbidden (the kernel default).
in_p sysctl -qw net.ipv4.ping_group_range="1 0"
write_config "$rows" >"$work/matrix.toml"
start=$(date +%s%N)
run_once "$work/matrix.toml" "$work/once.txt"
once_ms=$((($(date +%s%N) - start) / 1000000))
# Ping socket: allowed for every group, and CAP_NET_RAW dropped so that no raw socket can stand in.
icmp_rows=$(awk -F'\t' '$2 == "icmp"' <<<"$rows")
in_p sysctl -qw net.ipv4.ping_group_range="0 2147483647"
write_config "$icmp_rows" >"$work/matrix-ping.toml"
run_once "$work/matrix-ping.toml" "$work/once-ping.txt" \
  setpriv --inh-caps=-net_raw --bounding-set=-net_raw --
in_p sysctl -qw net.ipv4.ping_group_range="1 0"

# --- the daemon over the whole matrix -----------------------------------------------------------
# --once starts every check as a coroutine (run_probe); the daemon starts TCP and UDP checks
# through their callback fast paths (start_tcp_probe, start_udp_probe) from the scheduler, records
# them in the result table and reports them through the /metrics renderer. The same config runs
# under the daemon (raw ICMP socket, as above) and each row's verdict and reason are read back
# from /metrics: kscprobe_probe_success and the kscprobe_probe_failures_total reasons counted so
# far (full detail for agents, so that every check has its own series).
{
  cat "$work/matrix.toml"
  printf '\n[metrics]\ndetail = { agent = "full" }\n'
} >"$work/daemon-matrix.toml"
ip netns exec "$ns_p" timeout 90 "$kscprobe" --config.file="$work/daemon-matrix.toml" \
  --web.listen-address=127.0.0.1:9852 >"$work/daemon-matrix.out" 2>"$work/daemon-matrix.err" &
daemon_pid=$!
pids+=("$daemon_pid")
# "case check" of every row, the pairs the daemon must have probed at least once.
wanted=$(awk -F'\t' '{ print $1, ($2 == "icmp" ? "icmp_echo" : $2) }' <<<"$rows" | sort -u)
# "case check success:reason[|reason...]" from a scrape, for checks probed at least once.
daemon_verdicts() {
  awk '
    function label(name,   re) {
      re = name "=\"[^\"]*\""
      if (!match($0, re)) return ""
      return substr($0, RSTART + length(name) + 2, RLENGTH - length(name) - 3)
    }
    /^kscprobe_probes_total\{/ && $NF >= 1 { probed[label("target") " " label("check")] = 1 }
    /^kscprobe_probe_success\{/ { ok[label("target") " " label("check")] = $NF }
    /^kscprobe_probe_failures_total\{/ && $NF > 0 {
      k = label("target") " " label("check")
      r = label("reason")
      if (k in why) r = why[k] "|" r
      why[k] = r
    }
    END {
      for (k in probed) print k, (ok[k] == "" ? "none" : ok[k]) ":" (k in why ? why[k] : "none")
    }' "$1" | sort
}
# The first round is spread over the 10 s interval; a second one is not waited for.
daemon_deadline=$((SECONDS + 30))
while ((SECONDS < daemon_deadline)); do
  in_p curl -s -m 2 http://127.0.0.1:9852/metrics >"$work/daemon.prom" 2>/dev/null || true
  daemon_verdicts "$work/daemon.prom" >"$work/daemon.txt"
  missing=$(comm -23 <(echo "$wanted") <(awk '{ print $1, $2 }' "$work/daemon.txt" | sort -u))
  [[ -z "$missing" ]] && break
  sleep 0.5
done
kill "$daemon_pid" 2>/dev/null || true
wait "$daemon_pid" 2>/dev/null || true
if [[ -n "$missing" ]]; then
  echo "fault matrix: the daemon did not probe every check within 30 s; missing:" >&2
  echo "$missing" >&2
  cat "$work/daemon-matrix.err" >&2
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
  icmp:
    prober: icmp
    timeout: 1s
    icmp: {preferred_ip_protocol: ip4}
EOF
ip netns exec "$ns_p" timeout 200 "$blackbox" --config.file="$work/blackbox.yml" \
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
    icmp) echo "$2" ;;
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
checked=0
printf 'case\ttransport\ttarget\texpected\tkscprobe\tkscprobe detail\tblackbox expected\tblackbox\n' \
  >"$results"
i=0
while IFS=$'\t' read -r case transport host port expect module bb_expect detail_want; do
  i=$((i + 1))
  bb_got="-"
  bb_seconds=""
  if [[ "$module" != "-" ]]; then
    bb_got=$(awk '$1 == "probe_success" {print $2}' "$work/bb/$i" 2>/dev/null || true)
    [[ -n "$bb_got" ]] || bb_got="none"
    bb_seconds=$(awk '$1 == "probe_duration_seconds" {printf "%.2f", $2}' "$work/bb/$i" \
      2>/dev/null || true)
  fi
  target="$host:$port"
  label=$transport
  # An ICMP row is checked in both kscprobe runs: the raw socket's and the ping socket's.
  passes=("$work/once.txt")
  if [[ "$transport" == icmp ]]; then
    target=$host
    passes=("$work/once.txt" "$work/once-ping.txt")
  fi
  for once in "${passes[@]}"; do
    if [[ "$transport" == icmp ]]; then
      label=icmp/raw
      [[ "$once" == "$work/once-ping.txt" ]] && label=icmp/ping
    fi
    checked=$((checked + 1))
    line=$(awk -v t="$case" -v c="$(check_name "$transport")" '$1 == t && $3 == c' "$once")
    latency=""
    if [[ -z "$line" ]]; then
      got="missing"
      detail=""
    else
      result=$(awk '{print $7}' <<<"$line")
      latency=$(awk '{print $8}' <<<"$line")
      reason=$(awk '{print $9}' <<<"$line")
      success=1
      [[ "$result" == "FAIL" ]] && success=0
      [[ "$reason" == "-" ]] && reason=none
      got="$success:$reason"
      # DETAIL is the last column and may hold spaces; CERT EXPIRY is "-" or "date (Nd)".
      detail=$(sed -E 's/^([^ ]+ +){9}(-|[0-9-]+ \([-0-9]+d\)) +//' <<<"$line")
    fi
    verdict=ok
    [[ "$got" == "$expect" ]] || verdict=FAIL
    [[ "$bb_got" == "$bb_expect" ]] || verdict=FAIL
    # Where blackbox has a verdict, it must agree with kscprobe's success.
    if [[ "$bb_got" =~ ^[01]$ && "$bb_got" != "${got%%:*}" ]]; then verdict=FAIL; fi
    # The optional last column: text kscprobe's detail must contain (which ICMP error came back).
    detail_miss=""
    if [[ -n "$detail_want" && "$detail" != *"$detail_want"* ]]; then
      verdict=FAIL
      detail_miss=" (detail lacks \"$detail_want\")"
    fi
    if [[ "$verdict" != ok ]]; then
      failures=$((failures + 1))
      echo "FAIL $case/$label ($target): kscprobe $got (want $expect) [$detail]$detail_miss," \
        "blackbox $bb_got (want $bb_expect)" >&2
    fi
    if [[ "$transport" == icmp ]]; then
      # blackbox ignores the ICMP errors its echo gets: it fails at its timeout, kscprobe at once.
      echo "icmp $case ($label): kscprobe $got in $latency, blackbox $bb_got in ${bb_seconds}s"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$label" "$target" "$expect" "$got" \
      "$detail" "$bb_expect" "$bb_got" >>"$results"
  done
  # The daemon's verdict on the same row, through the scheduler, the fast paths and /metrics.
  checked=$((checked + 1))
  label="$transport/daemon"
  [[ "$transport" == icmp ]] && label=icmp/raw/daemon
  got=$(awk -v t="$case" -v c="$(check_name "$transport")" '$1 == t && $2 == c { print $3 }' \
    "$work/daemon.txt")
  [[ -n "$got" ]] || got=missing
  if [[ "$got" != "$expect" ]]; then
    failures=$((failures + 1))
    echo "FAIL $case/$label ($target): daemon $got (want $expect)" >&2
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$label" "$target" "$expect" "$got" \
    "(from /metrics)" "$bb_expect" "$bb_got" >>"$results"
done <<<"$rows"
echo "fault matrix: $i cases ($checked kscprobe results, --once and daemon), $failures failed;" \
  "kscprobe --once took ${once_ms} ms"

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
features = ["icmp"]
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
ip netns exec "$ns_p" timeout 120 "$kscprobe" --config.file="$work/vanish.toml" \
  --web.listen-address=127.0.0.1:9851 >"$work/daemon.out" 2>"$work/daemon.err" &
pids+=($!)

scrape() { in_p curl -s -m 2 http://127.0.0.1:9851/metrics 2>/dev/null || true; }
# success of each check: "tcp=1 tls=1 ..." in check order
successes() {
  scrape | awk '/^kscprobe_probe_success\{/ && /target="vanish"/ {
      match($0, /check="[^"]*"/); c = substr($0, RSTART + 7, RLENGTH - 8); s[c] = $2 }
    END { printf "tcp=%s tls=%s https=%s udp=%s icmp=%s", s["tcp"], s["tls"], s["https"], s["udp"],
      s["icmp_echo"] }'
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
if wait_for '^tcp=1 tls=1 https=1 udp=1 icmp=1$' 15; then
  echo "vanish: all up: $(successes)"
  vanish_start=$SECONDS
  in_t ip link set "$veth_t" down
  if wait_for '^tcp=0 tls=0 https=0 udp=[01] icmp=0$' 10; then
    echo "vanish: down after $((SECONDS - vanish_start)) s: $(successes)"
  else
    echo "FAIL vanish: the checks did not go down: $(successes)" >&2
    vanish_ok=0
  fi
  sleep 2  # a few more probes against the vanished host
  for c in tcp tls https udp icmp_echo; do
    r=$(reasons "$c")
    echo "vanish: $c failures by reason: ${r:-none}"
    want="0:timeout|unreachable"
    [[ "$c" == udp ]] && want="1:none (open|filtered), unreachable when ARP fails"
    printf 'vanish\t%s\t10.200.1.2\t%s\t%s\t\t0\t' "$c" "$want" "${r:-none}" >>"$results"
    if [[ "$c" != udp ]] && ! [[ "$r" =~ ^((timeout|unreachable)=[0-9]+\ ?)+$ ]]; then
      echo "FAIL vanish: $c failed for other reasons than timeout/unreachable: $r" >&2
      vanish_ok=0
    fi
    query="module=tcp&target=10.200.1.2:8080"
    [[ "$c" == icmp_echo ]] && query="module=icmp&target=10.200.1.2"
    bb=$(in_p curl -s -m 5 "http://127.0.0.1:9115/probe?$query" |
      awk '$1 == "probe_success" {print $2}')
    printf '%s\n' "$bb" >>"$results"
    [[ "$bb" == 0 ]] || { echo "FAIL vanish: blackbox says $bb ($query)" >&2; vanish_ok=0; }
  done
  in_t ip link set "$veth_t" up
  back_start=$SECONDS
  if wait_for '^tcp=1 tls=1 https=1 udp=1 icmp=1$' 15; then
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

cat "$results.local" >>"$results"
failures=$((failures + local_failures))
column -t -s $'\t' "$results" 2>/dev/null || cat "$results"
((failures == 0))
