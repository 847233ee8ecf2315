#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_prune
short_description: Remove stopped tasks, idle containers, unused images and stale CNI attachments of a namespace
version_added: 0.2.0
description:
  - Removes, in one namespace, the kinds of objects named in O(kinds) that the O(filters) select, like
    C(docker system prune) does for Docker.
  - V(tasks) deletes tasks that are not live (stopped by default, see O(filters)); a running or paused task is
    never touched.
  - V(containers) deletes containers without a task (also those whose task this run deletes).
  - V(images) deletes images that no container of the namespace uses (after this run's container deletions).
  - The content blobs and snapshots those images and containers held are then released by containerd's garbage
    collection, run at once; RV(removed.content), RV(removed.snapshots) and RV(reclaimed_bytes) say what went.
    Leases are never touched (a lease protects content a pull or a mount is using).
  - V(cni) releases (CNI DEL with the attachment's own cached configuration, then its IPAM leases and cache file)
    the attachments this daemon's namespace made whose container is gone. Only cache entries that validate for a
    network of O(cni_conf_dir) and that C(ctrops.containerd.cni_network) recorded for this address and namespace
    are acted on; IPAM leases without such an entry are left alone.
  - V(cni) also removes the network namespace such a container had pinned in O(cni_netns_dir) (a container of
    C(ctrops.containerd.containerd_container) or C(ctrops.containerd.containerd_stack) with networks, deleted with
    C(ctr)) and its C(resolv.conf) and C(hosts) files in O(cni_etc_dir).
options:
  kinds:
    description:
      - What to prune.
    type: list
    elements: str
    choices: [tasks, containers, images, cni]
    required: true
  filters:
    description:
      - Which objects are pruned; an object must match every filter given.
      - C(label) (a key, C(key=value), or a list of them) selects objects carrying all those labels; a task
        carries its container's labels.
      - C(label!) (same form) keeps objects carrying any of those labels.
      - C(until) (an age such as V(30m), V(12h), V(7d), V(1w) or seconds) selects objects older than that;
        containers and their tasks by the container's creation time, images by the age of their manifest in the
        content store (to the precision C(ctr content ls) prints).
      - C(status) (a list of V(stopped), V(created), V(unknown); default V(stopped)) selects tasks by state.
      - With C(label) or C(until), V(cni) releases only the attachments of containers this run deletes.
    type: dict
    default: {}
  cni_conf_dir:
    description:
      - Directory of the CNI network configuration files whose attachments V(cni) may release.
    type: path
    default: /etc/cni/net.d
  cni_cache_dir:
    description:
      - libcni's cache directory, as in C(ctrops.containerd.cni_network).
    type: path
    default: /var/lib/cni
  cni_bin_dirs:
    description:
      - Directories searched for CNI plugins (DEL runs them).
    type: list
    elements: path
    default: [/opt/cni/bin, /usr/lib/cni]
  cni_netns_dir:
    description:
      - Where networked containers pin their network namespaces (their C(cni.netns_dir)); V(cni) removes those of
        gone containers there, and nowhere else.
    type: path
    default: /run/netns
  cni_etc_dir:
    description: Where networked containers have their C(resolv.conf) and C(hosts) files (their C(cni.etc_dir)).
    type: path
    default: /var/lib/ctrops-containerd/etc
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Lists exactly the tasks, containers, images and CNI attachments that would go, and what garbage
      collection would release.
  diff_mode:
    support: full
    details: Shows the selected objects per kind before and after.
  platform:
    platforms: posix
notes:
  - A no-op run costs three ctr calls (C(tasks ls), C(containers ls), C(images ls)) plus one C(containers ls)
    per label filter given (C(label), C(label!)); a run that removes something adds C(content ls) and C(snapshots ls) before and after, and one
    C(containers info) per candidate container when C(until) is given.
seealso:
  - module: ctrops.containerd.containerd_namespace
  - module: ctrops.containerd.cni_network
  - name: containerd garbage collection
    description: How containerd releases content and snapshots nothing references.
    link: https://github.com/containerd/containerd/blob/main/docs/garbage-collection.md
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it (check mode first):
#   ansible web -m ctrops.containerd.containerd_prune -a 'namespace=default kinds=tasks,containers,images' --check

- name: Reclaim space in the default namespace, keeping what is labelled keep
  ctrops.containerd.containerd_prune:
    kinds: [tasks, containers, images]
    filters:
      label!: keep
  register: pruned

- name: Say what it freed
  ansible.builtin.debug:
    msg: "{{ pruned.removed.images | length }} images, {{ pruned.reclaimed_bytes }} bytes"

- name: Remove containers of the CI jobs older than a day, with their tasks and CNI attachments
  ctrops.containerd.containerd_prune:
    namespace: ci
    kinds: [tasks, containers, cni]
    filters:
      label: role=job
      until: 24h

- name: Release IPAM leases and CNI attachments of containers deleted without a CNI DEL (the field notes' rm -f)
  ctrops.containerd.containerd_prune:
    kinds: [cni]
'''

RETURN = r'''
removed:
  description: What was removed (in check mode, what would be), per kind, each list sorted.
  returned: always
  type: dict
  contains:
    tasks:
      description: Containers whose task was deleted.
      type: list
      elements: str
      sample: [job-1]
    containers:
      description: Containers deleted.
      type: list
      elements: str
      sample: [job-1]
    images:
      description: Images deleted.
      type: list
      elements: str
      sample: [docker.io/library/nginx:alpine]
    content:
      description: Content blobs garbage collection released (in check mode, those the deleted images alone
        referenced), with their size in bytes.
      type: list
      elements: dict
      sample: [{digest: "sha256:b98975908d7a5c2d75d10c88fd70a80576dc6bb1b63b6bd86982037f09a987d6", size: 1033000}]
    snapshots:
      description: Snapshots that went (the deleted containers' and the image layers nothing else uses).
      type: list
      elements: str
      sample: [job-1]
    cni:
      description: CNI attachments released.
      type: list
      elements: dict
      sample: [{network: web, container: job-1, ifname: eth0}]
reclaimed_bytes:
  description: Sum of the sizes of RV(removed.content), from C(ctr content ls) (exact below 1 kB, else to the
    four digits ctr prints).
  returned: always
  type: int
  sample: 1033934
ctr_calls:
  description: Number of ctr invocations of this run.
  returned: always
  type: int
  sample: 3
'''

import json

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import cni
from ansible_collections.ctrops.containerd.plugins.module_utils import container_networks
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import netns
from ansible_collections.ctrops.containerd.plugins.module_utils import parsers
from ansible_collections.ctrops.containerd.plugins.module_utils import prune
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import labels_match
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun


def selected_containers(client, filters, containers):
    """Names of the containers the label filters select (None: no label filter, all)."""
    if not filters['label'] and not filters['label!']:
        return None
    names = set(ctrs.list_containers_matching(client, prune.all_of(filters['label'])) if filters['label']
                else containers)
    if filters['label!']:
        names -= set(ctrs.list_containers_matching(client, prune.any_of(filters['label!'])))
    return names


def selected_images(filters, images):
    """Names of the images the label filters select, from the labels ``images ls`` already showed."""
    names = set(images)
    if filters['label']:
        names = set(name for name in names if labels_match(images[name]['labels'], dict(filters['label'])))
    if filters['label!']:
        names = set(name for name in names
                    if not any(labels_match(images[name]['labels'], {key: value}) for key, value in filters['label!']))
    return names


class Older:
    """Whether a container is older than the until filter (one containers info per container asked)."""

    def __init__(self, client, cutoff):
        self.client = client
        self.cutoff = cutoff
        self.known = {}

    def __call__(self, name):
        if self.cutoff is None:
            return True
        if name not in self.known:
            info = ctrs.container_info(self.client, name) or {}
            created = prune.parse_timestamp(info.get('CreatedAt'))
            self.known[name] = created is not None and created < self.cutoff
        return self.known[name]


def plan(run, filters):
    """{kind: sorted names} to remove, and what the listings showed."""
    client, kinds = run.client, run.params['kinds']
    tasks = ctrs.tasks(client)
    containers = prune.parse_containers(client.output(['containers', 'ls']))
    chosen = selected_containers(client, filters, containers) if ('tasks' in kinds or 'containers' in kinds) else None
    older = Older(client, filters['until'])

    def picked(name):
        return (chosen is None or name in chosen) and older(name)
    gone_tasks = []
    if 'tasks' in kinds:
        gone_tasks = sorted(name for name, task in tasks.items()
                            if task['status'] in filters['status'] and picked(name))
    gone_containers = []
    if 'containers' in kinds:
        gone_containers = sorted(name for name in containers
                                 if (name not in tasks or name in gone_tasks) and picked(name))
    images = parsers.parse_images(client.output(['images', 'ls'])) if 'images' in kinds else {}
    gone_images = []
    if images:
        used = set(image for name, image in containers.items() if name not in gone_containers)
        candidates = sorted(selected_images(filters, images) - used)
        if candidates and filters['age'] is not None:
            # Images have no creation time in ctr's listings: the age of their manifest blob stands for it.
            blobs = prune.parse_content(client.output(['content', 'ls']))
            ages = dict((name, prune.parse_age(blobs.get(images[name]['digest'], {}).get('age')))
                        for name in candidates)
            candidates = [name for name in candidates if ages[name] is not None and ages[name] >= filters['age']]
        gone_images = candidates
    return dict(tasks=gone_tasks, containers=gone_containers, images=gone_images), containers, images


def storage(client):
    """(content blobs, snapshots) of the namespace: two calls, made only when something goes."""
    return (prune.parse_content(client.output(['content', 'ls'])),
            prune.parse_snapshots(client.output(['snapshots', 'ls'])))


def remove_objects(client, gone):
    for name in gone['tasks']:
        ctrs.delete_task(client, name)
    if gone['containers']:
        client.run(['containers', 'delete'] + gone['containers'])
    if gone['images']:
        # --sync: containerd collects the garbage before answering, so the listing after it is final.
        client.run(['images', 'remove', '--sync'] + gone['images'])


def cni_part(run, gone, containers, filters):
    """Stale attachments (network, path, cached, lease dirs) and the entries left alone."""
    params = run.params
    remaining = set(containers) - set(gone['containers'])
    narrowed = bool(filters['label']) or filters['until'] is not None

    def is_gone(container):
        # A label or age filter narrows CNI too: only attachments of the containers this run deletes.
        return container in gone['containers'] if narrowed else container not in remaining
    skipped = []
    stale = prune.stale_attachments(params['cni_conf_dir'], params['cni_cache_dir'], params['address'],
                                    run.client.namespace, is_gone, skipped)
    return stale, skipped


def converge(run):
    params = run.params
    filters = prune.parse_filters(params['filters'])
    client = run.client
    gone, containers, listed_images = plan(run, filters)
    removed = dict(gone, content=[], snapshots=[], cni=[])
    for kind in ('tasks', 'containers', 'images'):
        for name in gone[kind]:
            run.actions.append('remove %s %s' % (kind[:-1], name))
    before = None
    if gone['containers'] or gone['images']:
        before = storage(client)
        blobs, snapshots = before
        images = listed_images or parsers.parse_images(client.output(['images', 'ls']))
        kept_roots = [record['digest'] for name, record in images.items() if name not in gone['images']]
        removed_roots = [images[name]['digest'] for name in gone['images'] if name in images]
        kept_containers = [name for name in containers if name not in gone['containers']]
        digests, keys = prune.released(blobs, snapshots, removed_roots, kept_roots, gone['containers'],
                                       kept_containers)
        removed['content'] = [dict(digest=d, size=blobs[d]['size']) for d in digests]
        removed['snapshots'] = keys
    stale = []
    if 'cni' in params['kinds']:
        with cni.FileLock(params['cni_cache_dir'], create=not run.check_mode):
            stale, skipped = cni_part(run, gone, containers, filters)
            for path, why in skipped:
                run.warn('CNI cache entry %s is left alone: %s.' % (path, why))
            removed['cni'] = [dict(network=n, container=c[2].get('containerId'), ifname=c[2].get('ifName'))
                              for n, _p, c, _d in stale]
            run.actions.extend('release %(network)s attachment of %(container)s/%(ifname)s' % item
                               for item in removed['cni'])
            if not run.check_mode:
                remove_objects(client, gone)
                runner = cni.PluginRunner(run.module, params['cni_bin_dirs'], params['timeout'])
                for _name, path, cached, dirs in stale:
                    prune.release_attachment(run.module, runner, path, cached, dirs)
            # After the DELs: the namespaces they ran in go last.
            for pinned in prune.pinned_namespaces(stale, params['cni_netns_dir']):
                container_networks.release_pinned(run.act, pinned, params['cni_etc_dir'])
    elif not run.check_mode:
        remove_objects(client, gone)
    if before is not None and not run.check_mode:
        blobs, snapshots = before
        after_blobs, after_snapshots = storage(client)
        removed['content'] = [dict(digest=d, size=blobs[d]['size']) for d in sorted(set(blobs) - set(after_blobs))]
        removed['snapshots'] = sorted(set(snapshots) - set(after_snapshots))
    run.result['removed'] = removed
    run.result['reclaimed_bytes'] = sum(item['size'] for item in removed['content'])
    selected = dict((kind, removed[kind]) for kind in ('tasks', 'containers', 'images', 'cni'))
    run.set_diff(json.loads(json.dumps(selected)), dict((kind, []) for kind in selected),
                 'namespace %s' % client.namespace)


def main():
    run = ModuleRun(dict(
        kinds=dict(type='list', elements='str', required=True, choices=list(prune.KINDS)),
        filters=dict(type='dict', default={}),
        cni_conf_dir=dict(type='path', default='/etc/cni/net.d'),
        cni_cache_dir=dict(type='path', default='/var/lib/cni'),
        cni_bin_dirs=dict(type='list', elements='path', default=list(cni.DEFAULT_BIN_DIRS)),
        cni_netns_dir=dict(type='path', default=netns.DEFAULT_DIR),
        cni_etc_dir=dict(type='path', default=container_networks.ETC_DIR),
    ))
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
