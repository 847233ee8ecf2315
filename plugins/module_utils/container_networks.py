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

import os

from ansible_collections.ctrops.containerd.plugins.module_utils import cni
from ansible_collections.ctrops.containerd.plugins.module_utils import netns
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput

NETWORK_KEYS = ('name', 'ifname', 'cni_args', 'capability_args')


def argument_spec():
    """``networks`` and ``cni`` (where networks are defined and attachments kept), a fresh copy."""
    return dict(
        networks=dict(type='list', elements='raw'),
        cni=dict(type='dict', default={}, options=dict(
            conf_dir=dict(type='path', default='/etc/cni/net.d'),
            bin_dirs=dict(type='list', elements='path', default=list(cni.DEFAULT_BIN_DIRS)),
            cache_dir=dict(type='path', default='/var/lib/cni'),
            lock_timeout=dict(type='int', default=120),
            netns_dir=dict(type='path', default=netns.DEFAULT_DIR),
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
    if not given:
        return []
    if entry['state'] == 'absent':
        raise InvalidInput('Container %s declares networks with state=absent: a removed container has no network, '
                           'so leave networks out.' % name)
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


def prepare(params, address, namespace):
    """Check ``networks`` and make ``params`` (a container's options) join its pinned namespace when it has any."""
    params['networks'] = networks_of(params)
    if params['networks']:
        params['netns_pinned'] = True  # made just before the container (container_options' path check)
        params['network_from'] = netns.pinned_path(params['cni']['netns_dir'], address, namespace, params['name'])
    return params


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


def ready_on_networks(entry, attached):
    """The entry's ready option, probing the first address its networks gave it (unless ready.host says
    where); in check mode, before any attachment, a placeholder that names the network."""
    ready = entry['ready']
    if not ready or ready.get('host') or not entry['networks']:
        return ready
    addresses = [address.split('/')[0] for network in attached for address in network.get('addresses') or []]
    first = entry['networks'][0]['name']
    return dict(ready, host=addresses[0] if addresses else '(its address on %s)' % first)


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
        return cni.converge_networks(part, self.runner, self.settings, entry['name'], live, entry['networks'],
                                     self.configs, self.record)

    def release(self, part, name):
        """The attachments this run's maker made for a container that declares no networks (or is removed), and
        its pinned namespace."""
        before, after = cni.converge_networks(part, self.runner, self.settings, name, None, [], self.configs,
                                              self.record)
        path = self.pinned(name)
        if os.path.lexists(path):
            part.act('remove network namespace %s' % path, netns.remove, path)
        return before, after

    def converge(self, part, entry, converge):
        """Attach, ``converge(params)`` the container (params with the ready probe on its address), release;
        ``networks`` goes in the result converge returns, and in the part's diff when they changed."""
        count = len(part.actions)
        attached = self.attach(part, entry) if entry['networks'] else None
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
