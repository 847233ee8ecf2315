#!/usr/bin/env bash
# totals.sh RESULTS_DIR: one line per test layer, then the totals; exit 1 if any layer failed.
set -uo pipefail
dir=$1
tp=0 tf=0 ts=0 bad=0
echo
echo "== test totals =="
for layer in sanity lint build docs unit integration matrix molecule demo; do
  f="$dir/$layer.counts"
  if [ ! -f "$f" ]; then
    # A layer that wrote no counts did not run to its end: that is a failure too.
    printf '%-12s no result: the layer did not run\n' "$layer:"
    bad=1
    continue
  fi
  read -r name p f s secs rc < "$f"
  printf '%-12s %4d passed, %d failed, %d skipped  (%ss)\n' "$name:" "$p" "$f" "$s" "$secs"
  tp=$((tp + p)); tf=$((tf + f)); ts=$((ts + s))
  [ "$rc" -ne 0 ] && bad=1
done
echo "total: $tp passed, $tf failed, $ts skipped"
exit $(( bad || tf > 0 ))
