# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: containerd
short_description: Containers of containerd hosts as inventory hosts
version_added: 0.2.0
description:
  - Lists the containers of one or more containerd namespaces on one or more containerd hosts, reached
    through their local socket or over SSH, and makes each container an inventory host.
  - Each container gets host variables (namespace, image, labels, task status and PID, the addresses of
    its P(ctrops.containerd.cni_network#module) attachments) and the variables of the
    C(ctrops.containerd.containerd) connection plugin, so plays run inside it.
  - A host costs two or three runs of C(sh) (locally, or one SSH connection each). They run one
    C(ctr namespaces ls) when O(namespaces) is empty, one C(ctr containers ls) and one C(ctr tasks ls) per
    namespace, and one C(ctr containers info) per listed container when O(read_labels) is true
    (C(ctr containers ls) prints no labels).
  - The configuration file's name must end with C(containerd.yml) or C(containerd.yaml).
author:
  - ctrops.containerd maintainers (@ctrops)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; makes Ansible use it for the file.
    type: str
    required: true
    choices: [ctrops.containerd.containerd]
  hosts:
    description:
      - The containerd hosts to list. An entry without O(hosts[].host) is containerd on the control node.
    type: list
    elements: dict
    default: [{address: /run/containerd/containerd.sock}]
    suboptions:
      name:
        description:
          - The name of this containerd host in the inventory (variable C(containerd_host) and host names made
            with O(host_names=host_namespace_id)).
          - Defaults to O(hosts[].host), or C(localhost) for the control node.
        type: str
      host:
        description:
          - The host that runs containerd, reached with the C(ssh) client of the control node. ctr runs there.
          - Login must work without a prompt (key or agent), since ssh runs with C(BatchMode=yes).
        type: str
      user:
        description: The SSH user on O(hosts[].host); default as the ssh client decides (its configuration).
        type: str
      port:
        description: The SSH port of O(hosts[].host).
        type: int
      ssh_args:
        description: Extra arguments of the C(ssh) client (a string split as a shell would), for example C(-i KEYFILE).
        type: str
      address:
        description: The containerd socket on that host.
        type: str
        default: /run/containerd/containerd.sock
      ctr_path:
        description:
          - The C(ctr) binary on that host. Default C(ctr) from its C(PATH), then C(/usr/local/bin), C(/usr/bin)
            and C(/run/current-system/sw/bin).
        type: str
      cni_cache_dir:
        description: libcni's cache directory on that host (attachment results are in its C(results) subdirectory).
        type: str
        default: /var/lib/cni
  namespaces:
    description:
      - The containerd namespaces to list on every host. Empty lists all namespaces of each host.
    type: list
    elements: str
    default: []
  labels:
    description:
      - Only containers carrying all these labels; a value of V(null) matches any value of that key.
      - containerd filters them, so this works also with O(read_labels=false).
    type: dict
    default: {}
  running_only:
    description: Only containers whose task is running (not stopped, created, paused or without a task).
    type: bool
    default: false
  read_labels:
    description:
      - Read each listed container's labels (one C(ctr containers info) each) into C(containerd_labels).
      - Set V(false) for large hosts when no group or variable needs the labels; C(containerd_labels) is then not set.
    type: bool
    default: true
  host_names:
    description:
      - How containers are named in the inventory. V(id) is the container ID, V(namespace_id) is
        C(NAMESPACE_ID), V(host_namespace_id) is C(HOST_NAMESPACE_ID) (HOST is O(hosts[].name)).
      - V(auto) uses the first of these three that names every listed container uniquely.
      - With another choice, a name that two containers would share is an error.
    type: str
    choices: [auto, id, namespace_id, host_namespace_id]
    default: auto
  timeout:
    description: Seconds each ctr call may take (ctr's C(--timeout)); also sets C(ansible_containerd_timeout).
    type: int
    default: 30
  connection_vars:
    description:
      - Set the connection variables of the C(ctrops.containerd.containerd) connection plugin
        (C(ansible_connection), C(ansible_host) as the container ID, C(ansible_containerd_namespace),
        C(ansible_containerd_address), C(ansible_containerd_ctr_path), C(ansible_containerd_timeout) and, for a
        host reached over SSH, C(ansible_containerd_host), C(ansible_containerd_host_user),
        C(ansible_containerd_host_port), C(ansible_containerd_ssh_args)).
    type: bool
    default: true
  strict:
    description:
      - If V(true) make invalid entries (O(compose), O(groups), O(keyed_groups)) a fatal error, otherwise skip them.
      - Also decides what a containerd host that cannot be listed does. V(true) stops with an error naming it;
        V(false) warns and lists the other hosts.
notes:
  - Host variables of each container are C(containerd_namespace), C(containerd_image), C(containerd_labels),
    C(containerd_runtime), C(containerd_task_status) (V(running), V(paused), V(stopped), V(created); V(null)
    without a task), C(containerd_task_pid) (V(null) without a running task), C(containerd_host) and
    C(containerd_cni) (a list of C(network), C(ifname), C(addresses) of the container's
    P(ctrops.containerd.cni_network#module) attachments to its current task) and
    C(containerd_cni_addresses) (all those addresses, as C(10.88.0.2/24)).
  - The ctr and CNI reads run as C(sh) scripts on the containerd host; the host needs C(sh), C(ctr) and,
    for the addresses, C(readlink). The user must be allowed to use the socket (root, or the socket's group).
seealso:
  - module: ctrops.containerd.containerd_container_info
  - module: ctrops.containerd.cni_network
'''

EXAMPLES = r'''
# inventory/containers.containerd.yml: the running containers of namespace "web" on two hosts,
# grouped by their "app" label and their image.
plugin: ctrops.containerd.containerd
hosts:
  - address: /run/containerd/containerd.sock       # this host
  - host: node1.example.com                        # over SSH
    user: ops
    ssh_args: -i ~/.ssh/ops_ed25519
namespaces: [web]
running_only: true
keyed_groups:
  - key: containerd_labels.app | default('none')
    prefix: app
  - key: containerd_image | regex_replace('[^A-Za-z0-9_]', '_')
    prefix: image
groups:
  frontends: "'tier' in containerd_labels and containerd_labels.tier == 'front'"
compose:
  http_address: (containerd_cni_addresses | first | default('')).split('/') | first
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible-inventory

# Then, for example:
#   ansible-inventory -i containers.containerd.yml --graph
#   ansible -i containers.containerd.yml app_shop -m ansible.builtin.ping
'''

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.ctrops.containerd.plugins.module_utils import inventory as reader
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError

CONNECTION = 'ctrops.containerd.containerd'
HOST_KEYS = ('name', 'host', 'user', 'port', 'ssh_args', 'address', 'ctr_path', 'cni_cache_dir')
NAME_FORMATS = ('id', 'namespace_id', 'host_namespace_id')


def host_entries(value):
    """The hosts option as dicts with every key, or raise AnsibleParserError naming the bad entry."""
    entries = []
    for index, item in enumerate(value or []):
        if not isinstance(item, dict):
            raise AnsibleParserError('hosts[%d] of the containerd inventory must be a mapping with keys such as '
                                     'address and host, not %r.' % (index, item))
        unknown = sorted(set(item) - set(HOST_KEYS))
        if unknown:
            raise AnsibleParserError('hosts[%d] of the containerd inventory has unknown key(s) %s: use %s.'
                                     % (index, ', '.join(unknown), ', '.join(HOST_KEYS)))
        entry = dict((key, item.get(key)) for key in HOST_KEYS)
        entry['address'] = entry['address'] or reader.DEFAULT_ADDRESS
        entry['cni_cache_dir'] = entry['cni_cache_dir'] or reader.DEFAULT_CNI_CACHE_DIR
        entry['name'] = str(entry['name'] or entry['host'] or 'localhost')
        if entry['port'] is not None:
            try:
                entry['port'] = int(entry['port'])
            except (TypeError, ValueError):
                raise AnsibleParserError('hosts[%d].port of the containerd inventory must be a number, not %r.'
                                         % (index, entry['port']))
        entries.append(entry)
    names = [entry['name'] for entry in entries]
    twice = sorted(set(name for name in names if names.count(name) > 1))
    if twice:
        raise AnsibleParserError('The containerd inventory names two hosts %s: give each hosts entry its own name.'
                                 % twice[0])
    return entries


def host_name(container, fmt):
    parts = dict(id=[container['id']], namespace_id=[container['namespace'], container['id']],
                 host_namespace_id=[container['host'], container['namespace'], container['id']])[fmt]
    return '_'.join(parts)


def choose_names(containers, fmt):
    """{index: inventory name}; auto takes the shortest format that keeps every name unique."""
    for candidate in (NAME_FORMATS if fmt == 'auto' else (fmt,)):
        names = [host_name(container, candidate) for container in containers]
        if len(set(names)) == len(names):
            return names
    twice = sorted(set(name for name in names if names.count(name) > 1))
    raise AnsibleParserError('Two containers would both be inventory host %s with host_names=%s: set host_names '
                             'to %s.' % (twice[0], fmt, 'host_namespace_id' if fmt != 'host_namespace_id'
                                         else 'another value or give the hosts entries distinct names'))


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Containers of containerd hosts as inventory hosts."""

    NAME = 'ctrops.containerd.containerd'

    def verify_file(self, path):
        valid = super(InventoryModule, self).verify_file(path)
        return valid and path.endswith(('containerd.yml', 'containerd.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        entries = host_entries(self.get_option('hosts'))
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        listing = None
        if use_cache:
            try:
                listing = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if listing is None:
            listing = self._list(entries)
            if self.get_option('cache'):
                update_cache = True
        if update_cache:
            self._cache[cache_key] = listing
        self._populate(listing, dict((entry['name'], entry) for entry in entries))

    def _list(self, entries):
        """[container dict with 'host'] of every reachable host; a host that fails warns or stops (strict)."""
        listing = []
        for entry in entries:
            host_reader = reader.HostReader(entry['name'], address=entry['address'], ctr_path=entry['ctr_path'],
                                            timeout=self.get_option('timeout'), ssh_host=entry['host'],
                                            ssh_user=entry['user'], ssh_port=entry['port'],
                                            ssh_args=entry['ssh_args'], cni_cache_dir=entry['cni_cache_dir'])
            try:
                containers = host_reader.containers(namespaces=self.get_option('namespaces'),
                                                    labels=self.get_option('labels'),
                                                    running_only=self.get_option('running_only'),
                                                    read_labels=self.get_option('read_labels'))
            except (ModuleError, ValueError) as exc:
                message = reader.reader_error(exc)
                if self.get_option('strict'):
                    raise AnsibleParserError(message)
                self.display.warning('%s The inventory leaves this host out (strict: false).' % message)
                continue
            for container in containers:
                container['host'] = entry['name']
            listing.extend(containers)
        return listing

    def _populate(self, listing, entries):
        strict = self.get_option('strict')
        names = choose_names(listing, self.get_option('host_names'))
        for name, container in zip(names, listing):
            entry = entries.get(container['host'])
            self.inventory.add_host(name)
            for key, value in self._host_vars(container, entry).items():
                self.inventory.set_variable(name, key, value)
            hostvars = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option('compose'), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, name, strict=strict)

    def _host_vars(self, container, entry):
        variables = dict(
            containerd_namespace=container['namespace'],
            containerd_image=container['image'],
            containerd_runtime=container['runtime'],
            containerd_task_status=container['task_status'],
            containerd_task_pid=container['task_pid'],
            containerd_host=container['host'],
            containerd_cni=container['cni'],
            containerd_cni_addresses=[address for item in container['cni'] for address in item['addresses']],
        )
        if container['labels'] is not None:
            variables['containerd_labels'] = container['labels']
        if self.get_option('connection_vars') and entry is not None:
            variables.update(ansible_connection=CONNECTION, ansible_host=container['id'],
                             ansible_containerd_namespace=container['namespace'],
                             ansible_containerd_address=entry['address'],
                             ansible_containerd_timeout=self.get_option('timeout'))
            if entry['ctr_path']:
                variables['ansible_containerd_ctr_path'] = entry['ctr_path']
            if entry['host']:
                variables['ansible_containerd_host'] = entry['host']
                for key, var in (('user', 'ansible_containerd_host_user'), ('port', 'ansible_containerd_host_port'),
                                 ('ssh_args', 'ansible_containerd_ssh_args')):
                    if entry[key] is not None:
                        variables[var] = entry[key]
        return variables
