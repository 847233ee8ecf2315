#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_container_info
short_description: Read containerd containers, their spec summary and their task
version_added: 0.1.0
description:
  - Lists the containers of a namespace (all, by name or by label) with the fields
    M(ctrops.containerd.containerd_container) manages and the status and PID of their task.
options:
  name:
    description:
      - Names of the containers to read. Default is every container of the namespace.
      - Names that do not exist are listed in RV(missing).
    type: list
    elements: str
    aliases: [names]
  labels:
    description:
      - Only containers carrying all these labels. A value of V(null) matches any value of that key.
    type: dict
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
  - ctrops.containerd.client.INFO
seealso:
  - module: ctrops.containerd.containerd_container
  - module: ctrops.containerd.containerd_task
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_container_info -a 'labels=team=web'

- name: All containers of the namespace
  ctrops.containerd.containerd_container_info:
  register: all_containers

- name: The web team's containers
  ctrops.containerd.containerd_container_info:
    labels:
      team: web
  register: web

- name: PIDs of running tasks
  ansible.builtin.debug:
    msg: "{{ web.containers | selectattr('task') | map(attribute='task.pid') | list }}"

# With community.general.json_query (needs jmespath on the control node), one expression filters on a
# nested field and picks several: the running containers' names and PIDs, and images nothing runs.
- name: Running containers as name and PID
  ansible.builtin.debug:
    msg: "{{ all_containers | community.general.json_query(running_query) }}"
  vars:
    running_query: "containers[?task.status == 'running'].{name: name, pid: task.pid}"

- name: Containers without a running task, by image
  ansible.builtin.debug:
    msg: "{{ all_containers | community.general.json_query(idle_query) }}"
  vars:
    idle_query: "containers[?task == null || task.status != 'running'].[name, image]"
'''

RETURN = r'''
containers:
  description:
    - The containers found, sorted by name, with the fields of RV(ctrops.containerd.containerd_container#module:container).
  returned: always
  type: list
  elements: dict
  sample:
    - name: web
      exists: true
      image: docker.io/rig/web:1
      command: [httpd, -f, -p, '80', -h, /www]
      labels: {team: web}
      restart_policy: 'no'
      task: {status: running, pid: 4242}
missing:
  description: Names given in O(name) that do not exist.
  returned: always
  type: list
  elements: str
  sample: []
'''

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import container_options as options
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import labels_match
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun


def collect(run):
    names = run.params['name']
    for name in names or []:
        validate.identifier(name, 'name', 'container name')
    client = run.client
    if names is None:
        names = ctrs.list_containers(client)
    tasks_by_name = ctrs.tasks(client)
    found, missing = [], []
    for name in sorted(set(names)):
        info = ctrs.container_info(client, name)
        if info is None:
            missing.append(name)
            continue
        summary = options.parse_container_info(info)
        if not labels_match(summary['labels'], run.params['labels']):
            continue
        view = options.container_view(summary)
        view.update(name=name, task=tasks_by_name.get(name))
        found.append(view)
    run.result.update(containers=found, missing=missing)


def main():
    run = ModuleRun(dict(
        name=dict(type='list', elements='str', aliases=['names']),
        labels=dict(type='dict'),
    ))
    run.execute(collect, run)
    run.exit()


if __name__ == '__main__':
    main()
