#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cni_network
short_description: Manage CNI network definitions and attach containerd containers to them
version_added: 0.1.0
description:
  - Writes CNI network configuration files (a C(.conflist), or a single-plugin C(.conf)) after validating
    them, and removes them.
  - Attaches the running task of a containerd container to a network by running the network's CNI plugin
    chain as a CNI runtime does (ADD in order with C(prevResult), DEL in reverse), and detaches it.
  - Keeps each attachment's result in libcni's cache format and place
    (C(<cache_dir>/results/<network>-<container>-<ifname>)), so nerdctl and cnitool see the same attachments.
  - Releases attachments whose container or task is gone, and the IP addresses they held (O(state=pruned)).
  - Renders a configuration without writing it (O(state=rendered)), for a system that writes its files itself
    (the C(ctrops.containerd.cni) role puts it into a NixOS module); the text is the file O(state=present) writes.
  - Attachment changes on one host are serialised with a file lock in O(cache_dir).
options:
  name:
    description:
      - Name of the CNI network (the C(name) of its configuration).
    type: str
    required: true
  state:
    description:
      - V(present) writes the network's configuration file, V(absent) removes every file in O(conf_dir)
        that defines the network (and with O(purge=true) its attachments, IPAM state and bridge).
      - V(attached) attaches O(container) (its running task's network namespace) through interface O(ifname).
        An attachment that is cached, for the same network namespace and configuration, and passes the
        plugins' CHECK (cniVersion 0.4.0 or later without C(disableCheck)) is left alone; otherwise it is
        repaired (DEL of the old one, ADD of a new one).
      - V(detached) runs DEL for the cached attachment of O(container) and O(ifname) and removes its cache entry.
      - V(pruned) releases every cached attachment of the network made by this module in O(namespace) whose
        container no longer exists, has no running task, or whose task was restarted (another network namespace).
      - V(rendered) only renders the configuration that V(present) would write, and returns it (RV(rendered),
        RV(network)); it reads and writes no file and does not look for the plugins in O(bin_dirs) (for hosts
        where the plugins and the file come later, such as a NixOS system before its rebuild). The
        configuration is validated as with V(present), except for the plugins. Never changed.
    type: str
    choices: [present, absent, attached, detached, pruned, rendered]
    default: present
  conf_dir:
    description:
      - Directory of the CNI network configuration files.
    type: path
    default: /etc/cni/net.d
  bin_dirs:
    description:
      - Directories searched, in order, for the CNI plugin binaries (C(CNI_PATH)).
    type: list
    elements: path
    default: [/opt/cni/bin, /usr/lib/cni]
  cache_dir:
    description:
      - libcni's cache directory; attachment results are kept in its C(results) subdirectory and the lock
        file C(ctrops-cni.lock) in it.
    type: path
    default: /var/lib/cni
  priority:
    description:
      - Prefix of the file name, C(<priority>-<name>.conflist); runtimes that take the first network of
        O(conf_dir) take the lowest.
    type: int
    default: 10
  format:
    description:
      - V(conflist) writes a plugin list, V(conf) the single-plugin format of older runtimes and of the
        field notes.
    type: str
    choices: [conflist, conf]
    default: conflist
  config:
    description:
      - The whole configuration as a dict (the body of the C(.conflist) or C(.conf) file).
      - C(name) defaults to O(name) and must equal it.
      - Mutually exclusive with the shorthand options (O(type), O(bridge), O(subnet), ...).
    type: dict
  cni_version:
    description:
      - C(cniVersion) of a configuration built from the shorthand options.
    type: str
    default: 1.0.0
  type:
    description:
      - Shorthand; the plugin type. V(bridge) builds the bridge network of the field notes, V(loopback)
        the loopback network; any other type gives a plugin with only C(type) plus the IPAM options.
    type: str
    default: bridge
  bridge:
    description:
      - Shorthand; name of the bridge device (at most 15 characters).
    type: str
    default: cni0
  subnet:
    description:
      - Shorthand; subnet the IPAM plugin allocates from, in CIDR notation.
    type: str
  gateway:
    description:
      - Shorthand; the gateway address (inside O(subnet)); the bridge gets it when O(is_gateway=true).
    type: str
  is_gateway:
    description:
      - Shorthand; give the bridge the gateway address (C(isGateway)).
    type: bool
    default: true
  ip_masq:
    description:
      - Shorthand; masquerade traffic from the subnet leaving the host (C(ipMasq)); needs C(iptables).
    type: bool
    default: false
  port_map:
    description:
      - Shorthand; add the C(portmap) plugin (capability C(portMappings), C(snat)) after the main plugin, so
        containers on this network can publish ports (O(ctrops.containerd.containerd_container#module:published_ports)).
        Only with O(format=conflist); needs C(iptables).
    type: bool
    default: false
  routes:
    description:
      - Shorthand; routes the IPAM plugin gives the container, as destination networks (C(0.0.0.0/0)) or
        dicts with C(dst) and optional C(gw).
    type: list
    elements: raw
  dns:
    description:
      - Shorthand; the C(dns) section (C(nameservers), C(domain), C(search), C(options)).
    type: dict
  ipam_type:
    description:
      - Shorthand; the IPAM plugin.
    type: str
    default: host-local
  ipam_data_dir:
    description:
      - Shorthand; C(dataDir) of host-local IPAM (default of the plugin C(/var/lib/cni/networks)).
    type: path
  backup:
    description:
      - Keep a timestamped copy of a configuration file before it is overwritten or removed.
    type: bool
    default: false
  purge:
    description:
      - With O(state=absent), also DEL every cached attachment of the network, remove its host-local IPAM
        state and delete its bridge when no interface is left on it.
    type: bool
    default: false
  container:
    description:
      - The containerd container to attach or detach (its ID, in O(namespace)); also C(CNI_CONTAINERID).
      - Required with O(state=attached) and O(state=detached).
    type: str
  ifname:
    description:
      - Interface name inside the container (C(CNI_IFNAME)).
    type: str
    default: eth0
  cni_args:
    description:
      - Extra C(CNI_ARGS) (key/value pairs) given to the plugins.
    type: dict
  capability_args:
    description:
      - Runtime capability arguments (for example C(portMappings) for the portmap plugin); each plugin gets
        those it declares in its C(capabilities).
    type: dict
  lock_timeout:
    description:
      - Seconds to wait for the CNI lock held by another run on the host.
    type: int
    default: 120
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode CHECK still runs (it changes nothing), so the prediction of an attachment is exact.
      - In check mode a plugin not found in O(bin_dirs) is a warning and RV(plugins_not_found), not an error, so a
        dry run on a host whose plugins are not installed yet completes.
  diff_mode:
    support: full
    details: Shows the configuration file as JSON before and after, or the attachment before and after.
  platform:
    platforms: posix
notes:
  - Attachments are keyed as libcni keys them, by network name, container ID and interface name. Two
    containers of the same ID in different containerd namespaces therefore share one key.
  - The options O(address), O(namespace) and O(executable) are only used by O(state=attached) and
    O(state=pruned), which ask containerd for the task's PID. O(timeout) also limits each CNI plugin call.
seealso:
  - name: CNI specification
    description: The contract between a runtime and the CNI plugins.
    link: https://github.com/containernetworking/cni/blob/main/SPEC.md
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.cni_network -a 'name=web-net container=web state=attached'

- name: The bridge network of the field notes
  ctrops.containerd.cni_network:
    name: cni0
    bridge: cni0
    subnet: 10.66.0.0/16
    gateway: 10.66.0.1
    ip_masq: true
    routes: [0.0.0.0/0]
    dns:
      nameservers: [8.8.8.8]

- name: A loopback network in the single-plugin format
  ctrops.containerd.cni_network:
    name: lo
    type: loopback
    format: conf
    priority: 99

- name: A network given whole
  ctrops.containerd.cni_network:
    name: web
    config:
      cniVersion: 1.0.0
      plugins:
        - type: bridge
          bridge: web0
          isGateway: true
          ipam:
            type: host-local
            ranges: [[{subnet: 10.67.0.0/24}]]
        - type: portmap
          capabilities: {portMappings: true}

- name: Render the network without writing it (the text a NixOS module can put into environment.etc)
  ctrops.containerd.cni_network:
    name: cni0
    subnet: 10.66.0.0/16
    state: rendered
  register: rendered

- name: Show the file name and text
  ansible.builtin.debug:
    msg: "{{ rendered.network.path | basename }}: {{ rendered.rendered }}"

- name: Attach the web container's task
  ctrops.containerd.cni_network:
    name: cni0
    state: attached
    container: web
  register: net

- name: Show its address
  ansible.builtin.debug:
    msg: "{{ net.addresses[0] | ansible.utils.ipaddr('address') }}"

- name: Release attachments of containers that are gone
  ctrops.containerd.cni_network:
    name: cni0
    state: pruned

- name: Remove the network, its attachments, addresses and bridge
  ctrops.containerd.cni_network:
    name: cni0
    state: absent
    purge: true
'''

RETURN = r'''
network:
  description: The network definition after the task (with O(state=rendered), as O(state=present) would write it).
  returned: when O(state=present), O(state=absent) or O(state=rendered)
  type: dict
  contains:
    name:
      description: Network name.
      type: str
      sample: cni0
    path:
      description:
        - The configuration file (with O(state=absent), the first file removed, or null).
        - With O(state=rendered), where O(state=present) would write it in O(conf_dir).
      type: str
      sample: /etc/cni/net.d/10-cni0.conflist
    exists:
      description: Whether the network is defined after the task.
      returned: when O(state=present) or O(state=absent)
      type: bool
      sample: true
    config:
      description: The configuration.
      type: dict
      sample: {cniVersion: 1.0.0, name: cni0, plugins: [{type: bridge, bridge: cni0}]}
rendered:
  description:
    - The text of the configuration file, byte for byte what O(state=present) writes to RV(network.path).
  returned: when O(state=rendered)
  type: str
  sample: "{\n  \"cniVersion\": \"1.0.0\",\n  \"name\": \"cni0\",\n  \"plugins\": [ ... ]\n}\n"
plugins_not_found:
  description:
    - In check mode with O(state=present), the plugin types of the configuration not found in O(bin_dirs), so not
      asked whether they support its C(cniVersion) (on a fresh host the task installing them only predicted its
      change). Outside check mode a missing plugin is an error.
  returned: in check mode, when a plugin was not found
  type: list
  elements: str
  sample: [bridge, host-local]
attachment:
  description: The attachment after the task.
  returned: when O(state=attached) or O(state=detached)
  type: dict
  contains:
    network:
      description: Network name.
      type: str
      sample: cni0
    container:
      description: Container ID (C(CNI_CONTAINERID)).
      type: str
      sample: web
    ifname:
      description: Interface name in the container.
      type: str
      sample: eth0
    netns:
      description: The network namespace attached (C(/proc/<pid>/ns/net)).
      type: str
      sample: /proc/4242/ns/net
    attached:
      description: Whether the attachment exists after the task.
      type: bool
      sample: true
    cache_file:
      description: The libcni cache file of the attachment.
      type: str
      sample: /var/lib/cni/results/cni0-web-eth0
result:
  description: The CNI result of the attachment (interfaces, ips, routes, dns), as the last plugin returned it.
  returned: when O(state=attached) (not in check mode when the attachment is new)
  type: dict
  sample: {cniVersion: 1.0.0, interfaces: [{name: eth0, sandbox: /proc/4242/ns/net}],
           ips: [{address: 10.66.0.2/16, gateway: 10.66.0.1, interface: 0}], routes: [{dst: 0.0.0.0/0}]}
addresses:
  description: The container's addresses on the network, in CIDR notation.
  returned: when O(state=attached)
  type: list
  elements: str
  sample: [10.66.0.2/16]
released:
  description: The attachments released by O(state=pruned) or O(purge=true), with the reason.
  returned: when O(state=pruned) or O(state=absent)
  type: list
  elements: dict
  sample: [{container: web, ifname: eth0, reason: "the container has no running task"}]
backup_file:
  description: The backup copy of the configuration file.
  returned: when O(backup=true) and a file was overwritten or removed
  type: str
  sample: /etc/cni/net.d/10-cni0.conflist.1234.2026-01-01@00:00:00~
actions:
  description: What was done (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["write /etc/cni/net.d/10-cni0.conflist"]
'''

import json
import os
import shutil

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import cni
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun

SHORTHAND = ('cni_version', 'type', 'bridge', 'subnet', 'gateway', 'is_gateway', 'ip_masq', 'routes', 'dns',
             'ipam_type', 'ipam_data_dir', 'port_map')


# -- definitions --------------------------------------------------------------------

def desired(params):
    """The configuration the options describe, validated (all but the plugins), and the file it belongs in."""
    config = cni.build_config(params)
    cni.validate_structure(config, params['name'])
    filename = cni.config_filename(params['name'], params['priority'], params['format'])
    return config, os.path.join(params['conf_dir'], filename)


def ensure_rendered(run):
    """What state=present would write, without touching the file system or asking the plugins."""
    config, path = desired(run.params)
    run.result['network'] = dict(name=run.params['name'], path=path, config=config)
    run.result['rendered'] = cni.render(config)


def ensure_present(run):
    params = run.params
    config, path = desired(params)
    runner = cni.PluginRunner(run.module, params['bin_dirs'], params['timeout'])
    missing = cni.validate_plugins(runner, config, params['bin_dirs'], missing_ok=run.check_mode)
    if missing:
        # A dry run on a fresh host: the plugins' install task before this one only predicted its change.
        run.result['plugins_not_found'] = missing
        run.module.warn('Check mode: CNI plugin(s) %s not found in %s, so not asked whether they support cniVersion '
                        '%s; a real run fails unless an earlier task installs them.'
                        % (', '.join(missing), ', '.join(params['bin_dirs']), config['cniVersion']))
    conf_dir = params['conf_dir']
    others = [other for other in cni.files_of_network(conf_dir, params['name']) if other != path]
    if others:
        raise cni.CniError('Network name %s is already used by %s: remove that file (state=absent removes every '
                           'file of the network) or choose another name.' % (params['name'], ', '.join(others)))
    current_text, current = None, None
    if os.path.exists(path):
        with open(path) as handle:
            current_text = handle.read()
        try:
            current = json.loads(current_text)
        except ValueError:
            current = None
    if current != config:
        if not os.path.isdir(conf_dir):
            run.actions.append('create directory %s' % conf_dir)
        run.actions.append('write %s' % path)
        if not run.check_mode:
            if not os.path.isdir(conf_dir):
                os.makedirs(conf_dir, 0o755, exist_ok=True)
            if current_text is not None and params['backup']:
                run.result['backup_file'] = run.module.backup_local(path)
            cni.write_atomic(path, cni.render(config))
    elif (os.stat(path).st_mode & 0o7777) != 0o644:
        run.actions.append('set mode 0644 on %s' % path)
        if not run.check_mode:
            os.chmod(path, 0o644)
    run.result['network'] = dict(name=params['name'], path=path, exists=True, config=config)
    before = cni.render(current) if current is not None else (current_text or '')
    run.set_diff(before, cni.render(config), path)


def ensure_absent(run):
    params = run.params
    name = params['name']
    paths = cni.files_of_network(params['conf_dir'], name)
    configs = []
    before = ''
    for path in paths:
        with open(path) as handle:
            text = handle.read()
        before += text
        config = cni.valid_config(text, name)
        if config is not None:
            configs.append(config)
        elif params['purge']:
            run.warn('%s does not hold a valid configuration of network %s: purge uses none of its settings.'
                     % (path, name))
    released = []
    if params['purge']:
        with cni.FileLock(params['cache_dir'], params['lock_timeout'], create=not run.check_mode):
            purge_network(run, name, configs, released)
    for path in paths:
        run.actions.append('remove %s' % path)
        if not run.check_mode:
            if params['backup']:
                run.result['backup_file'] = run.module.backup_local(path)
            os.unlink(path)
    run.result['released'] = released
    run.result['network'] = dict(name=name, path=paths[0] if paths else None, exists=False, config={})
    header = paths[0] if paths else name
    run.set_diff(before, '', header)


def warn_skipped(run, skipped):
    for path, why in skipped:
        run.warn('Cache entry %s is left alone: %s.' % (path, why))


def release(run, runner, path, cached, reason, released, data_dirs):
    """DEL one cached attachment, remove its cache file and any lease it still holds in ``data_dirs``."""
    entry = cached[2]
    container, ifname = entry.get('containerId'), entry.get('ifName')
    released.append(dict(container=container, ifname=ifname, reason=reason))
    cni.release(run, runner, path, cached, data_dirs, 'release %s/%s (%s)' % (container, ifname, reason))


def purge_network(run, name, configs, released):
    """Release every sound cached attachment, then the network's IPAM state and bridges (its own files' only)."""
    params = run.params
    runner = cni.PluginRunner(run.module, params['bin_dirs'], params['timeout'])
    data_dirs = cni.data_dirs_of(name, configs)
    skipped = []
    for path, entry in cni.cached_attachments(params['cache_dir'], name, skipped, data_dirs).items():
        release(run, runner, path, entry, 'network purged', released, data_dirs)
    warn_skipped(run, skipped)
    own_dirs, bridges = [], []
    for config in configs:
        own_dirs += [d for d in cni.ipam_data_dirs(config) if d not in own_dirs]
        bridges += [b for b in cni.bridges_of(config) if b not in bridges]
    for directory in own_dirs:
        if os.path.isdir(directory):
            run.act('remove IPAM state %s' % directory, shutil.rmtree, directory)
    for bridge in bridges:
        if cni.bridge_ports(bridge) is None:
            continue
        if not cni.is_bridge(bridge):
            run.warn('%s is not a bridge: the purge leaves that device alone.' % bridge)
            continue
        ports = cni.bridge_ports(bridge)
        if ports and not run.check_mode:
            run.warn('Bridge %s is kept: interfaces %s are still on it.' % (bridge, ', '.join(ports)))
            continue
        run.act('delete bridge %s' % bridge, delete_link, run, bridge)


def delete_link(run, name):
    ip = run.module.get_bin_path('ip', required=True, opt_dirs=['/sbin', '/usr/sbin'])
    run.module.run_command([ip, 'link', 'delete', name], check_rc=True)


# -- attachments --------------------------------------------------------------------

def owner_of(params, netns):
    return cni.owner(params['address'], params['namespace'], netns)


def task_netns(client, container):
    """The netns path of the container's running task (ctr tasks ls), or raise CniError."""
    task = ctrs.tasks(client).get(container)
    if not task or task['status'] != 'running' or not task['pid']:
        state = 'no task' if not task else 'a %s task' % task['status']
        raise cni.CniError('Container %s has %s in namespace %s: start its task before attaching it.'
                           % (container, state, client.namespace))
    return '/proc/%d/ns/net' % task['pid']


def attachment_view(params, netns, attached, cache_file):
    return dict(network=params['name'], container=params['container'], ifname=params['ifname'],
                netns=netns, attached=attached, cache_file=cache_file)


def ensure_attached(run):
    params = run.params
    client = run.client
    _path, config = cni.read_network(params['conf_dir'], params['name'])
    cni.validate_structure(config, params['name'])
    netns = task_netns(client, params['container'])
    runner = cni.PluginRunner(run.module, params['bin_dirs'], params['timeout'])
    attachment = cni.Attachment(params['name'], params['container'], params['ifname'], netns,
                                params['cni_args'], params['capability_args'])
    cache_file = cni.cache_path(params['cache_dir'], params['name'], params['container'], params['ifname'])
    data_dirs = cni.data_dirs_of(params['name'], [config])
    with cni.FileLock(params['cache_dir'], params['lock_timeout'], create=not run.check_mode):
        cached, result = cni.converge_attached(run, runner, config, attachment, params['cache_dir'],
                                               owner_of(params, netns), data_dirs,
                                               '%s/%s' % (params['container'], params['ifname']))
    if result is not None:
        run.result['result'] = result
    before = attachment_view(params, cached[2].get('netns') if cached else None, cached is not None,
                             cache_file)
    run.result['attachment'] = attachment_view(params, netns, True, cache_file)
    run.result['addresses'] = cni.result_addresses(run.result.get('result'))
    run.set_diff(before, run.result['attachment'])


def ensure_detached(run):
    params = run.params
    cache_file = cni.cache_path(params['cache_dir'], params['name'], params['container'], params['ifname'])
    runner = cni.PluginRunner(run.module, params['bin_dirs'], params['timeout'])
    data_dirs = cni.data_dirs_of(params['name'], cni.network_configs(params['conf_dir'], params['name']))
    with cni.FileLock(params['cache_dir'], params['lock_timeout'], create=not run.check_mode):
        cached = cni.read_cache(cache_file)
        problem = cni.cache_entry_error(cached, params['name'], data_dirs) if cached is not None else None
        if problem:
            warn_skipped(run, [(cache_file, problem)])
            cached = None
        if cached is not None:
            cni.release(run, runner, cache_file, cached, data_dirs,
                        'detach %s/%s' % (params['container'], params['ifname']))
    netns = cached[2].get('netns') if cached else None
    run.result['attachment'] = attachment_view(params, netns, False, cache_file)
    run.set_diff(attachment_view(params, netns, cached is not None, cache_file), run.result['attachment'])


def ensure_pruned(run):
    params = run.params
    client = run.client
    runner = cni.PluginRunner(run.module, params['bin_dirs'], params['timeout'])
    released, skipped = [], []
    data_dirs = cni.data_dirs_of(params['name'], cni.network_configs(params['conf_dir'], params['name']))
    with cni.FileLock(params['cache_dir'], params['lock_timeout'], create=not run.check_mode):
        entries = cni.cached_attachments(params['cache_dir'], params['name'], skipped, data_dirs)
        ours = dict((path, cached) for path, cached in entries.items()
                    if (cached[2].get(cni.CACHE_OWNER_KEY) or {}).get('namespace') == params['namespace']
                    and (cached[2].get(cni.CACHE_OWNER_KEY) or {}).get('address') == params['address'])
        containers, tasks = set(), {}
        if ours:
            containers = set(ctrs.list_containers(client))
            tasks = ctrs.tasks(client)
        for path, cached in ours.items():
            entry = cached[2]
            container = entry.get('containerId')
            task = tasks.get(container)
            if container not in containers:
                reason = 'the container no longer exists'
            elif not task or task['status'] != 'running':
                reason = 'the container has no running task'
            elif cni.netns_inode('/proc/%d/ns/net' % task['pid']) != entry[cni.CACHE_OWNER_KEY].get('netns_inode'):
                reason = 'the task was restarted'
            else:
                continue
            release(run, runner, path, cached, reason, released, data_dirs)
    warn_skipped(run, skipped)
    run.result['released'] = released


def converge(run):
    params = run.params
    problem = cni.network_name_error(params['name'])
    if problem:
        raise InvalidInput('Invalid name: %s.' % problem)
    if params['container'] is not None and (not params['container'] or '/' in params['container']):
        raise InvalidInput('Invalid container %r: give the containerd container ID.' % params['container'])
    if not params['ifname'] or len(params['ifname']) > cni.IFNAME_MAX_LENGTH or '/' in params['ifname']:
        raise InvalidInput('Invalid ifname %r: 1 to 15 characters without "/".' % params['ifname'])
    STATES[params['state']](run)


STATES = dict(present=ensure_present, absent=ensure_absent, attached=ensure_attached, detached=ensure_detached,
              pruned=ensure_pruned, rendered=ensure_rendered)


def main():
    run = ModuleRun(
        dict(
            name=dict(type='str', required=True),
            state=dict(type='str', default='present',
                       choices=['present', 'absent', 'attached', 'detached', 'pruned', 'rendered']),
            conf_dir=dict(type='path', default='/etc/cni/net.d'),
            bin_dirs=dict(type='list', elements='path', default=list(cni.DEFAULT_BIN_DIRS)),
            cache_dir=dict(type='path', default='/var/lib/cni'),
            priority=dict(type='int', default=10),
            format=dict(type='str', default='conflist', choices=['conflist', 'conf']),
            config=dict(type='dict'),
            cni_version=dict(type='str', default='1.0.0'),
            type=dict(type='str', default='bridge'),
            bridge=dict(type='str', default='cni0'),
            subnet=dict(type='str'),
            gateway=dict(type='str'),
            is_gateway=dict(type='bool', default=True),
            ip_masq=dict(type='bool', default=False),
            routes=dict(type='list', elements='raw'),
            dns=dict(type='dict'),
            ipam_type=dict(type='str', default='host-local'),
            ipam_data_dir=dict(type='path'),
            port_map=dict(type='bool', default=False),
            backup=dict(type='bool', default=False),
            purge=dict(type='bool', default=False),
            container=dict(type='str'),
            ifname=dict(type='str', default='eth0'),
            cni_args=dict(type='dict'),
            capability_args=dict(type='dict'),
            lock_timeout=dict(type='int', default=120),
        ),
        mutually_exclusive=[('config', name) for name in ('subnet', 'gateway', 'routes', 'dns', 'ipam_data_dir',
                                                          'port_map')],
        required_if=[('state', 'attached', ['container']), ('state', 'detached', ['container'])],
    )
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
