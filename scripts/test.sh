#!/usr/bin/env bash
# One command to test kscprobe: installs what is missing, builds everything, runs every suite
# with ctest, then every extra stage in scripts/test.d/ (in name order). Exits non-zero if any
# stage fails, and prints a closing "N passed, N failed" line over the stages.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
# A compiler warning fails the run (scripts/build.sh says how).
KSCPROBE_WERROR=1 scripts/build.sh -DKSCPROBE_BUILD_TESTS=ON
# A failing suite does not stop the run: every stage still runs and the summary prints, and the
# exit status fails at the end (under pipefail, `ctest | tee` would end the script here).
ctest_status=0
# The "all" test preset (CMakePresets.json) holds the jobs, the timeout and the output.
ctest --preset all | tee build/ctest.log || ctest_status=$?
summary=$(grep -E '^[0-9]+% tests passed' build/ctest.log | tail -1 || true)
[[ -n $summary ]] || summary="ctest printed no summary (exit status $ctest_status)"

passed=0
failed=0
failed_names=()
for stage in scripts/test.d/*.sh; do
  [[ -e "$stage" ]] || continue
  echo "=== stage $(basename "$stage")"
  start=$(date +%s)
  if bash "$stage"; then
    passed=$((passed + 1))
    echo "=== stage $(basename "$stage") passed in $(( $(date +%s) - start ))s"
  else
    failed=$((failed + 1))
    failed_names+=("$(basename "$stage")")
    echo "=== stage $(basename "$stage") FAILED after $(( $(date +%s) - start ))s"
  fi
done
if ((passed + failed)); then
  echo "stages: $passed passed, $failed failed"
fi
if ((failed)); then
  echo "failed stages: ${failed_names[*]}"
fi
if ((ctest_status)); then
  echo "ctest FAILED (exit status $ctest_status): see build/ctest.log"
fi
# The suites' own summary stays the last line.
echo "$summary"
((failed == 0 && ctest_status == 0))
