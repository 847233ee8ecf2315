# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Files inside a container, seen from the host: its root, and paths resolved safely within it.

A container with a live task is reached through /proc/PID/root of the task's init; one without is
reached by mounting its snapshot (``ctr snapshots mounts``) on a private temporary directory, unmounted
on every way out. Paths below that root are only ever opened through in_root.RootDir, which walks them
from a descriptor of the root: the kernel would resolve an absolute link under /proc/PID/root against
the host's root, and a container can swap a directory for such a link at any moment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import hashlib
import os
import shlex
import shutil
import tempfile

from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.in_root import RootDir


def parse_mount_command(text):
    """(type, source, options) of the ``mount -t TYPE SOURCE TARGET -o OPTIONS`` line ctr snapshots mounts prints."""
    for line in (text or '').splitlines():
        words = shlex.split(line)
        if not words or words[0] != 'mount':
            continue
        kind, options, rest = None, '', []
        i = 1
        while i < len(words):
            if words[i] == '-t':
                kind, i = words[i + 1], i + 2
            elif words[i] == '-o':
                options, i = words[i + 1], i + 2
            else:
                rest.append(words[i])
                i += 1
        if rest:
            return kind, rest[0], options
    return None


def live_pid(task):
    """The init PID of a task whose root can be reached through /proc (running, paused or created)."""
    if task and task['status'] in ctrs.LIVE + ('created',) and task['pid'] and ctrs.process_alive(task['pid']):
        return task['pid']
    return None


@contextlib.contextmanager
def container_root(module, client, name, info, task, read_only=False):
    """Yields (host path of the container's root, how it was reached); a snapshot mount is undone on exit."""
    pid = live_pid(task)
    if pid:
        yield '/proc/%d/root' % pid, 'task'
        return
    key, snapshotter = info.get('SnapshotKey'), info.get('Snapshotter')
    if not key:
        raise ModuleError('Container %s has no snapshot (it was created without a root file system): there is '
                          'nothing to copy to or from.' % name)
    target = tempfile.mkdtemp(prefix='ctrops-copy-')
    mounted = False
    try:
        os.chmod(target, 0o700)
        args = ['snapshots'] + (['--snapshotter', snapshotter] if snapshotter else []) + ['mounts', target, key]
        parsed = parse_mount_command(client.output(args))
        if parsed is None:
            raise ModuleError('ctr printed no mount for the snapshot %s of container %s.' % (key, name))
        kind, source, options = parsed
        if read_only:
            options = ','.join([o for o in options.split(',') if o] + ['ro'])
        cmd = [module.get_bin_path('mount', required=True, opt_dirs=['/usr/bin', '/bin'])]
        cmd += (['-t', kind] if kind else []) + [source, target] + (['-o', options] if options else [])
        rc, _out, err = module.run_command(cmd)
        if rc != 0:
            raise ModuleError('Could not mount the snapshot of container %s: %s' % (name, err.strip()))
        mounted = True
        yield target, 'snapshot'
    finally:
        if mounted:
            umount = module.get_bin_path('umount', required=True, opt_dirs=['/usr/bin', '/bin'])
            module.run_command([umount, target], check_rc=True)
        if not os.path.ismount(target):
            # Never rmtree a directory that is still a mount: it would delete the container's files.
            shutil.rmtree(target, ignore_errors=True)


def data_checksum(data):
    return hashlib.sha1(data).hexdigest()


def ids_from(root, owner, group):
    """(uid, gid) from names or numbers; names are looked up in the container's /etc/passwd and /etc/group
    (``root`` an in_root.RootDir)."""
    return _lookup(root, '/etc/passwd', owner, 'owner'), _lookup(root, '/etc/group', group, 'group')


def _lookup(root, table, value, option):
    if value is None:
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        for line in root.read(table).decode('utf-8', 'replace').splitlines():
            fields = line.strip().split(':')
            if len(fields) > 2 and fields[0] == text and fields[2].isdigit():
                return int(fields[2])
    except (IOError, OSError, ModuleError):
        pass
    raise InvalidInput('The %s %s is not in the container\'s %s: give a name it knows or a number.'
                       % (option, text, table))


def exec_user(root_path, user):
    """``uid:gid`` for ctr's ``--user`` from what a user writes (name, UID, ``user:group`` of either), looked
    up under ``root_path`` (a task's /proc/PID/root).

    Given a name or a bare UID, ctr looks it up itself by mounting the container's snapshot a second time;
    before containerd 2.0 that mount shares the running container's overlay upper directory and the
    container's root filesystem then refuses new files (seen with 1.6). Numeric ``uid:gid`` needs no mount.
    A UID without an entry runs with GID 0, as ctr would run it. None when the root cannot be read (a
    caller that may not look into the container's processes): ctr then looks the user up itself.
    """
    name, _colon, group = str(user).partition(':')
    try:
        root = RootDir(root_path)
    except (IOError, OSError) as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            return None
        raise
    with root:
        entry = None
        try:
            for line in root.read('/etc/passwd').decode('utf-8', 'replace').splitlines():
                fields = line.strip().split(':')
                if len(fields) > 3 and name in (fields[0], fields[2]) and fields[2].isdigit() and fields[3].isdigit():
                    entry = int(fields[2]), int(fields[3])
                    break
        except (IOError, OSError) as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                return None
        except ModuleError:
            pass  # not a regular file there: no entries
        if entry is None and not name.isdigit():
            raise InvalidInput('The user %s is not in the container\'s /etc/passwd: give a name it knows or a number.'
                               % name)
        uid = entry[0] if entry else int(name)
        gid = _lookup(root, '/etc/group', group, 'group') if group else (entry[1] if entry else 0)
        return '%d:%d' % (uid, gid)


def numeric_user(user):
    """True for ``uid:gid``, which ctr takes as it is."""
    uid, colon, gid = str(user).partition(':')
    return bool(colon) and uid.isdigit() and gid.isdigit()
