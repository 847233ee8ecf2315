#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection: ansible-test wants the path
# to end in ansible_collections/<namespace>/<name> and refuses a symlinked one.
# The copy holds the files git tracks plus the untracked ones it does not ignore.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/ctrops-sanity-XXXXXX)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/ctrops/containerd"
mkdir -p "$dest"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
   [ -f "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents -t "$dest")
cd "$dest"
python_version=$("$repo/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$repo/.venv/bin/ansible-test" sanity --venv --requirements --python "$python_version" --color no "$@"
