#!/usr/bin/env bash
# The collection tarball builds, and holds the collection only: no tests, caches,
# virtual environments or VM images. Prints one PASS:/FAIL: line per check.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d /tmp/ctrops-build-XXXXXX)
trap 'rm -rf "$out"' EXIT
check() { if eval "$2"; then echo "PASS: build $1"; else echo "FAIL: build $1"; status=1; fi; }
status=0
cd "$repo"
check "ansible-galaxy collection build" '"$repo/.venv/bin/ansible-galaxy" collection build --output-path "$out" . >/dev/null'
tarball=$(ls "$out"/ctrops-containerd-*.tar.gz 2>/dev/null | head -1)
listing=$(tar -tzf "${tarball:-/dev/null}" 2>/dev/null)
check "tarball has MANIFEST.json and the modules" 'grep -qx MANIFEST.json <<<"$listing" && grep -q "^plugins/modules/containerd_namespace.py$" <<<"$listing"'
check "tarball has no tests, venv, caches or images" '! grep -qE "^(tests/(integration|unit|support|output)|\.venv|\.build|\.git/|\.ci)|__pycache__|\.qcow2$|\.pyc$" <<<"$listing"'
size=$(stat -c %s "${tarball:-/dev/null}" 2>/dev/null || echo 0)
check "tarball is small (${size} bytes < 2 MB)" '[ "$size" -gt 0 ] && [ "$size" -lt 2000000 ]'
exit $status
