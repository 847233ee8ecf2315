#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_copy
short_description: Copy files into a containerd container, or out of it to the host
version_added: 0.2.0
description:
  - Copies a file, a directory or given O(content) into a container (O(direction=into)), or a file or directory
    of a container to the host (O(direction=out)), like C(docker cp) and community.docker's
    C(docker_container_copy_into).
  - Idempotent by content (SHA-1) and, when given, mode and owner; only files that differ are written, each
    atomically (a temporary file beside it, then a rename).
  - A container with a live task (running, paused or created) is reached through C(/proc/PID/root) of its init
    process; a container without one through its snapshot, mounted on a private temporary directory and
    unmounted before the module ends, also when it fails. Writes then land in the container's writable layer,
    not in bind mounts of its spec.
  - Container paths are resolved inside the container's root, symbolic links as the container sees them (an
    absolute target starts at the container's root); a path or link that would lead above the root is refused.
    Every path component is opened from a descriptor of the directory before it, never by its path, so a
    process in the container that swaps a directory for a link while the copy runs cannot redirect the copy
    to the host (the race of C(docker cp), CVE-2018-15664); such a copy fails with a message instead.
options:
  container:
    description:
      - Name (ID) of the container.
    type: str
    required: true
  direction:
    description:
      - V(into) copies from the host (O(src) or O(content)) to O(dest) in the container; V(out) copies O(src) of
        the container to O(dest) on the host.
    type: str
    choices: [into, out]
    default: into
  src:
    description:
      - The file or directory to copy (on the host for V(into), in the container for V(out)).
      - For a directory, as with ansible.builtin.copy, a trailing C(/) copies its contents into O(dest); without it
        the directory itself goes into O(dest).
      - Symbolic links and special files (FIFOs, devices, sockets) inside a directory copied out of a container
        are skipped, with a warning, since a link could point anywhere on the host.
    type: str
  content:
    description:
      - Text to write to the file O(dest) in the container (O(direction=into) only).
    type: str
  dest:
    description:
      - Where to copy to (in the container for V(into), on the host for V(out)); an absolute path.
      - For a file O(src), a O(dest) that ends in C(/) or is a directory receives the file under its own name.
    type: str
    required: true
  mode:
    description:
      - Permissions of the copied files, as an octal string such as V('0644') or a number.
      - Without it new files get the source's permissions (V('0644') for O(content)) and existing files keep
        theirs.
    type: raw
  owner:
    description:
      - Owner of the copied files and created directories, a name or a number; with O(direction=into) names are
        looked up in the container's C(/etc/passwd).
    type: str
  group:
    description:
      - Group of the copied files and created directories, a name or a number; with O(direction=into) names are
        looked up in the container's C(/etc/group).
    type: str
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: A container without a task gets its snapshot mounted read-only to compare.
  diff_mode:
    support: full
    details: Shows the content before and after for one text file of at most 64 KiB, else the files that change.
  platform:
    platforms: posix
notes:
  - Costs two ctr calls (C(containers info), C(tasks ls)), three for a container without a live task
    (C(snapshots mounts)).
  - Needs root on the host (the container's files belong to its users).
seealso:
  - module: ctrops.containerd.containerd_exec
  - module: ansible.builtin.copy
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
- name: Put a configuration file into the web container (running or not)
  ctrops.containerd.containerd_copy:
    container: web
    content: |
      server { listen 80; root /www; }
    dest: /etc/nginx/conf.d/default.conf
    mode: '0644'
    owner: root

- name: Copy a directory's contents into the container
  ctrops.containerd.containerd_copy:
    container: web
    src: files/site/
    dest: /www
    owner: '101'
    group: '101'

- name: Fetch a log file out of the container
  ctrops.containerd.containerd_copy:
    container: web
    direction: out
    src: /var/log/nginx/error.log
    dest: /srv/logs/web-error.log
'''

RETURN = r'''
dest:
  description: The destination path given.
  returned: always
  type: str
  sample: /etc/nginx/conf.d/default.conf
files:
  description: The destination paths that were written or whose attributes were set (in check mode, would be),
    sorted; directories created are listed too.
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/conf.d/default.conf]
checksum:
  description: SHA-1 of the copied content when one file is copied.
  returned: when one file is copied
  type: str
  sample: 6e2c1f1e6a3d7b3b0f5f3b8a1a4b8c9d0e1f2a3b
via:
  description: How the container's files were reached, V(task) (C(/proc/PID/root)) or V(snapshot) (a temporary
    mount of its snapshot).
  returned: always
  type: str
  sample: task
ctr_calls:
  description: Number of ctr invocations of this run.
  returned: always
  type: int
  sample: 2
'''

import grp
import os
import pwd
import stat

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import container_files as cf
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import in_root
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun

DIFF_LIMIT = 64 * 1024


def parse_mode(value):
    if value is None:
        return None
    text = str(value)
    try:
        mode = int(text, 8) if isinstance(value, str) else int(value)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise InvalidInput('Invalid mode %r: give octal permissions such as \'0644\'.' % (value,))
    return mode


def host_ids(owner, group):
    """(uid, gid) of names or numbers on the host."""
    try:
        uid = None if owner is None else (int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid)
        gid = None if group is None else (int(group) if group.isdigit() else grp.getgrnam(group).gr_gid)
    except KeyError as exc:
        raise InvalidInput('Unknown user or group %s on this host: give a name it knows or a number.' % exc)
    return uid, gid


class Source:
    """The files to copy: [(relative path or '', 'dir'|'file', read)], ``read()`` giving (bytes, mode)."""

    def __init__(self, items, single):
        self.items = items
        self.single = single  # one file: dest may name a directory to put it in


def host_source(src):
    """The items under host path ``src`` (direction into): the operator's own files."""
    if not os.path.lexists(src):
        return None
    if not os.path.isdir(src):
        return Source([('', 'file', host_reader(src))], True)
    items = [] if src.endswith('/') else [('', 'dir', None)]
    for top, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(top, name)
            items.append((os.path.relpath(path, src), 'dir' if os.path.isdir(path) else 'file', host_reader(path)))
    return Source(named_under(items, src), False)


def host_reader(path):
    def read():
        with open(path, 'rb') as handle:
            data = handle.read()
        return data, stat.S_IMODE(os.stat(path).st_mode)
    return read


def container_source(run, root, src):
    """The items under container path ``src`` (direction out), read only through ``root`` (a RootDir):
    links and special files inside a copied directory are skipped, since they could lead anywhere."""
    with root.locate(src) as place:
        top, info = place.path, place.lstat()
    if info is None:
        return None
    if stat.S_ISREG(info.st_mode):
        return Source([('', 'file', container_reader(root, top))], True)
    if not stat.S_ISDIR(info.st_mode):
        # A link here was put in place after the walk resolved the path.
        raise in_root.RaceError('%s is %s in container %s: only files and directories are copied out; check '
                                'the container and run again.' % (src, in_root.kind_name(info.st_mode),
                                                                  run.params['container']))
    items = [] if src.endswith('/') else [('', 'dir', None)]
    pending = ['']
    while pending:
        rel_dir = pending.pop(0)
        with root.locate(top + ('/' + rel_dir if rel_dir else ''), follow_last=False) as place:
            entries = place.listing()
        for name, entry in entries:
            rel = os.path.join(rel_dir, name) if rel_dir else name
            if stat.S_ISDIR(entry.st_mode):
                items.append((rel, 'dir', None))
                pending.append(rel)
            elif stat.S_ISREG(entry.st_mode):
                items.append((rel, 'file', container_reader(root, top + '/' + rel)))
            else:
                run.warn('%s is skipped: it is %s, and only files and directories are copied out of a container '
                         '(a link there may point anywhere on the host).'
                         % (os.path.join(src, rel), in_root.kind_name(entry.st_mode)))
    return Source(named_under(items, src), False)


def container_reader(root, path):
    def read():
        with root.locate(path, follow_last=False) as place:
            data, info = place.read()
        return data, stat.S_IMODE(info.st_mode)
    return read


def named_under(items, src):
    """Items of a directory copied with its name (``src`` without a trailing /) go under that name."""
    if src.endswith('/'):
        return items
    base = os.path.basename(src.rstrip('/'))
    return [(os.path.join(base, rel) if rel else base, kind, read) for rel, kind, read in items]


def plan_and_copy(run, source, dest, root, uid, gid):
    """Copy ``source`` to ``dest`` under ``root`` (a RootDir: the container's, or the host's for out)."""
    mode = parse_mode(run.params['mode'])
    if source.single:
        with root.locate(dest) as place:
            into_dir = dest.endswith('/') or place.is_dir()
        if into_dir:
            name = os.path.basename(run.params['src'] or '')
            if not name:
                raise InvalidInput('dest %s is a directory: give the path of the file to write.' % dest)
            dest = os.path.join(dest, name)
    changed, created, diff = [], set(), None
    one_file = len(source.items) == 1 and source.items[0][1] == 'file'
    for rel, kind, read in source.items:
        # No normpath: a '..' in dest must reach the walk, which refuses to climb above the root.
        logical = dest.rstrip('/') + '/' + rel if rel else dest
        with root.locate(logical) as place:
            info = place.lstat()
            parent_known = place.parent_exists() or os.path.dirname(logical) in created
            if kind == 'dir':
                if info is not None and stat.S_ISDIR(info.st_mode):
                    if attributes_differ(info, None, uid, gid):
                        changed.append(logical)
                        run.act('set owner of %s' % logical, place.set_attributes, None, uid, gid)
                    continue
                if info is not None:
                    raise InvalidInput('%s exists and is not a directory: remove it or choose another dest.' % logical)
                if not parent_known:
                    raise InvalidInput('The directory of %s does not exist: create it first.' % logical)
                changed.append(logical)
                created.add(logical)
                run.act('create directory %s' % logical, place.mkdir, uid, gid)
                continue
            data, source_mode = read()
            if not parent_known:
                raise InvalidInput('The directory of %s does not exist: create it first or copy a directory.'
                                   % logical)
            before = None
            if info is not None:
                if stat.S_ISDIR(info.st_mode):
                    raise InvalidInput('%s is a directory: give the path of the file to write.' % logical)
                before, info = place.read()
            if before != data:
                changed.append(logical)
                # As ansible.builtin.copy: a replaced file keeps its mode, owner and group unless they are given.
                kept = (info.st_mode, info.st_uid, info.st_gid) if info is not None else (source_mode, None, None)
                run.act('copy %s' % logical, place.write, data, stat.S_IMODE(kept[0]) if mode is None else mode,
                        kept[1] if uid is None else uid, kept[2] if gid is None else gid)
            elif attributes_differ(info, mode, uid, gid):
                changed.append(logical)
                run.act('set attributes of %s' % logical, place.set_attributes, mode, uid, gid)
        if one_file:
            run.result['checksum'] = cf.data_checksum(data)
            if len(data) <= DIFF_LIMIT and b'\0' not in data and (before is None or b'\0' not in before):
                diff = ((before or b'').decode('utf-8', 'replace'), data.decode('utf-8', 'replace'))
    run.result['files'] = sorted(changed)
    if diff is not None:
        run.set_diff(diff[0], diff[1], dest)
    else:
        run.set_diff(dict(files=[]), dict(files=sorted(changed)), dest)


def attributes_differ(info, mode, uid, gid):
    return ((mode is not None and stat.S_IMODE(info.st_mode) != mode)
            or (uid is not None and info.st_uid != uid) or (gid is not None and info.st_gid != gid))


def converge(run):
    params = run.params
    client = run.client
    into = params['direction'] == 'into'
    for option in ('dest',) + (() if into else ('src',)):
        if params[option] and into == (option == 'dest') and not params[option].startswith('/'):
            raise InvalidInput('The container path %s (option %s) must be absolute.' % (params[option], option))
    if not into and params['content'] is not None:
        raise InvalidInput('content can only be copied into a container: use direction=into.')
    if (params['src'] is None) == (params['content'] is None):
        raise InvalidInput('Give either src or content.' if into else 'Give src, the path in the container.')
    parse_mode(params['mode'])
    source = None
    if into and params['content'] is not None:
        source = cf_content(params)
    elif into:
        source = host_source(params['src'])
        if source is None:
            raise InvalidInput('The source %s does not exist on this host: check src.' % params['src'])
    info = ctrs.container_info(client, params['container'])
    if info is None:
        raise InvalidInput('Container %s does not exist in namespace %s: create it first, for example with '
                           'ctrops.containerd.containerd_container.' % (params['container'], client.namespace))
    task = ctrs.tasks(client).get(params['container'])
    run.result['dest'] = params['dest']
    with cf.container_root(run.module, client, params['container'], info, task,
                           read_only=run.check_mode or not into) as (root_path, via):
        run.result['via'] = via
        # Opened once: a task that ends meanwhile keeps its root reachable through this descriptor.
        with in_root.RootDir(root_path) as root:
            if into:
                uid, gid = cf.ids_from(root, params['owner'], params['group'])
                plan_and_copy(run, source, params['dest'], root, uid, gid)
                return
            source = container_source(run, root, params['src'])
            if source is None:
                raise InvalidInput('The source %s does not exist in container %s: check src.'
                                   % (params['src'], params['container']))
            uid, gid = host_ids(params['owner'], params['group'])
            with in_root.RootDir('/', what='host') as host_root:
                dest = os.path.abspath(params['dest']) + ('/' if params['dest'].endswith('/') else '')
                plan_and_copy(run, source, dest, host_root, uid, gid)


def cf_content(params):
    if params['dest'].endswith('/'):
        raise InvalidInput('dest %s names a directory: give the path of the file to write content to.'
                           % params['dest'])
    data = params['content'].encode('utf-8')
    return Source([('', 'file', lambda: (data, 0o644))], False)


def main():
    run = ModuleRun(dict(
        container=dict(type='str', required=True),
        direction=dict(type='str', default='into', choices=['into', 'out']),
        # str, not path: a container path must not get the host's ~ or variables expanded.
        src=dict(type='str'),
        content=dict(type='str'),
        dest=dict(type='str', required=True),
        mode=dict(type='raw'),
        owner=dict(type='str'),
        group=dict(type='str'),
    ), mutually_exclusive=[('src', 'content')])
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
