# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pruning a namespace: filters, what containerd's garbage collection releases, stale CNI attachments.

containerd has no prune call: deleting images and containers drops the references that keep content
blobs and snapshots alive, and its garbage collector (run at once by ``images rm --sync``) removes
them. What it will release is read from the references on content (``containerd.io/gc.ref.*`` labels
of ``ctr content ls``) and snapshot parents (``ctr snapshots ls``), so check mode can name it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import os
import re
import time

from ansible_collections.ctrops.containerd.plugins.module_utils import cni, netns, parsers
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import filter_quote

KINDS = ('tasks', 'containers', 'images', 'cni')
FILTERS = ('label', 'label!', 'until', 'status')
# Task states prune may delete: never a live process.
PRUNABLE_STATUSES = ('stopped', 'created', 'unknown')

_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
_DURATION_RE = re.compile(r'^(\d+)([smhdw]?)$')
# go-units HumanSize (what ctr content ls prints): decimal units.
_SIZE_RE = re.compile(r'^([0-9.]+)\s*([kMGTPE]?B)$')
_SIZE_UNITS = {'B': 1, 'kB': 10 ** 3, 'MB': 10 ** 6, 'GB': 10 ** 9, 'TB': 10 ** 12, 'PB': 10 ** 15, 'EB': 10 ** 18}
# go-units HumanDuration (the AGE column of ctr content ls).
_AGE_WORDS = (('second', 1), ('minute', 60), ('hour', 3600), ('day', 86400), ('week', 604800),
              ('month', 2592000), ('year', 31536000))


# -- filters -------------------------------------------------------------------------------

def parse_duration(value):
    """Seconds of a duration such as 90, '90s', '30m', '2h', '7d' or '1w'; None when unparsable."""
    match = _DURATION_RE.match(str(value).strip())
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2) or 's']


def _label_terms(value, option):
    terms = value if isinstance(value, list) else [value]
    pairs = []
    for term in terms:
        key, sep, wanted = str(term).partition('=')
        if not key:
            raise InvalidInput('Invalid filters.%s %r: give label keys or key=value.' % (option, term))
        pairs.append((key, wanted if sep else None))
    return pairs


def parse_filters(filters, now=None):
    """{label: [(key, value or None)], label!: [...], until: epoch seconds or None, status: [...]}."""
    filters = filters or {}
    unknown = sorted(key for key in filters if key not in FILTERS)
    if unknown:
        raise InvalidInput('Unknown filter %s: use %s.' % (', '.join(unknown), ', '.join(FILTERS)))
    until = filters.get('until')
    cutoff = None
    if until is not None:
        seconds = parse_duration(until)
        if seconds is None:
            raise InvalidInput('Invalid filters.until %r: give an age such as 30m, 12h or 7d (objects older than '
                               'that are pruned).' % (until,))
        cutoff = (now if now is not None else time.time()) - seconds
    status = filters.get('status') or ['stopped']
    status = [str(s).lower() for s in (status if isinstance(status, list) else [status])]
    bad = [s for s in status if s not in PRUNABLE_STATUSES]
    if bad:
        raise InvalidInput('Invalid filters.status %s: prune deletes only tasks that are %s, never live ones.'
                           % (', '.join(bad), ', '.join(PRUNABLE_STATUSES)))
    return {'label': _label_terms(filters.get('label') or [], 'label'),
            'label!': _label_terms(filters.get('label!') or [], 'label!'),
            'until': cutoff, 'age': seconds if until is not None else None, 'status': status}


def label_term(key, value):
    """A containerd filter term on labels: the label is there (value None) or has ``value``."""
    if value is None:
        return 'labels.%s' % filter_quote(key)
    return 'labels.%s==%s' % (filter_quote(key), filter_quote(value))


def all_of(pairs):
    """One containerd filter argument that matches objects carrying every label (terms joined by ',')."""
    return [','.join(label_term(key, value) for key, value in pairs)] if pairs else []


def any_of(pairs):
    """Filter arguments matching objects that carry any of the labels (ctr ORs its filter arguments)."""
    return [label_term(key, value) for key, value in pairs]


def parse_timestamp(text):
    """Epoch seconds of containerd's RFC 3339 time ('2026-12-02T05:55:25.852863328Z'); None when unparsable."""
    match = re.match(r'^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)', text or '')
    if not match:
        return None
    stamp = calendar.timegm(tuple(int(part) for part in match.groups()) + (0, 0, 0))
    offset = re.search(r'([+-])(\d\d):(\d\d)$', text)
    if offset:
        sign = 1 if offset.group(1) == '+' else -1
        stamp -= sign * (int(offset.group(2)) * 3600 + int(offset.group(3)) * 60)
    return stamp


def parse_age(text):
    """Seconds of go-units' HumanDuration ('Less than a second', 'About an hour', '3 days'), rounded down."""
    text = (text or '').strip().lower()
    if text.startswith('less than'):
        return 0
    number = re.match(r'^(\d+)\s+(\w+?)s?$', text)
    if number:
        count, unit = int(number.group(1)), number.group(2)
    elif text.startswith('about a') or text.startswith('a '):
        count, unit = 1, text.split()[-1]
    else:
        return None
    for word, seconds in _AGE_WORDS:
        if unit.startswith(word):
            return count * seconds
    return None


# -- parsers of ctr listings this area reads --------------------------------------------------

def parse_size(text):
    """Bytes of go-units' HumanSize ('405B', '1.033MB'): exact below 1 kB, else to ctr's 4 digits."""
    match = _SIZE_RE.match((text or '').strip())
    if not match:
        return 0
    return int(round(float(match.group(1)) * _SIZE_UNITS[match.group(2)]))


def parse_content(output):
    """Parse ``ctr content ls`` (tab-separated DIGEST SIZE AGE LABELS) into {digest: {size, age, labels}}."""
    blobs = {}
    for line in parsers.table_rows(output):
        fields = [field.strip() for field in line.split('\t') if field.strip()]
        if len(fields) < 3 or not fields[0].startswith('sha256:'):
            continue
        labels = parsers.parse_labels(fields[3]) if len(fields) > 3 else {}
        blobs[fields[0]] = {'size': parse_size(fields[1]), 'age': fields[2], 'labels': labels}
    return blobs


def parse_snapshots(output):
    """Parse ``ctr snapshots ls`` (KEY PARENT KIND) into {key: parent or ''}."""
    snapshots = {}
    for line in parsers.table_rows(output):
        fields = line.split()
        if fields:
            snapshots[fields[0]] = fields[1] if len(fields) > 2 else ''
    return snapshots


def parse_containers(output):
    """Parse ``ctr containers ls`` (CONTAINER IMAGE RUNTIME) into {name: image}."""
    found = {}
    for line in parsers.table_rows(output):
        fields = line.split()
        if len(fields) >= 2:
            found[fields[0]] = '' if fields[1] == '-' else fields[1]
    return found


# -- what garbage collection releases ---------------------------------------------------------

def reachable(roots, blobs):
    """Content digests and snapshot keys reachable from ``roots`` through gc.ref labels."""
    digests, snapshots = set(), set()
    pending = [root for root in roots if root]
    while pending:
        digest = pending.pop()
        if digest in digests or digest not in blobs:
            continue
        digests.add(digest)
        for key, value in blobs[digest]['labels'].items():
            if key.startswith('containerd.io/gc.ref.content'):
                pending.append(value)
            elif key.startswith('containerd.io/gc.ref.snapshot.'):
                snapshots.add(value)
    return digests, snapshots


def with_parents(keys, snapshots):
    """``keys`` and every ancestor of them."""
    found = set()
    pending = list(keys)
    while pending:
        key = pending.pop()
        if key in found or key not in snapshots:
            continue
        found.add(key)
        pending.append(snapshots[key])
    return found


def released(blobs, snapshots, removed_roots, kept_roots, removed_snapshots, kept_snapshots):
    """(digests, snapshot keys) that garbage collection frees once ``removed_roots`` (image targets)
    and ``removed_snapshots`` (containers' snapshots) go, while ``kept_*`` stay."""
    gone_digests, gone_refs = reachable(removed_roots, blobs)
    kept_digests, kept_refs = reachable(kept_roots, blobs)
    kept = with_parents(kept_refs | set(kept_snapshots), snapshots)
    gone = with_parents(gone_refs | set(key for key in removed_snapshots if key in snapshots), snapshots)
    return sorted(gone_digests - kept_digests), sorted(gone - kept)


# -- CNI attachments whose container is gone --------------------------------------------------

def network_configs(conf_dir):
    """{network name: config} of the valid network files in ``conf_dir`` (first file of a name wins)."""
    found = {}
    for _path, config in cni.config_files(conf_dir).items():
        if isinstance(config, dict) and isinstance(config.get('name'), str) and config['name'] not in found:
            found[config['name']] = config
    return found


def lease_dirs(name, config):
    """The lease directories prune may touch for a network: its config's and the default one."""
    dirs = [cni.DEFAULT_IPAM_DATA_DIR + '/' + name]
    return dirs + [d for d in cni.ipam_data_dirs(config) if d not in dirs]


def stale_attachments(conf_dir, cache_dir, address, namespace, gone, skipped):
    """[(network, path, cached, lease dirs)] of sound cache entries this daemon's ``namespace`` made whose
    container is in ``gone`` (a function of the container ID); entries that do not validate go to ``skipped``."""
    found = []
    for name, config in sorted(network_configs(conf_dir).items()):
        dirs = lease_dirs(name, config)
        for path, cached in sorted(cni.cached_attachments(cache_dir, name, skipped, dirs).items()):
            owner = cached[2].get(cni.CACHE_OWNER_KEY) or {}
            if owner.get('namespace') != namespace or owner.get('address') != address:
                continue
            if gone(cached[2].get('containerId')):
                found.append((name, path, cached, dirs))
    return found


def pinned_namespaces(stale, netns_dir):
    """The pinned network namespaces (files of this collection in ``netns_dir``, no other path) that the
    stale attachments ran in, each once."""
    found = []
    for _name, _path, cached, _dirs in stale:
        path = cached[2].get('netns') or ''
        if os.path.dirname(path) == netns_dir.rstrip('/') and os.path.basename(path).startswith(netns.PREFIX) \
                and path not in found:
            found.append(path)
    return found


def release_attachment(module, runner, path, cached, dirs):
    """DEL a cached attachment with its own configuration, then remove its leases and its cache file."""
    config, cached_result, entry = cached
    container, ifname = entry.get('containerId'), entry.get('ifName')
    attachment = cni.Attachment(entry.get('networkName'), container, ifname, cni.del_netns(entry),
                                dict(entry.get('cniArgs') or []), entry.get('capabilityArgs'))
    cni.release_attachment(module, runner, config, attachment, cached_result)
    for directory in dirs:
        for lease, (owner, lease_ifname) in cni.ipam_leases(directory).items():
            if owner == container and lease_ifname in ('', ifname):
                cni.remove_file(lease)
    cni.remove_file(path)
