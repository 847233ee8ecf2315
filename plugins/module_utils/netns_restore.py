# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pinned network namespaces of networked containers made again at boot, before containerd starts.

A container with ``networks`` joins a namespace pinned on a file in ``/run/netns`` (module_utils/netns.py),
which a reboot empties: containerd's restart monitor could not start such a task. The ``cni`` role runs
this program from a oneshot unit ordered before containerd. For every CNI cache entry (libcni's
``results``) whose namespace is one of this collection's pinned files and is gone, it pins a new namespace
on the same path, releases the old attachment (DEL without a namespace: the lease and host rules) and
attaches it again (ADD, asking host-local IPAM for the old IPv4 address), then records the new namespace
in the cache entry so the next Ansible run finds the attachment sound. Namespaces that are there already
are not touched (a containerd restart without a reboot).

Run as ``python3 -S -m ...netns_restore --netns-dir DIR --cache-dir DIR --bin-dir DIR...`` with this
collection's module_utils on the path: only Python's standard library is needed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import os
import sys

from ansible_collections.ctrops.containerd.plugins.module_utils import cni, netns
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError


def lost_namespaces(netns_dir, cache_dir):
    """[(cache file, (config, result, entry))] of the attachments whose pinned namespace is gone."""
    directory = os.path.join(cache_dir, 'results')
    prefix = os.path.join(netns_dir, netns.PREFIX)
    found = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    for name in names:
        path = os.path.join(directory, name)
        cached = cni.read_cache(path)
        if cached is None or cached[0] is None:
            continue
        entry = cached[2]
        pinned = entry.get('netns') or ''
        if pinned.startswith(prefix) and '/' not in pinned[len(prefix):] and not netns.is_pinned(pinned):
            found.append((path, cached))
    return found


def same_address_args(config, result):
    """CNI_ARGS that ask host-local IPAM for the IPv4 address the attachment had (none for other IPAM)."""
    types = set(((plugin.get('ipam') or {}).get('type')) for plugin in cni.plugins_of(config))
    addresses = [address.split('/')[0] for address in cni.result_addresses(result) if ':' not in address]
    if 'host-local' not in types or len(addresses) != 1:
        return {}
    return {'IgnoreUnknown': '1', 'IP': addresses[0]}


def restore(runner, cache_dir, cache_file, cached):
    """Pin the namespace again and attach it as before; the cache entry then names the new namespace."""
    config, result, entry = cached
    path = entry['netns']
    cni_args = dict(entry.get('cniArgs') or [])
    capability_args = entry.get('capabilityArgs') or {}
    network, container_id, ifname = entry.get('networkName'), entry.get('containerId'), entry.get('ifName')
    netns.create(path)
    old = cni.Attachment(network, container_id, ifname, '', cni_args, capability_args)
    try:
        cni.run_del(runner, config, old, result)
    except cni.CniError:
        pass  # nothing left to release (a lease removed by hand): the ADD decides
    asked = dict(cni_args, **same_address_args(config, result))
    new_result = cni.run_add(runner, config, cni.Attachment(network, container_id, ifname, path, asked,
                                                            capability_args))
    owner = dict(entry.get(cni.CACHE_OWNER_KEY) or {}, netns_inode=cni.netns_inode(path))
    attachment = cni.Attachment(network, container_id, ifname, path, cni_args, capability_args)
    cni.write_cache(cache_dir, attachment, config, new_result, owner)
    return cni.result_addresses(new_result)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--netns-dir', default=netns.DEFAULT_DIR)
    parser.add_argument('--cache-dir', default='/var/lib/cni')
    parser.add_argument('--bin-dir', action='append', dest='bin_dirs')
    parser.add_argument('--timeout', type=int, default=60)
    parser.add_argument('--path', help='directories of the programs plugins run (iptables), before $PATH')
    args = parser.parse_args(argv)
    if args.path:
        os.environ['PATH'] = os.pathsep.join([args.path, os.environ.get('PATH', '')]).rstrip(os.pathsep)
    runner = cni.PluginRunner(None, args.bin_dirs or cni.DEFAULT_BIN_DIRS, args.timeout)
    failed = 0
    with cni.FileLock(args.cache_dir, timeout=args.timeout):
        for cache_file, cached in lost_namespaces(args.netns_dir, args.cache_dir):
            entry = cached[2]
            what = '%s/%s on network %s' % (entry.get('containerId'), entry.get('ifName'), entry.get('networkName'))
            try:
                addresses = restore(runner, args.cache_dir, cache_file, cached)
            except (ModuleError, OSError) as exc:
                failed += 1
                sys.stderr.write('%s: not restored: %s\n' % (what, getattr(exc, 'message', exc)))
                continue
            sys.stdout.write('%s: namespace %s made again, %s\n' % (what, entry['netns'], ', '.join(addresses) or 'no address'))
    return 1 if failed else 0


if __name__ == '__main__':
    raise SystemExit(main())
