#!/usr/bin/env bash
# The collection tarball builds, and holds the collection only: no tests, caches,
# virtual environments or VM images. Prints one PASS:/FAIL: line per check.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/ctrops-build-XXXXXX)
trap 'rm -rf "$out"' EXIT
status=0
# report NAME RC: one PASS or FAIL line for the command that just ran.
report() {
  if [ "$2" -eq 0 ]; then echo "PASS: build $1"; else echo "FAIL: build $1"; status=1; fi
}
cd "$repo" || exit 1
"$repo/.venv/bin/ansible-galaxy" collection build --output-path "$out" . >/dev/null
report "ansible-galaxy collection build" $?
tarball=$(find "$out" -maxdepth 1 -name 'ctrops-containerd-*.tar.gz' | head -n 1)
listing=$(tar -tzf "${tarball:-/dev/null}" 2>/dev/null)
grep -qx MANIFEST.json <<<"$listing" && grep -q '^plugins/modules/containerd_namespace.py$' <<<"$listing"
report "tarball has MANIFEST.json and the modules" $?
! grep -qE '^(tests/(integration|unit|support|output|demo|benchmark|matrix)|playbooks/demo/.*\.py|\.venv|\.build|\.git/|\.ci)|__pycache__|\.qcow2$|\.pyc$' \
  <<<"$listing"
report "tarball has no tests, venv, caches or images" $?
size=$(stat -c %s "${tarball:-/dev/null}" 2>/dev/null || echo 0)
[ "$size" -gt 0 ] && [ "$size" -lt 2000000 ]
report "tarball is small (${size} bytes < 2 MB)" $?
# Execution environments (AWX, Automation Platform): ansible-builder finds the collection's own
# control-node needs in the installed tarball, and the shipped example definition makes a build context.
"$repo/.venv/bin/ansible-galaxy" collection install --force --no-deps -p "$out/ee-collections" "${tarball:-/dev/null}" >/dev/null 2>&1
needs=$("$repo/.venv/bin/ansible-builder" introspect --sanitize "$out/ee-collections" 2>&1)
grep -q "jmespath.*from collection ctrops.containerd" <<<"$needs" &&
  grep -q "openssh-client \[platform:dpkg\].*from collection ctrops.containerd" <<<"$needs"
report "ansible-builder introspect finds meta/execution-environment.yml's needs" $?
"$repo/.venv/bin/ansible-builder" create -f extensions/ee/execution-environment.yml -c "$out/ee-context" >/dev/null 2>&1 &&
  grep -q "ctrops.containerd" "$out/ee-context/_build/requirements.yml" &&
  grep -q "introspect" "$out/ee-context/Dockerfile"
report "ansible-builder create makes a build context from extensions/ee/execution-environment.yml" $?
exit $status
