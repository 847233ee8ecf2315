#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_namespace
short_description: Manage containerd namespaces and their labels
version_added: 0.1.0
description:
  - Create, label and remove containerd namespaces, as C(ctr namespaces create|label|remove) do, idempotently.
  - Objects in different namespaces are isolated from each other; equal names may exist in several namespaces.
  - Runs that create the same namespace at the same moment all succeed; the one whose create finds the
    namespace made by another run compares its labels instead of failing.
options:
  name:
    description:
      - Name of the namespace.
      - Letters and digits, separated by single C(.), C(_) or C(-); at most 76 characters.
    type: str
    required: true
  state:
    description:
      - V(present) creates the namespace and sets O(labels).
      - V(absent) removes it. containerd refuses to remove a namespace that still holds
        containers, images, content, snapshots or leases; the module then fails and lists
        what is left, unless O(force=true).
    type: str
    choices: [present, absent]
    default: present
  labels:
    description:
      - Labels to set on the namespace.
      - A label whose value is V(null) is removed.
      - Labels not listed are kept unless O(purge_labels=true).
      - "Values must not contain a comma: C(ctr namespaces ls) prints labels joined by commas,
        so such a value could not be read back."
    type: dict
  purge_labels:
    description:
      - Remove labels that are on the namespace but not in O(labels).
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), delete everything the namespace holds first
        (tasks are killed, then containers, images, leases, content and snapshots are deleted).
      - B(Destructive) and not reversible.
    type: bool
    default: false
extends_documentation_fragment:
  - ctrops.containerd.client
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the namespace's presence and labels before and after.
  platform:
    platforms: posix
seealso:
  - name: containerd namespaces
    description: How containerd isolates clients with namespaces.
    link: https://github.com/containerd/containerd/blob/main/docs/namespaces.md
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_namespace -a 'name=web labels=team=web,tier=front'

- name: Create a namespace for the web team
  ctrops.containerd.containerd_namespace:
    name: web
    labels:
      team: web
      containerd.io/defaults/snapshotter: overlayfs

- name: Remove one label and keep the others
  ctrops.containerd.containerd_namespace:
    name: web
    labels:
      team: null

- name: Make the labels exactly these
  ctrops.containerd.containerd_namespace:
    name: web
    labels:
      team: platform
    purge_labels: true

- name: Remove the namespace (fails if it still holds objects)
  ctrops.containerd.containerd_namespace:
    name: web
    state: absent

- name: Remove the namespace and everything in it
  ctrops.containerd.containerd_namespace:
    name: scratch
    state: absent
    force: true
'''

RETURN = r'''
namespace:
  description: The namespace after the task (before it, in check mode, with the predicted labels).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the namespace.
      type: str
      sample: web
    exists:
      description: Whether the namespace exists after the task.
      type: bool
      sample: true
    labels:
      description: Labels of the namespace.
      type: dict
      sample: {team: web}
removed_objects:
  description: What O(force=true) deleted, by kind.
  returned: when O(state=absent), O(force=true) and the namespace held objects
  type: dict
  sample: {images: [docker.io/library/busybox:latest], content blobs: ["sha256:3f..."]}
actions:
  description: The ctr operations performed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["create namespace web", "set labels team"]
'''

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import namespaces as nss
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import label_changes, label_actions, wanted_labels
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun
from ansible_collections.ctrops.containerd.plugins.module_utils.races import LOST, act_racing


def ensure_present(run, name, current_labels):
    params = run.params
    if current_labels is None:
        wanted = wanted_labels({}, params['labels'], True)
        raced = {}

        def made_by_another_run():
            raced['labels'] = nss.namespaces(run.client).get(name)
            return raced['labels'] is not None
        if act_racing(run, 'create namespace %s' % name, made_by_another_run, nss.create, run.client, name,
                      wanted) is not LOST:
            if wanted:
                run.actions.append('set labels %s' % ', '.join(sorted(wanted)))
            return wanted
        # Another run created it at the same moment: its labels are compared as for any existing namespace.
        current_labels = raced['labels']
    wanted = wanted_labels(current_labels, params['labels'], params['purge_labels'])
    changes = label_changes(current_labels, wanted)
    if changes:
        run.act(label_actions(changes), nss.set_labels, run.client, name, changes)
    return wanted


def ensure_absent(run, name):
    client = run.client
    if run.params['force']:
        contents = nss.contents(client, name)
        if contents:
            run.result['removed_objects'] = contents
            run.act('delete %s in namespace %s' % (', '.join(sorted(contents)), name), nss.empty, client, name)
    try:
        run.act('remove namespace %s' % name, nss.remove, client, name)
    except CtrError as exc:
        if 'must be empty' not in exc.message:
            raise
        contents = nss.contents(client, name)
        left = '; '.join('%s: %s' % (kind, ', '.join(items[:5]) + (' …' if len(items) > 5 else ''))
                         for kind, items in sorted(contents.items()))
        raise ModuleError('Namespace %s is not empty (%s): remove those objects first, or set '
                          'force=true to delete them with the namespace.' % (name, left or exc.message),
                          remaining=contents)


def converge(run):
    params = run.params
    name = params['name']
    validate.identifier(name, 'name', 'namespace name')
    validate.label_keys(params['labels'], reported_in_list=True)
    current = nss.namespaces(run.client).get(name)
    before = dict(name=name, exists=current is not None, labels=current or {})
    if params['state'] == 'present':
        after = dict(name=name, exists=True, labels=ensure_present(run, name, current))
    else:
        if current is not None:
            ensure_absent(run, name)
        after = dict(name=name, exists=False, labels={})
    run.result['namespace'] = after
    run.set_diff(before, after, 'namespace %s' % name)


def main():
    run = ModuleRun(dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        labels=dict(type='dict'),
        purge_labels=dict(type='bool', default=False),
        force=dict(type='bool', default=False),
    ), namespace=False)
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
