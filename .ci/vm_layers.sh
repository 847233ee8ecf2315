#!/usr/bin/env bash
# The two VM layers side by side: the demo check (one Debian VM, about 19 min)
# beside the Molecule scenarios (three VMs one after the other, about 17 min).
# A TCG VM keeps about one host core busy, the machine has two, and one after
# the other they were a third of `make test`. The demo's output is kept in its
# layer log and printed when both have ended; each layer still writes its own
# counts for totals.sh. Exits non-zero if either failed. `make test` ran the set-up
# already (-o setup): two set-ups at once would race.
set -uo pipefail
cd "$(dirname "$0")/.."
results=${RESULTS_DIR:-.build/results}
mkdir -p "$results"
demo_out="$results/demo.out"
echo "== demo-check runs beside molecule; its output follows when both have ended ($demo_out)"
make --no-print-directory -o setup demo-check > "$demo_out" 2>&1 &
demo_pid=$!
# Ctrl-C or a CI stop reaches the whole process group; this only makes sure the
# demo's make does not outlive this script when the script alone is stopped.
trap 'kill -TERM "$demo_pid" 2>/dev/null; wait "$demo_pid"; exit 130' INT TERM
make --no-print-directory -o setup molecule
molecule_rc=$?
wait "$demo_pid"
demo_rc=$?
trap - INT TERM
echo "== demo-check output"
cat "$demo_out"
exit $(( molecule_rc || demo_rc ))
