#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_namespace_info
short_description: List containerd namespaces with their labels
version_added: 0.1.0
description:
  - Lists the namespaces of a containerd daemon with their labels, as C(ctr namespaces ls) shows them.
  - Optionally lists what each namespace holds (containers, images, tasks, snapshots, leases, content), which is what
    keeps containerd from removing it.
  - Read-only.
options:
  name:
    description:
      - Only these namespaces. Names that do not exist are left out of RV(namespaces) and listed in RV(missing).
    type: list
    elements: str
    aliases: [names]
  labels:
    description:
      - Only namespaces carrying all these labels; a value of V(null) matches any value of that label.
    type: dict
  contents:
    description:
      - Also list what each namespace holds, in RV(namespaces[].contents).
      - Costs six more ctr calls per namespace.
    type: bool
    default: false
extends_documentation_fragment:
  - ctrops.containerd.client
  - ansible.builtin.action_common_attributes
  - ctrops.containerd.client.INFO
notes:
  - Costs one ctr call (C(namespaces ls)) without O(contents).
seealso:
  - module: ctrops.containerd.containerd_namespace
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_namespace_info -a 'name=web,default'

- name: All namespaces (ctr namespaces ls)
  ctrops.containerd.containerd_namespace_info:
  register: all_namespaces

- name: Names only
  ansible.builtin.debug:
    msg: "{{ all_namespaces.namespaces | map(attribute='name') | list }}"

- name: The namespaces of the web team, with what they hold
  ctrops.containerd.containerd_namespace_info:
    labels:
      team: web
    contents: true
  register: web_namespaces

# With community.general.json_query (needs jmespath on the control node): the namespaces that still
# hold containers, which containerd refuses to remove.
- name: Namespaces with containers
  ansible.builtin.debug:
    msg: "{{ web_namespaces | community.general.json_query('namespaces[?contents.containers].name') }}"
'''

RETURN = r'''
namespaces:
  description: The matching namespaces, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the namespace.
      type: str
      sample: walkthrough
    labels:
      description: Labels of the namespace.
      type: dict
      sample: {team: ops}
    contents:
      description:
        - What the namespace holds, by kind (C(containers), C(images), C(tasks), C(snapshots), C(leases),
          C(content blobs)); kinds with nothing are left out, so an empty namespace has C({}).
      returned: when O(contents=true)
      type: dict
      sample: {containers: [web], images: [docker.io/library/nginx:alpine]}
missing:
  description: Names given in O(name) that do not exist.
  returned: always
  type: list
  elements: str
  sample: []
ctr_calls:
  description: Number of ctr invocations of this run.
  returned: always
  type: int
  sample: 1
'''

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import namespaces as nss
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import labels_match
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun


def collect(run):
    names = run.params['name']
    for name in names or []:
        validate.identifier(name, 'name', 'namespace name')
    existing = nss.namespaces(run.client)
    found = []
    for name in sorted(existing if names is None else set(names) & set(existing)):
        if not labels_match(existing[name], run.params['labels']):
            continue
        entry = dict(name=name, labels=existing[name])
        if run.params['contents']:
            entry['contents'] = nss.contents(run.client, name)
        found.append(entry)
    run.result.update(namespaces=found, missing=sorted(set(names or []) - set(existing)))


def main():
    run = ModuleRun(dict(
        name=dict(type='list', elements='str', aliases=['names']),
        labels=dict(type='dict'),
        contents=dict(type='bool', default=False),
    ), namespace=False)
    run.execute(collect, run)
    run.exit()


if __name__ == '__main__':
    main()
