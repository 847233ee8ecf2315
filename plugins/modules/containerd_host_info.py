#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_host_info
short_description: What a containerd host runs, as facts for later tasks
version_added: 0.2.0
description:
  - Gathers what a containerd host runs, as C(docker_host_info) does for Docker hosts, for C(when:) conditions
    of later tasks.
  - Versions of containerd (server and client, C(ctr version)), runc (C(runc --version)) and the CNI plugins.
  - The server's plugins and their status (C(ctr plugins ls)), with the snapshotters and runtimes apart.
  - The namespaces, with how many containers, tasks (and of those running), images and snapshots each holds.
  - The CNI configuration directory and its networks, the CNI plugins found, and the socket's owner, group and mode.
  - Read-only.
options:
  gather:
    description:
      - What to gather. Leave out what a play does not need, since each part has its cost (see the notes).
    type: list
    elements: str
    choices: [versions, plugins, namespaces, cni, socket]
    default: [versions, plugins, namespaces, cni, socket]
  namespaces:
    description:
      - Count only in these namespaces (all by default). Names that do not exist are listed in RV(missing_namespaces).
    type: list
    elements: str
  cni_conf_dir:
    description: The CNI configuration directory whose networks are listed.
    type: path
    default: /etc/cni/net.d
  cni_bin_dirs:
    description: Directories searched for CNI plugin binaries, in order (the first one holding a plugin wins).
    type: list
    elements: path
    default: [/opt/cni/bin, /usr/lib/cni]
extends_documentation_fragment:
  - ctrops.containerd.client
  - ansible.builtin.action_common_attributes
  - ctrops.containerd.client.INFO
notes:
  - "Costs in ctr calls: V(versions) one (plus one C(runc --version) and one CNI plugin run), V(plugins) one,
    V(namespaces) one plus four per namespace counted (containers, tasks, images and snapshots are each listed
    once per namespace, never per object), V(cni) and V(socket) none (files only)."
  - Snapshots are counted for the default snapshotter.
  - The module never changes anything, so C(changed) is always false, also in check mode.
seealso:
  - module: ctrops.containerd.containerd_namespace_info
  - module: ctrops.containerd.cni_network
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_host_info -a gather=versions

- name: What this host runs
  ctrops.containerd.containerd_host_info:
  register: host

- name: Use the erofs snapshotter only where the server has it working
  ctrops.containerd.containerd_container:
    name: web
    image: nginx:alpine
    snapshotter: erofs
  when: host.plugins.snapshotters.erofs | default('') == 'ok'

- name: Versions only (one ctr call)
  ctrops.containerd.containerd_host_info:
    gather: [versions]
  register: versions

- name: Options that need containerd 2
  ansible.builtin.debug:
    msg: "containerd {{ versions.versions.containerd }} with runc {{ versions.versions.runc }}"
  when: versions.versions.containerd is version('2.0', '>=')

- name: Count what the web namespace holds
  ctrops.containerd.containerd_host_info:
    gather: [namespaces]
    namespaces: [web]
  register: counts

- name: Clean up only when it holds stopped tasks
  ansible.builtin.debug:
    msg: "{{ counts.namespaces.web.tasks - counts.namespaces.web.running }} stopped tasks in web"
  when: counts.namespaces.web is defined and counts.namespaces.web.tasks > counts.namespaces.web.running

- name: Define the bridge network only where no network of that name exists yet
  ctrops.containerd.cni_network:
    name: web-net
    plugins:
      - type: bridge
        bridge: cni-web
        ipam: {type: host-local, subnet: 10.88.0.0/24}
  when: "'web-net' not in (host.cni.networks | map(attribute='name'))"
'''

RETURN = r'''
versions:
  description: Versions of containerd, ctr, runc and the CNI plugins.
  returned: when O(gather) has V(versions)
  type: dict
  contains:
    containerd:
      description: The server's version as C(ctr version) prints it.
      type: str
      sample: 2.1.9+unknown
    containerd_revision:
      description: The server's revision (null when the build has none).
      type: str
      sample: 1.6.20~ds1-1+deb12u3
    ctr:
      description: The client's (ctr's) version.
      type: str
      sample: 1.6.20~ds1
    ctr_path:
      description: The ctr that ran.
      type: str
      sample: /usr/bin/ctr
    runc:
      description: runc's version, null when runc was not found.
      type: str
      sample: 1.1.5+ds1
    runc_spec:
      description: The OCI runtime spec version runc implements.
      type: str
      sample: 1.0.2-dev
    runc_path:
      description: The runc that answered (searched on the PATH and in the usual directories).
      type: str
      sample: /usr/sbin/runc
    cni_plugins:
      description:
        - The CNI plugins' release version as one of them reports it; null when none is found or the build
          reports none (Debian's packages say "version unknown").
      type: str
      sample: v1.9.1
    cni_spec_versions:
      description: The CNI specification versions the plugins support.
      type: list
      elements: str
      sample: [0.3.1, 0.4.0, 1.0.0, 1.1.0]
plugins:
  description: The server's plugins (C(ctr plugins ls)).
  returned: when O(gather) has V(plugins)
  type: dict
  contains:
    all:
      description: Every plugin with its type, id, platforms and status (V(ok), V(skip), V(error)).
      type: list
      elements: dict
      sample: [{type: io.containerd.snapshotter.v1, id: overlayfs, platforms: [linux/amd64], status: ok}]
    snapshotters:
      description: Snapshotter plugins by id, with their status.
      type: dict
      sample: {overlayfs: ok, native: ok, btrfs: skip, devmapper: error}
    runtimes:
      description: Runtime plugins by id, with their status.
      type: dict
      sample: {task: ok}
    errors:
      description: The plugins (C(type.id)) whose status is V(error).
      type: list
      elements: str
      sample: [io.containerd.snapshotter.v1.devmapper]
namespaces:
  description: The namespaces by name, with their labels and how many objects of each kind they hold.
  returned: when O(gather) has V(namespaces)
  type: dict
  sample: {default: {labels: {}, containers: 2, tasks: 2, running: 1, images: 3, snapshots: 5}}
  contains:
    labels:
      description: Labels of the namespace.
      type: dict
    containers:
      description: Number of containers.
      type: int
    tasks:
      description: Number of tasks (any status).
      type: int
    running:
      description: Number of tasks whose status is running.
      type: int
    images:
      description: Number of images.
      type: int
    snapshots:
      description: Number of snapshots of the default snapshotter.
      type: int
missing_namespaces:
  description: Names given in O(namespaces) that do not exist.
  returned: when O(gather) has V(namespaces)
  type: list
  elements: str
  sample: []
cni:
  description: The CNI configuration and plugins of the host.
  returned: when O(gather) has V(cni)
  type: dict
  contains:
    conf_dir:
      description: The configuration directory read (O(cni_conf_dir)).
      type: str
      sample: /etc/cni/net.d
    networks:
      description: The networks defined there (sorted by file, as libcni reads them).
      type: list
      elements: dict
      sample: [{name: web-net, cni_version: 1.0.0, types: [bridge, portmap], file: /etc/cni/net.d/10-web-net.conflist}]
    invalid_files:
      description: Files with a network extension that are not a readable network configuration.
      type: list
      elements: str
      sample: []
    bin_dirs:
      description: The directories searched for plugins (O(cni_bin_dirs)).
      type: list
      elements: str
    plugins:
      description: Names of the plugin binaries found.
      type: list
      elements: str
      sample: [bridge, host-local, loopback, portmap]
socket:
  description: The containerd socket (O(address)) and who may use it.
  returned: when O(gather) has V(socket)
  type: dict
  contains:
    path:
      description: The socket's path (null for an address that is not a unix socket).
      type: str
      sample: /run/containerd/containerd.sock
    exists:
      description: Whether a socket exists there.
      type: bool
    owner:
      description: Owner's user name.
      type: str
      sample: root
    group:
      description: Group name; its members may use containerd when the mode allows it.
      type: str
      sample: containerd
    uid:
      description: Owner's user id.
      type: int
      sample: 0
    gid:
      description: Group id.
      type: int
      sample: 0
    mode:
      description: Permission bits, octal.
      type: str
      sample: '0660'
ctr_calls:
  description: Number of ctr invocations of this run.
  returned: always
  type: int
  sample: 2
'''

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import cni
from ansible_collections.ctrops.containerd.plugins.module_utils import host
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun


def gather(run):
    params = run.params
    wanted = set(params['gather'])
    for name in params['namespaces'] or []:
        validate.identifier(name, 'namespaces', 'namespace name')
    result = run.result
    plugins_found = None
    if 'cni' in wanted or 'versions' in wanted:
        plugins_found = host.cni_plugins(run.module, params['cni_bin_dirs'])
    if 'versions' in wanted:
        result['versions'] = dict(host.versions(run.module, run.client), cni_plugins=plugins_found['version'],
                                  cni_spec_versions=plugins_found['spec_versions'])
    if 'plugins' in wanted:
        found = host.server_plugins(run.client)
        result['plugins'] = dict(all=found['plugins'], snapshotters=found['snapshotters'],
                                 runtimes=found['runtimes'], errors=found['errors'])
    if 'namespaces' in wanted:
        result['namespaces'], result['missing_namespaces'] = host.namespace_counts(run.client, params['namespaces'])
    if 'cni' in wanted:
        networks, invalid = host.cni_networks(params['cni_conf_dir'])
        result['cni'] = dict(conf_dir=params['cni_conf_dir'], networks=networks, invalid_files=invalid,
                             bin_dirs=plugins_found['bin_dirs'], plugins=plugins_found['plugins'])
    if 'socket' in wanted:
        result['socket'] = host.socket_info(run.client.socket_path)


def main():
    run = ModuleRun(dict(
        gather=dict(type='list', elements='str', choices=list(host.GATHER), default=list(host.GATHER)),
        namespaces=dict(type='list', elements='str'),
        cni_conf_dir=dict(type='path', default='/etc/cni/net.d'),
        cni_bin_dirs=dict(type='list', elements='path', default=list(cni.DEFAULT_BIN_DIRS)),
    ), namespace=False)
    run.execute(gather, run)
    run.exit(changed=False)


if __name__ == '__main__':
    main()
