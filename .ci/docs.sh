#!/usr/bin/env bash
# docs.sh update: render module and role documentation into docs/ with antsibull-docs.
# docs.sh check:  the documentation lints and renders without errors or warnings,
#                 the container options' generated texts are current and every description is sentences
#                 (.ci/option_docs.py), and docs/ matches what the sources render (one PASS:/FAIL: line each).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin="$repo/.venv/bin"
render() {  # dest
  "$bin/antsibull-docs" collection --use-current --squash-hierarchy --output-format simplified-rst \
    --dest-dir "$1" ctrops.containerd 2>&1
}
case "${1:-check}" in
  update)
    "$bin/python" "$repo/.ci/option_docs.py" update || exit 1
    rm -rf "$repo/docs" && mkdir -p "$repo/docs"
    out=$(render "$repo/docs") && echo "$out" && ! grep -qE 'ERROR|WARNING|Traceback' <<<"$out" ;;
  check)
    status=0
    tmp=$(mktemp -d /tmp/ctrops-docs-XXXXXX); trap 'rm -rf "$tmp"' EXIT
    if out=$("$bin/python" "$repo/.ci/option_docs.py" check 2>&1); then
      echo "PASS: docs container options generated from the option table, descriptions are sentences"
    else
      echo "$out"; echo "FAIL: docs container options generated from the option table, descriptions are sentences"
      status=1
    fi
    if out=$(cd "$repo" && "$bin/antsibull-docs" lint-collection-docs --plugin-docs . 2>&1); then
      echo "PASS: docs lint-collection-docs"
    else
      echo "$out"; echo "FAIL: docs lint-collection-docs"; status=1
    fi
    if ! out=$(render "$tmp") || grep -qE 'ERROR|WARNING|Traceback' <<<"$out"; then
      echo "$out"; echo "FAIL: docs render without warnings"; status=1
    else
      echo "PASS: docs render without warnings"
    fi
    if diff -r -q "$tmp" "$repo/docs" >/dev/null 2>&1; then
      echo "PASS: docs/ is up to date"
    else
      diff -r -q "$tmp" "$repo/docs"; echo "FAIL: docs/ is stale: run 'make docs-update' and commit docs/"; status=1
    fi
    exit $status ;;
esac
