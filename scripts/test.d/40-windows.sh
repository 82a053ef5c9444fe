#!/usr/bin/env bash
# Windows service, as far as Linux can prove it: cross-compiles the reduced Windows build
# (service host, config loader, catalog, plan, logger, a Beast health/metrics endpoint) with
# mingw-w64, then under wine in a throwaway prefix: `kscprobe service install`, `sc start`,
# polls `sc query` until RUNNING, checks the service's loopback port answers /-/healthy and
# /metrics, `kscprobe service reload`, `sc stop` until STOPPED and the port closed,
# `service uninstall`. What this does not prove is listed in windows-service/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The whole stage is bounded, whatever hangs.
if [[ -z "${KSCPROBE_40_BOUNDED:-}" ]]; then
  KSCPROBE_40_BOUNDED=1 exec timeout -k 10 240 bash "$0" "$@"
fi
fail() {
  echo "40-windows: FAIL: $*" >&2
  exit 1
}
for tool in x86_64-w64-mingw32-g++-posix wine wineserver wineboot curl; do
  command -v "$tool" >/dev/null || fail "$tool missing (scripts/packages/test-service.txt)"
done

root=$PWD
work=$(mktemp -d /tmp/kscprobe-windows-XXXXXX)
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
cleanup() {
  timeout 20 wineserver -k >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "--- cross-compile (mingw-w64, posix threads)"
# mingw does not search /usr/include: a folder of links to the header-only libraries it needs.
mkdir -p "$work/inc"
for d in boost fmt spdlog toml++; do ln -s "/usr/include/$d" "$work/inc/$d"; done
cxx=(x86_64-w64-mingw32-g++-posix)
command -v ccache >/dev/null && cxx=(ccache "${cxx[@]}")
flags=(-std=c++20 -O1 -Wall -I"$work/inc" -I"$root" -I"$root/windows-service/mingw/compat"
  -DSPDLOG_HEADER_ONLY -DFMT_HEADER_ONLY -D_POSIX_THREAD_SAFE_FUNCTIONS -D_WIN32_WINNT=0x0A00
  -DWIN32_LEAN_AND_MEAN -DKSCPROBE_VERSION="\"$(sed -nE 's/^project\(kscprobe VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)\"")
sources=(config/catalog.cpp config/config.cpp config/duration.cpp config/loader.cpp
  config/plan.cpp daemon/logging.cpp daemon/scheduler_core.cpp
  windows-service/service_framework.cpp windows-service/mingw/reduced_main.cpp)
objs=()
pids=()
for s in "${sources[@]}"; do
  o="$work/$(basename "$s" .cpp).o"
  objs+=("$o")
  timeout 200 "${cxx[@]}" "${flags[@]}" -c "$s" -o "$o" 2>"$o.log" &
  pids+=($!)
  # Two at a time: the machine has two cores.
  if ((${#pids[@]} >= 2)); then
    wait "${pids[0]}" || { cat "${objs[-2]}.log" "${objs[-1]}.log"; fail "compile"; }
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || { cat "$work"/*.o.log; fail "compile"; }; done
timeout 120 x86_64-w64-mingw32-g++-posix -static -municode -o "$work/kscprobe.exe" "${objs[@]}" \
  -lws2_32 -lmswsock -ladvapi32 || fail "link"
echo "built kscprobe.exe ($(stat -c %s "$work/kscprobe.exe") bytes)"

echo "--- wine prefix"
timeout 120 wineboot -i >/dev/null 2>&1 || fail "wineboot"
timeout 60 wineserver -w || true
# A persistent server, or wine tears the service down when `sc start` returns.
timeout -k 5 200 wineserver -p >/dev/null 2>&1 &
# services.exe starts with the first wine process: let it inherit no pipe of ours.
timeout 60 wine cmd /c exit </dev/null >/dev/null 2>&1 || true

c="$WINEPREFIX/drive_c"
cp "$work/kscprobe.exe" "$c/kscprobe.exe"
port=$((20000 + RANDOM % 20000))
printf '[daemon]\ninterval = "30s"\ntimeout = "5s"\n[[target]]\nname = "local"\nrole = "agent"\naddress = "127.0.0.1"\n' >"$c/kscprobe.toml"
w() { timeout 60 wine "$@" </dev/null 2>/dev/null; }
state() { w sc query kscprobe | sed -nE 's/.*STATE +: +[0-9]+ +([A-Z_]+).*/\1/p'; }

echo "--- service install"
w 'C:\kscprobe.exe' service install '--config.file=C:\kscprobe.toml' \
  "--web.listen-address=127.0.0.1:$port" '--log.file=C:\kscprobe.log' || fail "service install"
[[ "$(state)" == STOPPED ]] || fail "installed service is not STOPPED: $(state)"

echo "--- sc start"
w sc start kscprobe >/dev/null || fail "sc start"
st=""
for _ in $(seq 1 50); do
  st=$(state)
  [[ "$st" == RUNNING ]] && break
  sleep 0.2
done
[[ "$st" == RUNNING ]] || fail "service not RUNNING: $st"
echo "RUNNING"
curl -fsS -m 5 "http://127.0.0.1:$port/-/healthy" | grep -q OK || fail "/-/healthy"
curl -fsS -m 5 "http://127.0.0.1:$port/metrics" | grep -q '^kscprobe_checks_total 2$' \
  || fail "/metrics does not show the configuration's 2 checks"

echo "--- reload (custom control 128)"
printf '[daemon]\ninterval = "30s"\n' >"$c/kscprobe.toml"
w 'C:\kscprobe.exe' service reload >/dev/null || fail "service reload"
ok=0
for _ in $(seq 1 25); do
  if curl -fsS -m 5 "http://127.0.0.1:$port/metrics" | grep -q '^kscprobe_checks_total 0$'; then
    ok=1
    break
  fi
  sleep 0.2
done
((ok)) || fail "reload did not load the new configuration"

echo "--- sc stop"
w sc stop kscprobe >/dev/null || true
for _ in $(seq 1 50); do
  st=$(state)
  [[ "$st" == STOPPED ]] && break
  sleep 0.2
done
[[ "$st" == STOPPED ]] || fail "service not STOPPED: $st"
echo "STOPPED"
if curl -fsS -m 2 "http://127.0.0.1:$port/-/healthy" >/dev/null 2>&1; then
  fail "port still answering after stop"
fi
[[ -e "$c/kscprobe.log" ]] || fail "service did not create its log file"

echo "--- service uninstall"
w 'C:\kscprobe.exe' service uninstall >/dev/null || fail "service uninstall"
if w sc query kscprobe | grep -q STATE; then fail "service still registered"; fi
echo "40-windows: all checks passed"
