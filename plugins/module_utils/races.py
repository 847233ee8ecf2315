# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module runs that converge the same object at the same moment.

Two plays (two operators, overlapping AWX jobs, a fleet run plus an ad-hoc fix) may converge one
container, task, image tag or namespace at once: both read "missing", both create, and one create
fails with "already exists". That failure is no failure when what exists now is what was asked for:
``act_racing`` re-reads and compares instead, and the run that lost reports no change of its own.

Multi-step changes of one container (stop, delete, create, start) are not made safe by re-reading
alone (one run could delete the container another run just made): ``object_lock`` serialises the
runs of this collection on one host that converge the same container, so the second run reads what
the first one left.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import hashlib
import os
import time

from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError

# How long a run that lost a race waits for the winner to finish what it began (a snapshot is
# prepared before its container is recorded; a task is created before it is started).
SETTLE_SECONDS = 10

# Lock files live on the host's tmpfs (/run): they are gone after a reboot, as the state they guard.
LOCK_DIR = '/run/ctrops-containerd'


class _Lost(object):
    """What act_racing returns when another run did the work (truthy tests stay simple)."""

    def __repr__(self):
        return 'LOST'


LOST = _Lost()


def act_racing(run, action, holds, func, *args, **kwargs):
    """``run.act(action, func, *args, **kwargs)``, where a failure another run's success explains is none.

    ``holds()`` re-reads and says whether the state ``action`` aims at holds now: True (another run got
    there first: the action is dropped from this run's actions and LOST is returned), None (not known
    yet: the other run is mid-way; asked again for up to SETTLE_SECONDS), False (the original failure
    stands). It may raise a ModuleError of its own to say better what is wrong. ``errors`` (keyword,
    default AlreadyExists) are the failures that may mean a lost race.
    """
    # Imported here: the boot-time namespace restore (netns_restore) runs cni.py, which needs this module's
    # locks, on hosts with no copy of the client.
    from ansible_collections.ctrops.containerd.plugins.module_utils.client import AlreadyExists
    errors = kwargs.pop('errors', (AlreadyExists,))
    try:
        return run.act(action, func, *args, **kwargs)
    except errors:
        deadline = time.time() + SETTLE_SECONDS
        while True:
            verdict = holds()
            if verdict:
                forget(run.actions, action)
                if getattr(run, 'whole', None) is not None:
                    # A RunPart: its action is also in the whole run's list, which makes `changed`.
                    forget(run.whole.actions, action)
                run.lost_races.append(action)
                return LOST
            if verdict is False or time.time() >= deadline:
                raise
            time.sleep(0.2)


def forget(actions, action):
    """Drop the last record of ``action`` (a text or a list of texts) from ``actions``."""
    for text in reversed([action] if isinstance(action, str) else list(action)):
        for index in range(len(actions) - 1, -1, -1):
            if actions[index] == text:
                del actions[index]
                break


def lock_path(client, kind, name, directory=LOCK_DIR):
    """The lock file of one object of one containerd (address and namespace are part of the key)."""
    key = '\0'.join((os.path.realpath(client.socket_path) if client.socket_path else client.address,
                     client.namespace, kind, name))
    return os.path.join(directory, '%s-%s.lock' % (kind, hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]))


@contextlib.contextmanager
def object_lock(run, kind, name, wait, directory=LOCK_DIR):
    """Hold an exclusive lock on one object for the block, waiting at most ``wait`` seconds for it.

    Check mode changes nothing and takes no lock. Where the lock directory cannot be made (a user
    without write access to /run), the run goes on unlocked: act_racing still covers the simple races.
    """
    handle = None if run.check_mode else _open_lock(lock_path(run.client, kind, name, directory), directory)
    if handle is None:
        yield
        return
    try:
        if not lock_exclusive(handle, wait):
            raise ModuleError('Another run has been converging %s %s for more than %d seconds (lock %s): '
                              'wait for it to finish, or raise timeout.' % (kind, name, wait, handle.name))
        yield
    finally:
        handle.close()  # closing the file releases the lock


def lock_exclusive(handle, timeout, poll=0.05):
    """Take an exclusive flock on the open file ``handle`` within ``timeout`` seconds.

    Returns False when another holder kept it that long; closing the file releases the lock.
    """
    import fcntl

    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except (IOError, OSError) as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def _open_lock(path, directory):
    """The lock file opened for appending, or None where it cannot be made."""
    try:
        os.makedirs(directory, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:  # two runs may make it at once
            return None
    try:
        return open(path, 'a')
    except (IOError, OSError):
        return None
