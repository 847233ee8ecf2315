# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A container's CNI networks (option ``networks`` of containerd_container and of containerd_stack's entries).

A container with networks joins a network namespace pinned on a file (netns.py), made and attached before
its task starts, so that every task of it has them, whoever starts it. ``Networks.converge`` wraps the
convergence of one container: attach first, release (and unpin) what it no longer declares after.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import os
import re
import shutil
import socket

from ansible_collections.ctrops.containerd.plugins.module_utils import cni
from ansible_collections.ctrops.containerd.plugins.module_utils import container_dns
from ansible_collections.ctrops.containerd.plugins.module_utils import netns
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput

NETWORK_KEYS = ('name', 'ifname', 'cni_args', 'capability_args')
ETC_DIR = '/var/lib/ctrops-containerd/etc'  # the resolv.conf and hosts files of networked containers
ETC_FILES = (('resolv.conf', '/etc/resolv.conf'), ('hosts', '/etc/hosts'))
# What users type after -p: [IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL], IPv6 addresses in brackets.
PORT_RE = re.compile(r'^(?:(?P<ip>[0-9.]+|\[[0-9a-fA-F:.]+\]):)?(?P<host>[0-9]+):(?P<container>[0-9]+)'
                     r'(?:/(?P<protocol>tcp|udp|sctp))?$')


def container_argument_spec():
    """The per-container options: ``networks`` and ``published_ports``, a fresh copy."""
    return dict(
        container_dns.argument_spec(),
        networks=dict(type='list', elements='raw'),
        published_ports=dict(type='list', elements='str', aliases=['ports']),
    )


def argument_spec():
    """The per-container options and ``cni`` (where networks are defined and attachments kept), a fresh copy."""
    return dict(
        container_argument_spec(),
        cni=dict(type='dict', default={}, options=dict(
            conf_dir=dict(type='path', default='/etc/cni/net.d'),
            bin_dirs=dict(type='list', elements='path', default=list(cni.DEFAULT_BIN_DIRS)),
            cache_dir=dict(type='path', default='/var/lib/cni'),
            lock_timeout=dict(type='int', default=120),
            netns_dir=dict(type='path', default=netns.DEFAULT_DIR),
            etc_dir=dict(type='path', default=ETC_DIR),
        )),
    )


def _and(names):
    names = list(names)
    return names[0] if len(names) == 1 else '%s and %s' % (', '.join(names[:-1]), names[-1])


def networks_of(entry):
    """The CNI attachments ``entry`` declares (option networks: names, or dicts with NETWORK_KEYS), as dicts
    with every key; the interface names default to eth0, eth1, ... in order. Raises InvalidInput."""
    given = entry.get('networks') or []
    name = entry['name']
    if not given or entry['state'] == 'absent':
        return []  # a removed container has no network: all of its attachments go
    for option in ('net_host', 'network_from'):
        if entry.get(option):
            raise InvalidInput('Container %s declares networks and %s: it has no network namespace of its own to '
                               'attach, so leave one of them out.' % (name, option))
    wanted, ifnames = [], set()
    for index, item in enumerate(given):
        if isinstance(item, str):
            item = dict(name=item)
        unknown = sorted(set(item) - set(NETWORK_KEYS)) if isinstance(item, dict) else []
        if not isinstance(item, dict) or not item.get('name') or unknown:
            raise InvalidInput('Container %s: networks entry %d is not a network name or a dict with name (and '
                               'ifname, cni_args, capability_args)%s.'
                               % (name, index + 1, ': %s is unknown' % _and(unknown) if unknown else ''))
        problem = cni.network_name_error(item['name'])
        if problem:
            raise InvalidInput('Container %s: %s.' % (name, problem))
        ifname = item.get('ifname') or 'eth%d' % index
        if not isinstance(ifname, str) or len(ifname) > cni.IFNAME_MAX_LENGTH or '/' in ifname:
            raise InvalidInput('Container %s: ifname %r of network %s is not an interface name: 1 to 15 characters '
                               'without "/".' % (name, ifname, item['name']))
        if ifname in ifnames:
            raise InvalidInput('Container %s attaches two networks through interface %s: give each its own ifname.'
                               % (name, ifname))
        ifnames.add(ifname)
        for key in ('cni_args', 'capability_args'):
            if item.get(key) is not None and not isinstance(item[key], dict):
                raise InvalidInput('Container %s: %s of network %s must be a dict.' % (name, key, item['name']))
        wanted.append(dict(name=item['name'], ifname=ifname, cni_args=item.get('cni_args') or {},
                           capability_args=item.get('capability_args') or {}))
    return wanted


def ports_of(entry):
    """The portMappings (CNI's portmap capability) of ``published_ports``, sorted; raises InvalidInput."""
    name, mappings, seen = entry['name'], [], set()
    for text in entry.get('published_ports') if entry['state'] != 'absent' and entry.get('published_ports') else []:
        match = PORT_RE.match(text.strip())
        ports = [int(match.group(key)) for key in ('host', 'container')] if match else []
        if not match or not all(0 < port < 65536 for port in ports):
            raise InvalidInput('Container %s: published port %r is not [IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp|/sctp] '
                               'with ports 1 to 65535 (for example 8080:80, 127.0.0.1:8443:443/tcp or 53:53/udp).'
                               % (name, text))
        mapping = dict(hostPort=ports[0], containerPort=ports[1], protocol=match.group('protocol') or 'tcp')
        if match.group('ip'):
            try:
                mapping['hostIP'] = str(ipaddress.ip_address(match.group('ip').strip('[]')))
            except ValueError:
                raise InvalidInput('Container %s: published port %r has no valid IP address before the host port.'
                                   % (name, text))
        key = (mapping['protocol'], mapping['hostPort'])
        if key in seen:
            raise InvalidInput('Container %s publishes host port %d/%s twice: give each mapping its own host port.'
                               % (name, key[1], key[0]))
        seen.add(key)
        mappings.append(mapping)
    if mappings and not entry.get('networks'):
        raise InvalidInput('Container %s publishes ports but declares no networks: ports are published by CNI\'s '
                           'portmap plugin on its networks, so add networks (one made with port_map=true).' % name)
    return sorted(mappings, key=lambda m: (m['protocol'], m['hostPort'], m.get('hostIP', '')))


def _overlaps(one, other):
    return one['protocol'] == other['protocol'] and one['hostPort'] == other['hostPort'] and (
        one.get('hostIP') in (None, '0.0.0.0', '::') or other.get('hostIP') in (None, '0.0.0.0', '::')
        or one.get('hostIP') == other.get('hostIP'))


def _bound_elsewhere(mapping):
    """Why the host port cannot be published (a socket of another process has it), or None."""
    host = mapping.get('hostIP') or '0.0.0.0'
    kind = socket.SOCK_DGRAM if mapping['protocol'] == 'udp' else socket.SOCK_STREAM
    if mapping['protocol'] == 'sctp':
        return None
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.bind((host, mapping['hostPort']))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return 'a process on the host has it'
        if exc.errno == errno.EADDRNOTAVAIL:
            return '%s is not an address of this host' % host
        return None
    finally:
        sock.close()
    return None


def check_ports(entries, configs, cache_dir):
    """Before any change: each publishing entry has a network with portmap, and its host ports are free (not
    published by another container's attachment, not bound by a process on the host)."""
    published = cni.published_ports(cache_dir) if any(entry['ports'] for entry in entries) else []
    for entry in entries:
        if not entry['ports']:
            continue
        if not any(cni.publishes_ports(configs[want['name']]) for want in entry['networks']):
            raise InvalidInput('Container %s publishes ports, but none of its networks (%s) has the portmap plugin: '
                               'define one with port_map=true (ctrops.containerd.cni_network).'
                               % (entry['name'], _and([want['name'] for want in entry['networks']])))
        for mapping in entry['ports']:
            where = '%s%d/%s' % (mapping['hostIP'] + ':' if mapping.get('hostIP') else '', mapping['hostPort'],
                                 mapping['protocol'])
            for container, network, other in published:
                if container != entry['name'] and _overlaps(mapping, other):
                    raise InvalidInput('Container %s cannot publish %s: container %s publishes it on network %s; '
                                       'choose another host port.' % (entry['name'], where, container, network))
            mine = any(container == entry['name'] and _overlaps(mapping, other) for container, _n, other in published)
            problem = None if mine else _bound_elsewhere(mapping)
            if problem:
                raise InvalidInput('Container %s cannot publish %s: %s; choose another host port.'
                                   % (entry['name'], where, problem))


def prepare(params, address, namespace):
    """Check ``networks`` and ``published_ports`` and make ``params`` (a container's options) join its pinned
    namespace when it has networks."""
    params['networks'] = networks_of(params)
    params['ports'] = ports_of(params)
    if params['ports'] and any('portMappings' in want['capability_args'] for want in params['networks']):
        raise InvalidInput('Container %s gives published_ports and portMappings in a network\'s capability_args: '
                           'keep published_ports.' % params['name'])
    container_dns.check(params)
    if params['networks']:
        params['network_from'] = netns.pinned_path(params['cni']['netns_dir'], address, namespace, params['name'])
        # Made just before the container, not in check mode (container_options checks that paths exist).
        params['made_before'] = [params['network_from']]
        params['etc_files'] = etc_files(params)
        mounts = list(params.get('mounts') or [])
        for path, destination in params['etc_files']:
            mounts.append(dict(type='bind', source=path, destination=destination, options=['rbind', 'rw']))
            params['made_before'].append(path)
        params['mounts'] = mounts
    return params


def etc_files(params):
    """[(host file, destination)] of the resolv.conf and hosts files written for the container, except where
    its own mounts put a file."""
    directory = container_dns.files_dir(params['cni']['etc_dir'], params['network_from'])
    mounted = set(mount['destination'] for mount in params.get('mounts') or [])
    return [(os.path.join(directory, name), destination) for name, destination in ETC_FILES
            if destination not in mounted]


def network_configs(conf_dir, entries):
    """{network: configuration} of every network the entries attach to, read and checked before any change."""
    configs = {}
    for entry in entries:
        for want in entry['networks']:
            if want['name'] in configs:
                continue
            if not cni.files_of_network(conf_dir, want['name']):
                raise InvalidInput('Container %s attaches to network %s, which is not defined in %s: create it first '
                                   '(ctrops.containerd.cni_network) or fix the name or cni.conf_dir.'
                                   % (entry['name'], want['name'], conf_dir))
            try:
                _path, config = cni.read_network(conf_dir, want['name'])
                cni.validate_structure(config, want['name'])
            except (ValueError, cni.CniError) as exc:
                raise InvalidInput('Container %s attaches to network %s: %s' % (
                    entry['name'], want['name'], getattr(exc, 'message', 'its file is not valid JSON.')))
            configs[want['name']] = config
    return configs


def checked_configs(settings, entries):
    """The configurations of the entries' networks, with their published ports checked, before any change."""
    configs = network_configs(settings['conf_dir'], entries)
    check_ports(entries, configs, settings['cache_dir'])
    return configs


def ready_on_networks(entry, attached):
    """The entry's ready option, probing the first address its networks gave it (unless ready.host says
    where); in check mode, before any attachment, a placeholder that names the network."""
    ready = entry['ready']
    if not ready or ready.get('host') or not entry['networks']:
        return ready
    addresses = [address.split('/')[0] for network in attached for address in network.get('addresses') or []]
    first = entry['networks'][0]['name']
    return dict(ready, host=addresses[0] if addresses else '(its address on %s)' % first)


def release_pinned(act, path, etc_dir):
    """Remove a container's pinned network namespace and the resolv.conf and hosts files named after it."""
    if os.path.lexists(path):
        act('remove network namespace %s' % path, netns.remove, path)
    directory = container_dns.files_dir(etc_dir, path)
    if os.path.lexists(directory):
        act('remove %s' % directory, shutil.rmtree, directory)


class Networks:
    """The CNI side of a run: each networked container's pinned network namespace and its attachments, made
    before its task starts (its tasks join that namespace, so they keep them: see netns.py)."""

    def __init__(self, run, settings, configs, listing, record):
        self.settings = settings
        self.runner = cni.PluginRunner(run.module, settings['bin_dirs'], run.params['timeout'])
        self.configs = configs
        self.listing = listing
        # Who made the attachments (address, namespace, and the stack or module): the ones this run may release.
        self.record = record

    def pinned(self, name):
        return netns.pinned_path(self.settings['netns_dir'], self.record['address'], self.record['namespace'], name)

    def attach(self, part, entry):
        """Its pinned namespace, made when missing, attached to the networks it declares (and released from those
        it no longer does); returns (before, after) for the result and diff."""
        path = self.pinned(entry['name'])
        if not netns.is_pinned(path):
            with cni.FileLock(self.settings['cache_dir'], self.settings['lock_timeout'], create=not part.check_mode):
                if not netns.is_pinned(path):
                    part.act('create network namespace %s' % path, netns.create, path)
        live = path if netns.is_pinned(path) else None
        self.listing.pinned[entry['name']] = path
        wanted = [dict(want, capability_args=dict(want['capability_args'], portMappings=entry['ports']))
                  if entry['ports'] and cni.publishes_ports(self.configs[want['name']]) else want
                  for want in entry['networks']]
        return cni.converge_networks(part, self.runner, self.settings, entry['name'], live, wanted, self.configs,
                                     self.record)

    def release(self, part, name):
        """The attachments this run's maker made for a container that declares no networks (or is removed), its
        pinned namespace and its resolv.conf and hosts files."""
        before, after = cni.converge_networks(part, self.runner, self.settings, name, None, [], self.configs,
                                              self.record)
        release_pinned(part.act, self.pinned(name), self.settings['etc_dir'])
        return before, after

    @staticmethod
    def write_files(part, entry, attached):
        """The container's resolv.conf and hosts as its options and addresses say, written where they differ."""
        addresses = [address for network in attached for address in network.get('addresses') or []]
        texts = {'/etc/resolv.conf': container_dns.resolv_conf(entry),
                 '/etc/hosts': container_dns.hosts(entry, addresses)}
        for path, destination in entry['etc_files']:
            if container_dns.differs(path, texts[destination]):
                part.act('write %s (%s of %s)' % (path, destination, entry['name']), container_dns.write_in_place,
                         path, texts[destination])

    def converge(self, part, entry, converge):
        """Attach, ``converge(params)`` the container (params with the ready probe on its address), release;
        ``networks`` goes in the result converge returns, and in the part's diff when they changed."""
        count = len(part.actions)
        attached = self.attach(part, entry) if entry['networks'] else None
        if attached:
            self.write_files(part, entry, attached[1])
        acted = len(part.actions) > count
        result = converge(dict(entry, ready=ready_on_networks(entry, attached[1])) if attached else entry)
        if attached is None:
            count = len(part.actions)
            attached = self.release(part, entry['name'])
            acted = len(part.actions) > count
        before, after = attached
        result['networks'] = after
        if acted:
            diff = part.diff or dict(before={}, after={})
            part.diff = dict(before=dict(diff['before'], networks=before), after=dict(diff['after'], networks=after))
            result.update(changed=True, actions=part.actions)
        return result
