#!/usr/bin/env bash
# The unit and integration suites built with AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/), stopping at the first report. Then ThreadSanitizer (build-tsan/) on the tests of
# the parts that use threads: the daemon's event loop is one thread, but /metrics bodies are
# gzipped on a worker thread, names are resolved on Asio's resolver thread, and the service
# hosts call App::stop/request_reload from their own threads. KSCPROBE_TSAN=all runs the whole
# integration suite under it (a longer run).
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc 2>/dev/null || echo 2)
# Share ccache entries between build directories (-g embeds the directory otherwise).
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1

run_suites() {  # build_dir
  local dir=$1 start
  start=$(date +%s)
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${@:2}" >/dev/null
  timeout 1200 ninja -C "$dir" -j "$jobs" unit_tests integration_tests
  echo "sanitizers: $dir built in $(($(date +%s) - start)) s"
  start=$(date +%s)
  timeout 300 "$dir/tests/unit_tests" --gtest_brief=1
  timeout 600 "$dir/tests/integration_tests" --gtest_brief=1
  echo "sanitizers: $dir suites ran in $(($(date +%s) - start)) s"
}

export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suites build-asan -DKSCPROBE_SANITIZE=address,undefined

export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
start=$(date +%s)
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKSCPROBE_SANITIZE=thread \
  >/dev/null
timeout 1500 ninja -C build-tsan -j "$jobs" integration_tests
echo "sanitizers: build-tsan built in $(($(date +%s) - start)) s"
filter='ServerFixture.*:TcpProber*Resolve*:AppThreads.*:SdNotify.*'
if [[ "${KSCPROBE_TSAN:-}" == all ]]; then filter='*'; fi
timeout 600 build-tsan/tests/integration_tests --gtest_brief=1 --gtest_filter="$filter"
