#!/usr/bin/env bash
# make demo: playbooks/site.yml, then the field notes' walk-through
# (playbooks/walkthrough.yml), on a throwaway QEMU VM of the Molecule harness
# (playbooks/demo/demo_vm.py): the VM's containerd is installed by the roles,
# the images come from a registry the demo starts on this machine, the push
# goes to a self-hosted registry with TLS and a password the demo starts too.
# The walk-through runs twice (the second run changes nothing but the tasks
# tagged non_idempotent), then its clean-up play; a summary; everything is
# torn down.
#
# make demo-local (DEMO_LOCAL=1): the walk-through against a throwaway
# containerd on this machine instead (playbooks/demo/demo.py, about 2 minutes).
#
# DEMO_INVENTORY=path runs site.yml, then the walk-through twice and its
# clean-up play, against a real inventory. Settings:
# playbooks/group_vars/all/walkthrough.yml (registry, credentials, images,
# CNI subnet...), overridden in the inventory.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if [ -n "${DEMO_INVENTORY:-}" ]; then
  .venv/bin/ansible-playbook -i "$DEMO_INVENTORY" playbooks/site.yml
  playbook=(.venv/bin/ansible-playbook -i "$DEMO_INVENTORY" -b playbooks/walkthrough.yml)
  "${playbook[@]}"
  "${playbook[@]}"
  exec "${playbook[@]}" --tags cleanup
fi
if [ -n "${DEMO_LOCAL:-}" ]; then
  exec .venv/bin/python playbooks/demo/demo.py --local
fi
exec .venv/bin/python playbooks/demo/demo.py
