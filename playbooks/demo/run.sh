#!/usr/bin/env bash
# make demo: the field notes' walk-through (playbooks/walkthrough.yml) on a
# throwaway rig: the newest containerd of the test matrix in its own directory,
# a registry standing in for Docker Hub, a self-hosted registry with TLS and a
# password, CNI directories and a bridge of its own. Runs the walk-through
# twice (the second run changes nothing but the tasks tagged non_idempotent),
# then its clean-up play, prints a summary and removes everything
# (tests/support/demo.py).
#
# DEMO_INVENTORY=path runs the walk-through against a real inventory instead:
# twice, then the clean-up play. Settings: playbooks/group_vars/all/walkthrough.yml
# (registry, credentials, images, CNI subnet...), overridden in the inventory.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if [ -n "${DEMO_INVENTORY:-}" ]; then
  playbook=(.venv/bin/ansible-playbook -i "$DEMO_INVENTORY" -b playbooks/walkthrough.yml)
  "${playbook[@]}"
  "${playbook[@]}"
  exec "${playbook[@]}" --tags cleanup
fi
exec .venv/bin/python tests/support/demo.py
