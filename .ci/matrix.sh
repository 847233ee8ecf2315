#!/usr/bin/env bash
# matrix.sh [LINE...]: the ansible-core lines and managed-node Pythons the collection claims
# (`make matrix`). LINEs default to every tests/matrix/requirements-core-LINE.txt; each has a
# venv made by `make setup` under $CTROPS_CACHE/matrix/core-LINE. Per line:
#   sanity  ansible-test sanity of that ansible-core, the tests in tests/matrix/sanity-tests.txt
#   unit    tests/unit with that ansible-core (they import ansible.module_utils through module_utils)
#   smoke   tests/matrix/smoke.yml (every module, twice) through that line's ansible-playbook
# and the main .venv's controller runs the smoke on the managed-node Pythons of MANAGED_PYTHONS.
# The smoke runs in the background (one rig for all runs) while sanity and unit run in turn.
# Prints one PASS:/FAIL: line per check, with its seconds; exits 1 if any failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=.ci/versions.env
. "$here/versions.env"
# shellcheck source=.ci/pythons.sh
. "$here/pythons.sh"

# Managed-node Pythons: Debian 12's 3.11, Arch's and NixOS's 3.12 and 3.13, through the main
# controller; and every line, the main one too, on the oldest target Python it supports
# (ansible.module_utils.basic's minimum), the collection's claim in README.
MANAGED_PYTHONS=(3.11 3.12 3.13)
declare -A OLDEST_PYTHON=([2.16]=3.6 [2.17]=3.7 [2.18]=3.8 [2.19]=3.8 [2.20]=3.9 [2.21]=3.9)

if [ $# -gt 0 ]; then
  lines=("$@")
else
  mapfile -t lines < <(find "$repo/tests/matrix" -name 'requirements-core-*.txt' -printf '%f\n' \
                       | sed 's/^requirements-core-//; s/\.txt$//' | sort -V)
fi
tests=()
while read -r t; do [ -n "$t" ] && tests+=(--test "$t"); done < <(grep -v '^#' "$repo/tests/matrix/sanity-tests.txt")
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$repo/.build/collections}
work=$(mktemp -d /tmp/ctrops-matrix-XXXXXX)
smoke_pid=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  [ -n "$smoke_pid" ] && kill "$smoke_pid" 2>/dev/null && wait "$smoke_pid"
  rm -rf "$work"
  # The shims' runc keeps a directory per namespace in a machine-wide place: the smoke's, once empty, go.
  find /run/containerd/runc -mindepth 1 -maxdepth 1 -type d -empty -name 'smoke-*' -delete 2>/dev/null
}
trap cleanup EXIT
status=0

# check NAME COMMAND...: one PASS/FAIL line with the seconds; on failure the output's tail, indented
# (so that suite.sh counts this layer's PASS/FAIL lines, not the pytest or ansible-test lines within).
check() {
  local name=$1 out start rc secs; shift
  out="$work/$(tr -c 'a-zA-Z0-9.\n' _ <<<"$name").log"
  start=$(date +%s)
  "$@" >"$out" 2>&1; rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    echo "PASS: matrix $name (${secs}s)"
  else
    echo "FAIL: matrix $name (${secs}s)"; tail -n 60 "$out" | sed 's/^/  | /'; status=1
  fi
}

# Outside the clone (like the rig's binaries): a clean clone reuses them and ansible-test's venvs,
# which it keys by the interpreter's path.
venv_of() { echo "$CTROPS_CACHE/matrix/core-$1"; }
py_label() { "$1" -c 'import sys; print("py%d%d" % sys.version_info[:2])'; }

missing=0
for line in "${lines[@]}"; do
  if [ ! -x "$(venv_of "$line")/bin/ansible-playbook" ]; then
    echo "FAIL: matrix ansible-core $line: no venv at $(venv_of "$line"): run 'make setup'"; missing=1
  fi
done
[ $missing -eq 0 ] || exit 1

# The smoke runs, the longest first: the main controller on the distributions' Pythons, then each
# line's controller on its own venv's Python (the 2.16 line also on the oldest Python).
main_core=$("$repo/.venv/bin/python" -c 'import ansible.release as r; print(".".join(r.__version__.split(".")[:2]))')
hosts=
for v in "${OLDEST_PYTHON[$main_core]:?no oldest Python for ansible-core $main_core in matrix.sh}" "${MANAGED_PYTHONS[@]}"; do
  p=$(python_for "$v") || { echo "FAIL: matrix no Python $v here"; exit 1; }
  hosts+="${hosts:+,}py${v//./}=$p"
done
runs=(--run "ansible-core $main_core" "$repo/.venv/bin" "$hosts")
for line in "${lines[@]}"; do
  venv=$(venv_of "$line")
  hosts="$(py_label "$venv/bin/python")=$venv/bin/python"
  v=${OLDEST_PYTHON[$line]:?no oldest Python for ansible-core $line in matrix.sh}
  oldest=$(python_for "$v") || { echo "FAIL: matrix no Python $v here"; exit 1; }
  hosts+=",py${v//./}=$oldest"
  runs+=(--run "ansible-core $line" "$venv/bin" "$hosts")
done
"$repo/.venv/bin/python" "$repo/tests/matrix/smoke.py" --workdir "$work/smoke" --jobs 2 "${runs[@]}" \
  >"$work/smoke.out" 2>&1 &
smoke_pid=$!

for line in "${lines[@]}"; do
  venv=$(venv_of "$line")
  check "ansible-core $line sanity" bash "$here/sanity.sh" --venv-dir "$venv" "${tests[@]}"
  check "ansible-core $line unit" env PYTHONPATH="${ANSIBLE_COLLECTIONS_PATH%%:*}" "$venv/bin/pytest" \
    "$repo/tests/unit" -o addopts= -p no:cacheprovider -q --basetemp "$work/unit-$line"
done

wait "$smoke_pid"; rc=$?; smoke_pid=
# The driver's own PASS:/FAIL: lines count; anything else it printed is indented.
sed -E '/^(PASS|FAIL): /!s/^/  | /' "$work/smoke.out"
[ $rc -eq 0 ] || status=1
exit $status
