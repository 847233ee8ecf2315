#!/usr/bin/env bash
# make demo: start a throwaway containerd (the newest of the test matrix, in its
# own directory), run the demo playbook against it twice (the second run must
# change nothing), print the summary, stop everything.
# DEMO_INVENTORY=path runs the playbook against a real inventory instead
# (containerd must be installed there; set containerd_address if not default).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export ANSIBLE_STDOUT_CALLBACK=${ANSIBLE_STDOUT_CALLBACK:-default}
if [ -n "${DEMO_INVENTORY:-}" ]; then
  exec .venv/bin/ansible-playbook -i "$DEMO_INVENTORY" -e demo_hosts=all -b playbooks/demo/demo.yml
fi
exec .venv/bin/python tests/support/demo.py
