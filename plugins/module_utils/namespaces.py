# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Namespaces: the ctr wrappers of that area (each takes a ContainerdClient)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ctrops.containerd.plugins.module_utils import parsers
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import label_args


def namespaces(client):
    """{name: labels} of every namespace."""
    return parsers.parse_namespaces(client.output(['namespaces', 'ls']))


def create(client, name, labels):
    client.run(['namespaces', 'create', name] + label_args(labels))


def set_labels(client, name, labels):
    """Set labels; a value of None removes the label (ctr's 'key=')."""
    client.run(['namespaces', 'label', name] + label_args(labels))


def remove(client, name):
    client.run(['namespaces', 'remove', name])


def contents(client, name):
    """What a namespace still holds, by kind ({'images': [...], ...}); empty kinds left out."""
    listings = (
        ('containers', ['containers', 'ls', '-q']),
        ('images', ['images', 'ls', '-q']),
        ('tasks', ['tasks', 'ls']),
        ('snapshots', ['snapshots', 'ls']),
        ('leases', ['leases', 'ls', '-q']),
        ('content blobs', ['content', 'ls', '-q']),
    )
    contents = {}
    for kind, args in listings:
        out = client.output(args, namespace=name)
        if kind == 'tasks':
            items = sorted(parsers.parse_tasks(out))
        elif kind == 'snapshots':
            items = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
        else:
            items = parsers.parse_quiet_list(out)
        if items:
            contents[kind] = items
    return contents


def empty(client, name):
    """Delete everything a namespace holds: tasks, containers, images, leases, content, snapshots."""
    for task in parsers.parse_tasks(client.output(['tasks', 'ls'], namespace=name)):
        client.run(['tasks', 'kill', '--all', '--signal', 'SIGKILL', task], namespace=name, check=False)
        client.run(['tasks', 'delete', '--force', task], namespace=name)
    for kind, remove in ((['containers'], ['containers', 'delete']),
                         (['images'], ['images', 'remove', '--sync']),
                         (['leases'], ['leases', 'delete']),
                         (['content'], ['content', 'delete'])):
        items = parsers.parse_quiet_list(client.output(kind + ['ls', '-q'], namespace=name))
        if items:
            client.run(remove + items, namespace=name)
    _remove_snapshots(client, name)


def _remove_snapshots(client, namespace):
    """Remove snapshots children first (a parent cannot go while a child exists)."""
    out = client.output(['snapshots', 'ls'], namespace=namespace)
    parents = {}
    for line in out.splitlines()[1:]:
        fields = line.split()
        if fields:
            parents[fields[0]] = fields[1] if len(fields) > 2 else ''
    while parents:
        leaves = [key for key in parents if key not in parents.values()]
        client.run(['snapshots', 'rm'] + leaves, namespace=namespace)
        for key in leaves:
            del parents[key]
