#!/usr/bin/env bash
# sanity.sh [--venv-dir DIR] [ANSIBLE-TEST ARGS...]: ansible-test sanity on a copy
# of the collection: ansible-test wants the path to end in
# ansible_collections/<namespace>/<name> and refuses a symlinked one.
# The copy holds the files git tracks plus the untracked ones it does not ignore.
#
# Without --venv-dir: the main .venv's ansible-test, in a venv of its own with
# its requirements (`make sanity`). With --venv-dir DIR: DIR's ansible-test
# (one ansible-core line of the matrix) on DIR's Python, with the sanity tests'
# venvs that `make setup` primed (--prime-venvs), so nothing is installed here.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/.venv"
mode=(--venv --requirements)
if [ "${1:-}" = --venv-dir ]; then
  venv=$(cd "$2" && pwd); mode=(--local); shift 2
fi
work=$(mktemp -d /tmp/ctrops-sanity-XXXXXX)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/ctrops/containerd"
mkdir -p "$dest"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
   [ -f "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents -t "$dest")
cd "$dest"
python_version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$venv/bin/ansible-test" sanity "${mode[@]}" --python "$python_version" --color no "$@"
