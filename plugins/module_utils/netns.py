# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pinned network namespaces: a container's network that outlives its tasks.

A container with CNI networks joins a network namespace bind-mounted on a file (as ``ip netns add``
and containerd's CRI sandboxes do), and its attachments are made in that namespace. Every task of
the container joins the same namespace through the path in its spec, whoever starts it (this
collection, containerd's restart monitor after an exit or a daemon restart): the interfaces,
addresses, leases and port mappings stay as they are, with no step at task start.

Standard library only (ctypes for unshare(2), mount(2) and umount2(2)).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import errno
import fcntl
import hashlib
import os
import socket
import struct

from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError

DEFAULT_DIR = '/run/netns'
PREFIX = 'ctrops-'
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 2
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = '16sH22x'  # struct ifreq: the name, then ifr_flags in a 24-byte union


class NetnsError(ModuleError):
    """A network namespace that could not be made or removed."""


def pinned_path(directory, address, namespace, name):
    """The file a container's pinned network namespace is mounted on: readable names, and a digest that
    tells containerds (their addresses) apart on one host."""
    digest = hashlib.sha256(('%s\0%s\0%s' % (address, namespace, name)).encode('utf-8')).hexdigest()[:8]
    return os.path.join(directory, '%s%s-%s-%s' % (PREFIX, namespace, name, digest))


def is_pinned(path):
    """Whether ``path`` is a mounted network namespace (nsfs); an unmounted file is not."""
    try:
        return os.stat(path).st_dev == os.stat('/proc/self/ns/net').st_dev
    except OSError:
        return False


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        number = ctypes.get_errno()
        raise OSError(number, '%s: %s' % (what, os.strerror(number)))


def _loopback_up():
    """Bring ``lo`` up in the current network namespace (a new one has it down; runc leaves a joined one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        flags = struct.unpack(IFREQ, fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack(IFREQ, b'lo', 0)))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b'lo', flags | IFF_UP))
    finally:
        sock.close()


def _pin_in_child(path):
    """In a forked child: a new network namespace, its loopback up, bind-mounted on ``path``."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNET), 'unshare')
    _loopback_up()
    _check(libc.mount(b'/proc/self/ns/net', path.encode('utf-8'), None, MS_BIND, None), 'mount')


def create(path):
    """Make a new network namespace pinned on ``path`` (the caller holds the lock that serialises this)."""
    if is_pinned(path):
        return
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o444))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        status = 1
        try:
            os.close(read_end)
            _pin_in_child(path)
            status = 0
        except BaseException as exc:  # pylint: disable=broad-except
            os.write(write_end, str(exc).encode('utf-8', 'replace')[:500])
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        message = os.read(read_end, 1000).decode('utf-8', 'replace')
    finally:
        os.close(read_end)
    _pid, status = os.waitpid(pid, 0)
    if status != 0 or not is_pinned(path):
        _unlink(path)
        raise NetnsError('The network namespace %s could not be made (%s): this needs root (CAP_SYS_ADMIN) on a '
                         'Linux host.' % (path, message or 'exit status %d' % status))


def remove(path):
    """Unmount and remove a pinned namespace (it lives on while a task still holds it); gone is fine."""
    rc = _libc().umount2(path.encode('utf-8'), MNT_DETACH)
    if rc != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        number = ctypes.get_errno()
        raise NetnsError('The network namespace %s could not be unmounted: %s.' % (path, os.strerror(number)))
    _unlink(path)


def _unlink(path):
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
