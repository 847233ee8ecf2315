#!/usr/bin/env bash
# Runs the Molecule scenarios one after the other (the machine has 2 cores and
# no KVM) and prints one "PASS: molecule <scenario> (<s>s)" or "FAIL: ..." line
# each, for .ci/suite.sh. MOLECULE_SCENARIOS restricts the set.
# Whatever happens (failure, Ctrl-C), every VM and HTTP server of this run is
# destroyed at the end, by the PIDs vm.py recorded.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1

scenarios=${MOLECULE_SCENARIOS:-"fleet nixos"}
logs="$repo/.build/molecule"
mkdir -p "$logs"

CTROPS_VM_RUN_ID="run-$$-$(date +%s)"
export CTROPS_VM_RUN_ID
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$repo/.build/collections}
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
# Mitogen's strategy keeps one Python per VM instead of starting one per task: under TCG that
# halves a converge (site.yml no-op on Debian: 166 s linear, 76 s mitogen_linear). make demo-check
# runs site.yml (through ansible-runner) and its dry run with Ansible's own linear strategy, so both paths are tested.
# MOLECULE_STRATEGY=linear runs the scenarios without Mitogen.
strategy=${MOLECULE_STRATEGY:-mitogen_linear}
if [ "$strategy" != linear ]; then
  ANSIBLE_STRATEGY_PLUGINS=$(python3 -c 'import ansible_mitogen, os; print(os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy"))') || {
    echo "FAIL: molecule mitogen (0s)"; echo "  the mitogen package is missing: run make setup"; exit 1; }
  # The VMs are new at each boot, with new host keys; Mitogen checks them itself.
  export ANSIBLE_STRATEGY_PLUGINS ANSIBLE_HOST_KEY_CHECKING=False
fi
export ANSIBLE_STRATEGY=$strategy
link="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/ctrops/containerd"
if [ ! -e "$link" ]; then
  mkdir -p "$(dirname "$link")" && ln -sfn "$repo" "$link"
fi

cleanup() {
  python3 "$here/vm.py" destroy-all --run-id "$CTROPS_VM_RUN_ID" || true
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# Base images come from `make setup`; build missing ones rather than fail.
python3 "$here/vm.py" build-bases || { echo "FAIL: molecule base-images (0s)"; exit 1; }

rc=0
total_start=$(date +%s)
for s in $scenarios; do
  if [ ! -f "$here/$s/molecule.yml" ]; then
    echo "FAIL: molecule $s (0s)"; echo "  no scenario $here/$s"; rc=1; continue
  fi
  start=$(date +%s)
  echo "== molecule test -s $s (log: $logs/$s.log)"
  molecule test -s "$s" > "$logs/$s.log" 2>&1
  status=$?
  secs=$(( $(date +%s) - start ))
  if [ "$status" -eq 0 ]; then
    echo "PASS: molecule $s (${secs}s)"
    # The fleet's per-host times, one line per Molecule step (callback ctrops_host_times).
    awk '/\] Executing/ { match($0, /> [a-z_]+\]/); step = substr($0, RSTART + 2, RLENGTH - 3) }
         /^host times:/ { print "  " step ": " substr($0, 13) }' "$logs/$s.log"
  else
    echo "--- last lines of $logs/$s.log"
    tail -n 60 "$logs/$s.log" | sed 's/^/  | /'
    echo "FAIL: molecule $s (${secs}s)"
    rc=1
  fi
  # A crashed scenario may not have reached its destroy step.
  cleanup
done
echo "molecule: all scenarios took $(( $(date +%s) - total_start ))s"
exit "$rc"
