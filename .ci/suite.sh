#!/usr/bin/env bash
# suite.sh NAME COMMAND...: run one test layer, keep its log and its counts in
# .build/results/NAME.{log,counts} for totals.sh, and exit with its status.
set -uo pipefail
name=$1; shift
results=${RESULTS_DIR:-.build/results}
mkdir -p "$results"
log="$results/$name.log"
start=$(date +%s)
"$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
secs=$(( $(date +%s) - start ))
passed=0 failed=0 skipped=0
# pytest's closing line, e.g. "==== 12 passed, 1 skipped in 3.2s ====".
summary=$(grep -E '^=+ .*(passed|failed|error|skipped|no tests ran).* in [0-9.]+s' "$log" | tail -1)
if [ -n "$summary" ]; then
  get() { grep -oE "[0-9]+ $1" <<<"$summary" | grep -oE '^[0-9]+' || echo 0; }
  passed=$(get passed); skipped=$(get skipped)
  # Recount errors ("1 error" or "2 errors").
  failed=$(( $(get failed) + $(grep -oE '[0-9]+ errors?' <<<"$summary" | grep -oE '^[0-9]+' || echo 0) ))
elif grep -q '^Running sanity test' "$log"; then
  # ansible-test: one "Running sanity test" line per test, and on failure
  # "The N sanity test(s) listed below (out of M) failed".
  total=$(grep -c '^Running sanity test' "$log")
  failed=$(grep -oE 'The [0-9]+ sanity test\(s\) listed below' "$log" | grep -oE '[0-9]+' | tail -1)
  failed=${failed:-0}; passed=$(( total - failed ))
elif grep -qE '^(PASS|FAIL): ' "$log"; then
  # Layers that are not pytest print one PASS:/FAIL: line per check.
  passed=$(grep -cE '^PASS: ' "$log"); failed=$(grep -cE '^FAIL: ' "$log")
elif [ "$rc" -eq 0 ]; then passed=1; else failed=1; fi
[ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$name $passed $failed $skipped $secs $rc" > "$results/$name.counts"
exit "$rc"
