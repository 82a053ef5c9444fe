#!/usr/bin/env bash
# libFuzzer: builds tests/fuzz/fuzz_*.cpp with clang, ASan and UBSan (the `fuzz` preset of
# CMakePresets.json, build-fuzz/) and runs each for KSCPROBE_FUZZ_SECONDS (default 25) over its
# seed corpus in tests/fuzz/corpus/<name>/.
# Fails on any crash, leak, timeout or out-of-memory; the input that did it is kept in
# build-fuzz/artifacts/. New inputs go to a scratch corpus, never into the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${KSCPROBE_FUZZ_SECONDS:-25}
jobs=$(nproc 2>/dev/null || echo 2)
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
command -v clang++ >/dev/null || { echo "fuzz: clang++ is missing" >&2; exit 1; }

start=$(date +%s)
cmake --preset fuzz >/dev/null
mapfile -t targets < <(cd tests/fuzz && ls fuzz_*.cpp | sed 's/\.cpp$//')
# The fuzzers only, not the daemon and the simulator the preset also builds.
timeout 1200 cmake --build --preset fuzz -j "$jobs" --target "${targets[@]}"
echo "fuzz: built in $(($(date +%s) - start)) s"

mkdir -p build-fuzz/artifacts
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
for t in "${targets[@]}"; do
  scratch=$(mktemp -d /tmp/kscprobe-fuzz-XXXXXX)
  log=build-fuzz/$t.log
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a blow-up is a failure.
  if timeout $((seconds + 120)) "build-fuzz/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/artifacts/$t-" "$scratch" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
    echo "fuzz: $t: $execs execs in ${seconds}s ($rate/s), $cov, corpus $(ls "$scratch" | wc -l)"
  else
    failed=1
    echo "fuzz: $t FAILED, see $log" >&2
    grep -E 'ERROR|SUMMARY|artifact|==[0-9]+==' "$log" | head -20 >&2 || true
  fi
  rm -rf "$scratch"
done
((failed == 0))
