#!/usr/bin/env bash
# Windows, as far as Linux can prove it, with mingw-w64 and wine:
# 1. Portability: every shared translation unit (config/, collectors/, daemon/ with main.cpp,
#    simulator/, and windows-service/service_app.cpp, the full service body) compiles for
#    Windows (-fsyntax-only, with Linux's OpenSSL headers since Debian has no
#    mingw builds of them), with a guard that rejects POSIX headers MSVC does not have.
# 2. A reduced kscprobe.exe (service host, configuration loader, catalog, plan, logger, bcrypt,
#    Event Log message table from windmc/windres, a Beast health/metrics endpoint) and
#    kscprobe-selftest.exe, linked statically; windows-service/windows.cmake on a stand-in
#    CMake project.
# 3. Under wine, in a throwaway prefix: --config.check of examples/kscprobe.example.toml and of
#    broken files gives the same output as the same code built for Linux; bcrypt verifies
#    libxcrypt's hashes; the time and file shims; `service install` (service + Event Log source
#    in the registry, whose message file formats every message), `sc start` until RUNNING,
#    /-/healthy and /metrics, `service reload` of a good and a broken file, `sc stop` until
#    STOPPED, the log file's lines, the Event Log entries (wine traces ReportEventW), no crash,
#    `service uninstall` (service and registry key gone).
# What this does not prove is listed in windows-service/README.md. KSCPROBE_40_KEEP=1 keeps the
# work folder (printed) for inspection.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The whole stage is bounded, whatever hangs.
if [[ -z "${KSCPROBE_40_BOUNDED:-}" ]]; then
  KSCPROBE_40_BOUNDED=1 exec timeout -k 10 1200 bash "$0" "$@"
fi
fail() {
  echo "40-windows: FAIL: $*" >&2
  exit 1
}
for tool in x86_64-w64-mingw32-g++-posix x86_64-w64-mingw32-windmc x86_64-w64-mingw32-windres \
  wine wineserver wineboot curl g++; do
  command -v "$tool" >/dev/null || fail "$tool missing (scripts/packages/test-service.txt)"
done

root=$PWD
started=$SECONDS
# ccache hits across runs and checkout folders: see compile.sh below for the mingw side.
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
work=$(mktemp -d /tmp/kscprobe-windows-XXXXXX)
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
cleanup() {
  timeout 20 wineserver -k >/dev/null 2>&1 || true
  if [[ -n "${KSCPROBE_40_KEEP:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# parallel2 CMD... -- ITEM...: runs CMD... ITEM for each item, two at a time (the machine has two
# cores); fails if any of them fails.
parallel2() {
  local -a cmd=() items=()
  while [[ $1 != -- ]]; do
    cmd+=("$1")
    shift
  done
  shift
  items=("$@")
  printf '%s\0' "${items[@]}" | xargs -0 -P 2 -n 1 "${cmd[@]}"
}

echo "--- headers for mingw"
# mingw does not search /usr/include: a folder of links to the header-only libraries it needs,
# plus, for the compile-only check, OpenSSL (with Linux's configuration.h),
# yaml-cpp, CLI11 and zlib headers.
inc="$work/inc"
mkdir -p "$inc/openssl"
for d in boost fmt spdlog toml++ yaml-cpp CLI zlib.h zconf.h; do
  ln -s "/usr/include/$d" "$inc/$d"
done
ln -s /usr/include/openssl/* /usr/include/x86_64-linux-gnu/openssl/* "$inc/openssl/"
# POSIX headers that mingw has but MSVC does not: an #error when a project file includes one
# directly (library headers still get mingw's).
guard="$work/msvc-guard"
for h in unistd.h sys/time.h dirent.h pthread.h strings.h libgen.h sys/param.h; do
  mkdir -p "$guard/$(dirname "$h")"
  printf '#if __INCLUDE_LEVEL__ == 1\n#error "<%s> does not exist with MSVC: see platform/platform.hpp"\n#else\n#include_next <%s>\n#endif\n' \
    "$h" "$h" >"$guard/$h"
done

cxx=(x86_64-w64-mingw32-g++-posix)
command -v ccache >/dev/null && cxx=(ccache "${cxx[@]}")
version=$(sed -nE 's/^project\(kscprobe VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
# Relative to $work, where compile.sh runs: the command line (which ccache hashes) is the same
# from one run to the next, whatever the name of the work folder.
common=(-std=c++20 -Wall -Imsvc-guard -Iinc -I"$root" -D_WIN32_WINNT=0x0A00 -DWIN32_LEAN_AND_MEAN
  -DNOMINMAX -DSPDLOG_HEADER_ONLY -DFMT_HEADER_ONLY -DKSCPROBE_VERSION="\"$version\"")
printf '%s\n' "${cxx[@]}" "${common[@]}" >"$work/cxx.args"
cat >"$work/compile.sh" <<'EOF'
#!/usr/bin/env bash
# compile.sh WORK ROOT MODE SOURCE: MODE "check" (-fsyntax-only) or "object" (-O1, WORK/obj/).
work=$1 root=$2 mode=$3 src=$4
cd "$work" || exit 1
mapfile -t cmd <cxx.args
name=${src//\//_}
if [[ $mode == check ]]; then
  out=(-fsyntax-only -DYAML_CPP_STATIC_DEFINE
    -DBOOST_ASIO_SEPARATE_COMPILATION -DBOOST_BEAST_SEPARATE_COMPILATION -DBOOST_ASIO_NO_DEPRECATED)
else
  out=(-O1 -c -o "obj/${name%.cpp}.o")
fi
if timeout 300 "${cmd[@]}" "${out[@]}" "$root/$src" >"log/$name.log" 2>&1; then
  echo "ok    $src"
else
  echo "FAIL  $src"
  exit 1
fi
EOF
chmod +x "$work/compile.sh"
mkdir -p "$work/obj" "$work/log"

echo "--- portability: every shared translation unit compiles for Windows (-fsyntax-only)"
# Files with POSIX-only code still waiting for their Windows branch: reported, not fatal.
pending=()
# Every layer's files, with the Windows variants of the per-OS ones (files_windows.cpp,
# <name>_other.cpp; not files_posix.cpp or <name>_linux.cpp: CMake chooses between them).
mapfile -t units < <(ls platform/*.cpp config/*.cpp config/load/*.cpp collectors/*.cpp \
  daemon/*.cpp daemon/*/*.cpp simulator/*.cpp windows-service/service_app.cpp |
  grep -Ev '_(posix|linux)\.cpp$')
parallel2 "$work/compile.sh" "$work" "$root" check -- "${units[@]}" >"$work/check.txt" || true
failed=()
for u in "${units[@]}"; do
  grep -qx "ok    $u" "$work/check.txt" && continue
  if [[ " ${pending[*]} " == *" $u "* ]]; then
    echo "pending: $u ($(grep -m1 -F 'error:' "$work/log/${u//\//_}.log" | sed 's/^.*error: //'))"
  else
    failed+=("$u")
  fi
done
for u in "${pending[@]}"; do
  grep -qx "ok    $u" "$work/check.txt" && echo "note: $u now compiles for Windows; drop it from the pending list"
done
if ((${#failed[@]})); then
  for u in "${failed[@]}"; do
    echo "== $u"
    head -30 "$work/log/${u//\//_}.log"
  done
  fail "not portable to Windows: ${failed[*]}"
fi
echo "$(grep -c '^ok' "$work/check.txt") of ${#units[@]} translation units compile for Windows"

echo "--- cross-compile the reduced kscprobe.exe and kscprobe-selftest.exe"
# The configuration without yaml-cpp (no mingw build of it): the TOML loader and its sections,
# the catalog, the plan and compose; not target_file.cpp, target_files.cpp or yaml_file.cpp.
config_objs=(config/catalog.cpp config/compose.cpp config/config.cpp config/duration.cpp
  config/ksc.cpp config/loader.cpp config/load/*.cpp config/plan.cpp config/rules.cpp
  config/utf8.cpp)
objs=("${config_objs[@]}" daemon/web/bcrypt.cpp daemon/exposition/json_string.cpp daemon/logging.cpp
  platform/files_windows.cpp daemon/runtime/scheduler_core.cpp
  windows-service/service_framework.cpp windows-service/mingw/config_check.cpp
  windows-service/mingw/reduced_main.cpp windows-service/mingw/selftest.cpp)
parallel2 "$work/compile.sh" "$work" "$root" object -- "${objs[@]}" || {
  cat "$work"/log/*.log
  fail "compile"
}
o() { for s in "$@"; do echo "$work/obj/$(basename "${s//\//_}" .cpp).o"; done; }
# The Event Log message table: messages.mc -> .rc + .bin -> COFF resource object.
mkdir -p "$work/mc"
x86_64-w64-mingw32-windmc -b -h "$work/mc" -r "$work/mc" windows-service/messages.mc || fail "windmc"
x86_64-w64-mingw32-windres -I"$work/mc" "$work/mc/messages.rc" -O coff -o "$work/obj/messages.res.o" \
  || fail "windres"
# The identifiers in service_framework.hpp are the compiled ones (severity bits included).
for pair in INFO:1 WARNING:2 ERROR:3 STARTED:100 STOPPED:101 STOP_REQUESTED:102 RELOADED:103 \
  RELOAD_REJECTED:104 START_FAILED:105 FAILED:106 LOG_FILE:107; do
  grep -qiE "KSCPROBE_MSG_${pair%%:*} \(DWORD\) 0x[0-9a-f]{4}0*$(printf '%x' "${pair##*:}")\$" \
    "$work/mc/messages.h" || fail "messages.mc: KSCPROBE_MSG_${pair%%:*} is not ${pair##*:}"
done
link=(x86_64-w64-mingw32-g++-posix -static -municode)
mapfile -t exe_objs < <(o "${config_objs[@]}" daemon/web/bcrypt.cpp daemon/exposition/json_string.cpp daemon/logging.cpp \
  platform/files_windows.cpp daemon/runtime/scheduler_core.cpp \
  windows-service/service_framework.cpp windows-service/mingw/config_check.cpp \
  windows-service/mingw/reduced_main.cpp)
timeout 120 "${link[@]}" -o "$work/kscprobe.exe" "${exe_objs[@]}" "$work/obj/messages.res.o" \
  -lws2_32 -lmswsock -ladvapi32 || fail "link kscprobe.exe"
mapfile -t test_objs < <(o daemon/web/bcrypt.cpp platform/files_windows.cpp \
  windows-service/service_framework.cpp windows-service/mingw/selftest.cpp)
timeout 120 "${link[@]}" -o "$work/kscprobe-selftest.exe" "${test_objs[@]}" -ladvapi32 \
  || fail "link kscprobe-selftest.exe"
echo "built kscprobe.exe ($(stat -c %s "$work/kscprobe.exe") bytes), kscprobe-selftest.exe"

echo "--- the CMake side of the message table (windows-service/windows.cmake), with mingw"
# The preset's way in (CMAKE_PROJECT_kscprobe_INCLUDE, deferred to the end of the top-level
# CMakeLists.txt), on a stand-in project: mc.exe and rc.exe are windmc and windres here.
cm="$work/cmake-check"
mkdir -p "$cm/src"
cp -r windows-service "$cm/src/"
printf 'cmake_minimum_required(VERSION 3.25)\nproject(kscprobe LANGUAGES CXX)\nadd_executable(kscprobe main.cpp)\n' \
  >"$cm/src/CMakeLists.txt"
cat >"$cm/src/main.cpp" <<'EOF'
#include <windows.h>

#include <cstdio>
// Prints message 100 (started) from the executable's own message table.
int main() {
  wchar_t* text = nullptr;
  const wchar_t* detail = L"from CMake";
  DWORD_PTR args[] = {reinterpret_cast<DWORD_PTR>(detail)};
  if (!FormatMessageW(FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_ALLOCATE_BUFFER |
                          FORMAT_MESSAGE_ARGUMENT_ARRAY,
                      nullptr, 0x40000064, 0, reinterpret_cast<wchar_t*>(&text), 0,
                      reinterpret_cast<va_list*>(args)))
    return 1;
  std::printf("%ls", text);
  return 0;
}
EOF
printf 'set(CMAKE_SYSTEM_NAME Windows)\nset(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)\nset(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)\n' \
  >"$cm/toolchain.cmake"
{ timeout 120 cmake -S "$cm/src" -B "$cm/build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$cm/toolchain.cmake" \
  -DCMAKE_PROJECT_kscprobe_INCLUDE="$cm/src/windows-service/windows.cmake" \
  -DCMAKE_EXE_LINKER_FLAGS=-static && timeout 120 ninja -C "$cm/build"; } >"$cm/log" 2>&1 \
  || { cat "$cm/log"; fail "windows.cmake"; }
grep -q 'Compiling the Event Log messages' "$cm/log" || fail "windows.cmake did not compile messages.mc"

echo "--- the same configuration check and bcrypt vectors, built for Linux"
hostcxx=(g++)
command -v ccache >/dev/null && hostcxx=(ccache g++)
mkdir -p "$work/host"
for s in "${config_objs[@]}" platform/files_posix.cpp windows-service/mingw/config_check.cpp windows-service/mingw/config_check_main.cpp; do
  echo "$s"
done | xargs -P 2 -I{} sh -c 'timeout 300 "$@" -c {} -o "$0/host/$(echo {} | tr / _).o"' \
  "$work" "${hostcxx[@]}" -std=c++20 -O1 -I"$root" || fail "host compile"
timeout 120 g++ -o "$work/host/config_check" "$work"/host/*.o || fail "host link"
timeout 120 "${hostcxx[@]}" -std=c++20 -O1 -o "$work/host/bcrypt_vectors" \
  windows-service/mingw/bcrypt_vectors.cpp -lcrypt || fail "host bcrypt_vectors"
echo "compiled in $((SECONDS - started)) s"

echo "--- wine prefix"
timeout 120 wineboot -i >/dev/null 2>&1 || fail "wineboot"
timeout 60 wineserver -w || true
# A persistent server, or wine tears the service down when `sc start` returns.
timeout -k 5 300 wineserver -p >/dev/null 2>&1 &
# services.exe starts with the first wine process: let it inherit no pipe of ours. Its standard
# error, which the services inherit, collects wine's trace of ReportEventW (wine has no Event
# Log to write to: it traces each entry's identifier and text) and any crash report.
WINEDEBUG="-all,fixme+advapi,+eventlog" timeout 60 wine cmd /c exit </dev/null >/dev/null \
  2>"$work/services.log" || true

c="$WINEPREFIX/drive_c"
cp "$work/kscprobe.exe" "$work/kscprobe-selftest.exe" "$c/"
w() { timeout 60 wine "$@" </dev/null 2>/dev/null; }

echo "--- configuration check: Windows build vs Linux build"
cp examples/kscprobe.example.toml "$c/example.toml"
# [probe] allow goes through Winsock's inet_pton; [web] basic_auth through the bcrypt checks.
cat >"$c/web.toml" <<'EOF'
[daemon]
interval = "30s"
[web]
basic_auth_users = { prometheus = "$2y$10$hU4wNvB1mXl9n0d1Qx3pGe6L.zGAjd8yzDzllSGI1e3z5CIB2tE5m" }
[probe]
allow = ["10.20.0.0/16", "2001:db8::/32", "192.0.2.7"]
[[target]]
name = "dp-lyon"
role = "distribution_point"
address = "dp-lyon.corp.example"
EOF
printf '[daemon]\ninterval = "30s"\ntimeout = "1m"\n[probe]\nallow = ["10.20.0.0/33", "300.1.1.1"]\n[[target]]\nname = "x"\nrole = "nope"\naddress = "h"\n' \
  >"$c/broken.toml"
printf '[daemon]\ninterval = "30s"\r\n[[target]]\r\nname = "crlf"\r\nrole = "agent"\r\naddress = "10.0.0.1"\r\n' \
  >"$c/crlf.toml"
out=$(timeout 60 wine "$cm/build/kscprobe.exe" </dev/null 2>/dev/null) || fail "CMake-built message table"
[[ "$out" == "The kscprobe service started: from CMake"* ]] || fail "CMake-built message table: $out"
echo "message table built through windows.cmake: $out"
for f in example.toml web.toml broken.toml crlf.toml; do
  set +e
  win=$(cd "$c" && timeout 60 wine kscprobe.exe --config.check "--config.file=$f" </dev/null 2>/dev/null | tr -d '\r')
  wrc=$?
  lin=$(cd "$c" && "$work/host/config_check" "$f")
  lrc=$?
  set -e
  [[ "$win" == "$lin" && $wrc == "$lrc" ]] || {
    printf 'windows (exit %s):\n%s\nlinux (exit %s):\n%s\n' "$wrc" "$win" "$lrc" "$lin"
    fail "--config.check $f differs between the Windows and the Linux build"
  }
  echo "$f: exit $wrc, same output: $(tail -1 <<<"$win")"
done
grep -q ': valid, ' <<<"$(cd "$c" && "$work/host/config_check" example.toml)" \
  || fail "examples/kscprobe.example.toml is not valid"

echo "--- bcrypt (Windows build) vs libxcrypt (Linux)"
"$work/host/bcrypt_vectors" 48 "$RANDOM" >"$c/bcrypt.txt" || fail "bcrypt_vectors"
out=$(w 'C:\kscprobe-selftest.exe' bcrypt 'C:\bcrypt.txt') || { echo "$out"; fail "bcrypt"; }
echo "$out"
out=$(w 'C:\kscprobe-selftest.exe' platform) || { echo "$out"; fail "platform shims"; }
echo "$out" | tr -d '\r'
out=$(w 'C:\kscprobe-selftest.exe' files 'C:\globtest') || { echo "$out"; fail "file shims"; }
echo "$out" | tr -d '\r'

port=$((20000 + RANDOM % 20000))
printf '[daemon]\ninterval = "30s"\ntimeout = "5s"\n[[target]]\nname = "local"\nrole = "agent"\naddress = "127.0.0.1"\n' >"$c/kscprobe.toml"
state() { w sc query kscprobe | sed -nE 's/.*STATE +: +[0-9]+ +([A-Z_]+).*/\1/p'; }
eventlog_key='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\kscprobe'
# Polls `cmd...` until its output contains `want`, for up to `seconds`.
wait_for() {
  local seconds=$1 want=$2
  shift 2
  local end=$((SECONDS + seconds))
  while ((SECONDS < end)); do
    [[ "$("$@" 2>/dev/null || true)" == *"$want"* ]] && return 0
    sleep 0.3
  done
  return 1
}

echo "--- service install"
w 'C:\kscprobe.exe' service install '--config.file=C:\kscprobe.toml' \
  "--web.listen-address=127.0.0.1:$port" '--log.file=C:\logs\kscprobe.log' || fail "service install"
[[ "$(state)" == STOPPED ]] || fail "installed service is not STOPPED: $(state)"
reg=$(w reg query "$eventlog_key" | tr -d '\r') || fail "Event Log source not registered"
grep -qE 'EventMessageFile +REG_EXPAND_SZ +C:\\kscprobe\.exe' <<<"$reg" \
  || fail "EventMessageFile is not kscprobe.exe: $reg"
grep -qE 'TypesSupported +REG_DWORD +0x7' <<<"$reg" || fail "TypesSupported: $reg"
echo "registry: $(grep -E 'EventMessageFile' <<<"$reg" | sed -E 's/^ +//; s/ +/ /g')"
msgs=$(w 'C:\kscprobe-selftest.exe' messages kscprobe | tr -d '\r') || {
  echo "$msgs"
  fail "the registered message file does not format every message"
}
grep -qx '100 info: The kscprobe service started: <detail>' <<<"$msgs" || fail "messages: $msgs"
grep -qx '104 warning: kscprobe rejected an invalid configuration and keeps running with the previous one: <detail>' \
  <<<"$msgs" || fail "messages: $msgs"
grep -qx '3 error: <detail>' <<<"$msgs" || fail "messages: $msgs"
echo "message table: $(wc -l <<<"$msgs") messages formatted from the registered EventMessageFile"

echo "--- sc start"
w sc start kscprobe >/dev/null || fail "sc start"
# The first start in a fresh prefix can take a while (wine loads the service's DLLs).
wait_for 60 RUNNING state || fail "service not RUNNING: $(state)"
echo "RUNNING after $((SECONDS - started)) s"
curl -fsS -m 5 "http://127.0.0.1:$port/-/healthy" | grep -q OK || fail "/-/healthy"
curl -fsS -m 5 "http://127.0.0.1:$port/metrics" | grep -q '^kscprobe_checks_total 2$' \
  || fail "/metrics does not show the configuration's 2 checks"

echo "--- reload (custom control 128)"
printf '[daemon]\ninterval = "30s"\n' >"$c/kscprobe.toml"
w 'C:\kscprobe.exe' service reload >/dev/null || fail "service reload"
metrics() { curl -fsS -m 5 "http://127.0.0.1:$port/metrics"; }
wait_for 15 'kscprobe_checks_total 0' metrics || fail "reload did not load the new configuration"
# A broken file is rejected and the running configuration stays.
printf '[daemon]\ninterval = "soon"\n' >"$c/kscprobe.toml"
w 'C:\kscprobe.exe' service reload >/dev/null || fail "service reload (broken file)"
log="$c/logs/kscprobe.log"
wait_for 15 'configuration reload failed' cat "$log" || fail "the rejected reload is not logged"
metrics | grep -q '^kscprobe_checks_total 0$' || fail "a rejected reload changed the configuration"

echo "--- sc stop"
w sc stop kscprobe >/dev/null || true
wait_for 30 STOPPED state || fail "service not STOPPED: $(state)"
echo "STOPPED"
if curl -fsS -m 2 "http://127.0.0.1:$port/-/healthy" >/dev/null 2>&1; then
  fail "port still answering after stop"
fi

echo "--- log file"
[[ -s "$log" ]] || fail "the service's log file $log is missing or empty"
tr -d '\r' <"$log" | sed 's/^/  /'
for line in 'level=info msg="kscprobe started"' "listen_address=127.0.0.1:$port" \
  'msg="configuration reloaded"' 'msg="configuration error"' 'msg=stopping' \
  'msg="kscprobe stopped"'; do
  grep -qF "$line" "$log" || fail "the log file has no $line"
done
grep -qE '^ts=20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z level=info msg="kscprobe started"' "$log" \
  || fail "log lines do not start with an ISO 8601 UTC time stamp"

echo "--- Event Log entries (as wine traces ReportEventW)"
# Each entry's full identifier (severity bits and number, as in messages.mc) and its text.
event() { grep -A1 -F "ReportEventW" "$work/services.log" | grep -B1 -F "$2" | grep -F ",$1," >/dev/null; }
event 0x40000064 "L\"listening on 127.0.0.1:$port\"" || fail "no 'started' event"
event 0x40000067 'L"C:\\kscprobe.toml, 0 checks"' || fail "no 'reloaded' event"
event 0x80000068 'invalid configuration C:\\kscprobe.toml' || fail "no 'reload rejected' event"
event 0x40000066 'L"stop requested"' || fail "no 'stop requested' event"
event 0x40000065 'L"exit code 0"' || fail "no 'stopped' event"
if grep -E 'Unhandled|starting debugger' "$work/services.log"; then fail "the service crashed"; fi
grep -F 'trace:eventlog:ReportEventW' "$work/services.log" | sed -E 's/^.*ReportEventW /  /' | cut -c1-100

echo "--- service uninstall"
w 'C:\kscprobe.exe' service uninstall >/dev/null || fail "service uninstall"
if w sc query kscprobe | grep -q STATE; then fail "service still registered"; fi
if w reg query "$eventlog_key" >/dev/null; then fail "Event Log source still registered"; fi
echo "40-windows: all checks passed in $((SECONDS - started)) s"
