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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ctrops.containerd.plugins.module_utils.labels import label_changes, wanted_labels
from ansible_collections.ctrops.containerd.plugins.module_utils.client import (
    ContainerdClient,
    CtrError,
    client_argument_spec,
)
from ansible_collections.ctrops.containerd.plugins.module_utils.parsers import identifier_error


def validate(module):
    params = module.params
    problem = identifier_error(params['name'], 'namespace name')
    if problem:
        module.fail_json(msg='Invalid name: %s.' % problem)
    for key, value in (params['labels'] or {}).items():
        if not key or '=' in key or ',' in key:
            module.fail_json(msg='Invalid label key %r: keys must be non-empty and contain neither "=" nor ",".'
                             % key)
        if value is not None and ',' in str(value):
            module.fail_json(msg='The value of label %r contains a comma, which ctr cannot report back '
                             'unambiguously: choose a value without ",".' % key)


def ensure_present(module, client, name, current_labels, result):
    params = module.params
    if current_labels is None:
        wanted = wanted_labels({}, params['labels'], True)
        result['actions'].append('create namespace %s' % name)
        if wanted:
            result['actions'].append('set labels %s' % ', '.join(sorted(wanted)))
        if not module.check_mode:
            client.create_namespace(name, wanted)
        return wanted
    wanted = wanted_labels(current_labels, params['labels'], params['purge_labels'])
    changes = label_changes(current_labels, wanted)
    if changes:
        set_keys = sorted(key for key, value in changes.items() if value is not None)
        removed = sorted(key for key, value in changes.items() if value is None)
        if set_keys:
            result['actions'].append('set labels %s' % ', '.join(set_keys))
        if removed:
            result['actions'].append('remove labels %s' % ', '.join(removed))
        if not module.check_mode:
            client.label_namespace(name, changes)
    return wanted


def ensure_absent(module, client, name, result):
    if module.params['force']:
        contents = client.namespace_contents(name)
        if contents:
            result['removed_objects'] = contents
            result['actions'].append('delete %s in namespace %s' % (', '.join(sorted(contents)), name))
            if not module.check_mode:
                client.empty_namespace(name)
    result['actions'].append('remove namespace %s' % name)
    if module.check_mode:
        return
    try:
        client.remove_namespace(name)
    except CtrError as exc:
        if 'must be empty' not in exc.message:
            raise
        contents = client.namespace_contents(name)
        left = '; '.join('%s: %s' % (kind, ', '.join(items[:5]) + (' …' if len(items) > 5 else ''))
                         for kind, items in sorted(contents.items()))
        module.fail_json(msg='Namespace %s is not empty (%s): remove those objects first, or set '
                             'force=true to delete them with the namespace.' % (name, left or exc.message),
                         remaining=contents)


def main():
    argument_spec = client_argument_spec(namespace=False)
    argument_spec.update(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        labels=dict(type='dict'),
        purge_labels=dict(type='bool', default=False),
        force=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    name = module.params['name']
    state = module.params['state']
    client = ContainerdClient.from_module(module)
    result = dict(changed=False, actions=[])
    try:
        current = client.namespaces().get(name)
        before = dict(name=name, exists=current is not None, labels=current or {})
        if state == 'present':
            labels = ensure_present(module, client, name, current, result)
            after = dict(name=name, exists=True, labels=labels)
        else:
            if current is not None:
                ensure_absent(module, client, name, result)
            after = dict(name=name, exists=False, labels={})
    except CtrError as exc:
        module.fail_json(msg=exc.message, **exc.details())
    result['changed'] = bool(result['actions'])
    result['namespace'] = after
    if module._diff:
        result['diff'] = dict(before=before, after=after,
                              before_header='namespace %s' % name, after_header='namespace %s' % name)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
