#!/usr/bin/env bash
# The unit and integration suites built with AddressSanitizer + UndefinedBehaviorSanitizer
# (the `asan` preset of CMakePresets.json, build-asan/), stopping at the first report; each
# binary must run as many tests as ctest lists for its label. Then ThreadSanitizer (the `tsan`
# preset, build-tsan/) on the tests labelled integration-threads in
# tests/CMakeLists.txt (`ctest -L threads`), the parts that use threads: the daemon's event loop
# is one thread, but /metrics bodies are gzipped on a worker thread, names are resolved on Asio's
# resolver thread, and the service hosts call App::stop/request_reload from their own threads.
# A selection that finds no test fails the stage: a filter that has drifted away from the tests'
# names must not pass as a clean run.
#   KSCPROBE_TSAN=all         the whole integration suite under ThreadSanitizer (a longer run)
#   KSCPROBE_SANITIZERS=tsan  the ThreadSanitizer part alone
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc 2>/dev/null || echo 2)
# Share ccache entries between build directories (-g embeds the directory otherwise).
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
fail() {
  echo "sanitizers: FAIL: $*" >&2
  exit 1
}

listed() {  # build_dir label-regex: how many tests ctest lists with a label it matches
  local n
  n=$(ctest --test-dir "$1" -N -L "$2" | sed -nE 's/^Total Tests: ([0-9]+)$/\1/p')
  echo "${n:-0}"
}

# Tests that take every file descriptor the process may open (a prober out of descriptors must
# report a local fault) cannot run under UndefinedBehaviorSanitizer: its vptr check reads memory
# through a pipe it opens, and with no descriptor left it reports a valid object as invalid. They
# run in the plain build (ctest) and end to end in the fault matrix (ulimit -n 48); here they are
# left out by name, and the count checked below is of the tests that are not.
kOutOfDescriptors='OutOfDescriptors'

run_binary() {  # build_dir binary label timeout: runs the gtest binary, checks it ran them all
  local dir=$1 bin=$2 label=$3 limit=$4 want left_out ran log
  want=$(listed "$dir" "$label")
  ((want > 0)) || fail "ctest lists no test labelled $label in $dir"
  left_out=$(ctest --test-dir "$dir" -N -L "$label" -R "$kOutOfDescriptors" |
    sed -nE 's/^Total Tests: ([0-9]+)$/\1/p')
  want=$((want - ${left_out:-0}))
  log=$(mktemp /tmp/kscprobe-san-XXXXXX)
  timeout "$limit" "$dir/tests/$bin" --gtest_brief=1 --gtest_filter="-*$kOutOfDescriptors*" 2>&1 |
    tee "$log"
  ran=$(sed -nE 's/^\[==========\] ([0-9]+) tests? from .* ran\..*/\1/p' "$log" | tail -1)
  rm -f "$log"
  [[ "${ran:-0}" == "$want" ]] || fail "$bin ran ${ran:-0} tests, ctest lists $want ($label)"
  echo "sanitizers: $dir $bin: $ran tests (label $label; ${left_out:-0} out of descriptors left out)"
}

run_suites() {  # preset build_dir: builds the preset's targets, runs both suites
  local preset=$1 dir=$2 start
  start=$(date +%s)
  cmake --preset "$preset" >/dev/null
  # A cold ASan build (an empty ccache) takes about 19 minutes on two cores by itself: the bound
  # stops a hung build, with room for a cold one on a busy machine (as mingw's in 40-windows).
  timeout 2400 cmake --build --preset "$preset" -j "$jobs"
  echo "sanitizers: $dir built in $(($(date +%s) - start)) s"
  start=$(date +%s)
  run_binary "$dir" unit_tests '^unit$' 300
  run_binary "$dir" integration_tests integration 600
  echo "sanitizers: $dir suites ran in $(($(date +%s) - start)) s"
}

export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [[ "${KSCPROBE_SANITIZERS:-}" != tsan ]]; then
  run_suites asan build-asan
fi

export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
start=$(date +%s)
cmake --preset tsan >/dev/null
timeout 2400 cmake --build --preset tsan -j "$jobs"
echo "sanitizers: build-tsan built in $(($(date +%s) - start)) s"
label=threads
if [[ "${KSCPROBE_TSAN:-}" == all ]]; then label=integration; fi
selected=$(ctest --test-dir build-tsan -N -L "$label")
n=$(sed -nE 's/^Total Tests: ([0-9]+)$/\1/p' <<<"$selected")
((${n:-0} > 0)) || fail "no test labelled $label in build-tsan"
# The resolver thread is what the label exists for: its tests must be among those selected.
grep -q 'TcpProberTest\.ResolvesNamesThroughTheResolver' <<<"$selected" \
  || fail "the resolver tests are not labelled $label"
echo "sanitizers: ThreadSanitizer on $n tests labelled $label"
start=$(date +%s)
timeout 900 ctest --test-dir build-tsan -L "$label" --no-tests=error --output-on-failure \
  --timeout 300
echo "sanitizers: build-tsan tests ran in $(($(date +%s) - start)) s"
