# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Paths inside a container's root, opened from the host without ever leaving that root.

A container's processes can change its files while the host works on them: a directory swapped for a
symbolic link to a host directory between the moment the host resolves a path and the moment it opens it
would redirect a host-side write or read to the host (the ``docker cp`` race, CVE-2018-15664). So nothing
here opens a path string below the root. The walk starts at a descriptor of the root and opens one
component at a time with ``O_NOFOLLOW`` relative to the directory before it; a symbolic link is read with
``readlink`` and resolved by the walk itself, as the container sees it (an absolute target starts again at
the root; ``..`` is taken from the walk's own stack of directories, never ``openat('..')``, which at the
root would climb into the host). Files are opened, created (``O_EXCL``, a temporary name, then a rename
within the same directory descriptor), changed (``fchmod``/``fchown``) through descriptors only. A component
swapped while the walk runs costs a retry or ends in one sentence; it never moves the walk outside the root.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import os
import stat

from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError

MAX_LINKS = 40  # as the kernel's MAXSYMLINKS
MAX_RETRIES = 40  # a component that keeps changing between two looks at it
O_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | O_CLOEXEC
# O_NONBLOCK: opening a FIFO a container planted must not hang the module.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | O_CLOEXEC
TEMP_PREFIX = '.ctrops-copy-'


class EscapeError(InvalidInput):
    """A path that would lead above the root."""


class RaceError(ModuleError):
    """A path that changed under the walk (a component swapped for a link or another kind of file)."""


def components(path):
    return [part for part in path.split('/') if part not in ('', '.')]


class Place(object):
    """A name in a directory of the root: the directory's descriptor (None when the directory does not
    exist) and the name in it. Close it (or use it in a ``with``) when done."""

    def __init__(self, root, parent, name, path):
        self.root = root
        self.parent = parent
        self.name = name
        self.path = path  # the container path it resolved to, for messages

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.parent is not None and self.parent != self.root.fd:
            os.close(self.parent)
        self.parent = None

    def lstat(self):
        """The file's own stat (a link is not followed), or None when it or its directory does not exist."""
        if self.parent is None:
            return None
        try:
            return os.stat(self.name, dir_fd=self.parent, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise

    def is_dir(self):
        info = self.lstat()
        return info is not None and stat.S_ISDIR(info.st_mode)

    def parent_exists(self):
        return self.parent is not None

    def open(self, kinds=(stat.S_ISREG,), flags=FILE_FLAGS):
        """A descriptor of the file if it is of one of ``kinds``; RaceError for a link (swapped in after
        the walk) or a file of another kind."""
        if self.parent is None:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), self.path)
        try:
            # O_PATH first: nothing is opened for real (no device, no FIFO) before its kind is known.
            probe = os.open(self.name, os.O_PATH | os.O_NOFOLLOW | O_CLOEXEC, dir_fd=self.parent)
        except OSError as exc:
            raise self._race_or(exc)
        try:
            mode = os.fstat(probe).st_mode
            if not any(kind(mode) for kind in kinds):
                raise RaceError('%s is %s, not a %s: nothing was done there; remove it or choose another path.'
                                % (self.path, kind_name(mode), ' or '.join(KIND_NAMES[k] for k in kinds)))
            # Reopening through the descriptor opens the same file, whatever its name points to by now.
            return os.open('/proc/self/fd/%d' % probe, flags & ~os.O_NOFOLLOW)
        finally:
            os.close(probe)

    def read(self):
        """The file's bytes and its stat."""
        fd = self.open()
        try:
            info = os.fstat(fd)
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            return b''.join(chunks), info
        finally:
            os.close(fd)

    def write(self, data, mode, uid, gid):
        """Replace the file with ``data`` atomically: a new file under a temporary name in the same
        directory, then a rename over the name (which replaces a link there rather than following it)."""
        self._need_parent()
        temp = None
        for _attempt in range(10):
            candidate = TEMP_PREFIX + binascii.hexlify(os.urandom(6)).decode('ascii')
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | O_CLOEXEC, 0o600,
                             dir_fd=self.parent)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    continue
                raise self._race_or(exc)
            temp = candidate
            break
        if temp is None:
            raise ModuleError('Could not create a temporary file beside %s.' % self.path)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                set_attributes(fd, mode, uid, gid)
            finally:
                os.close(fd)
            try:
                os.rename(temp, self.name, src_dir_fd=self.parent, dst_dir_fd=self.parent)
            except OSError as exc:
                raise self._race_or(exc)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=self.parent)
            except OSError:
                pass
            raise

    def mkdir(self, uid, gid):
        self._need_parent()
        try:
            os.mkdir(self.name, 0o755, dir_fd=self.parent)
        except OSError as exc:
            raise self._race_or(exc)
        if uid is not None or gid is not None:
            self.set_attributes(None, uid, gid)

    def set_attributes(self, mode, uid, gid):
        fd = self.open(kinds=(stat.S_ISREG, stat.S_ISDIR))
        try:
            set_attributes(fd, mode, uid, gid)
        finally:
            os.close(fd)

    def listing(self):
        """[(name, lstat)] of the directory, sorted by name."""
        fd = self.open(kinds=(stat.S_ISDIR,), flags=DIR_FLAGS)
        try:
            entries = []
            for name in sorted(os.listdir(fd)):
                try:
                    entries.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        raise
            return entries
        finally:
            os.close(fd)

    def _need_parent(self):
        if self.parent is None:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), os.path.dirname(self.path) or '/')

    def _race_or(self, exc):
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EISDIR):
            return RaceError('%s changed while it was being copied (a link or a directory was put in its place): '
                             'nothing was written there; check the container and run again.' % self.path)
        # The error names the path as the container sees it, not the bare name in its directory.
        return OSError(exc.errno, exc.strerror, self.path)


KIND_NAMES = {stat.S_ISREG: 'regular file', stat.S_ISDIR: 'directory'}


def kind_name(mode):
    for test, name in ((stat.S_ISLNK, 'a symbolic link'), (stat.S_ISDIR, 'a directory'),
                       (stat.S_ISREG, 'a regular file'), (stat.S_ISFIFO, 'a FIFO'), (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device')):
        if test(mode):
            return name
    return 'a special file'


def set_attributes(fd, mode, uid, gid):
    if uid is not None or gid is not None:
        os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
    if mode is not None:
        # After fchown, which clears set-user-ID and set-group-ID bits.
        os.fchmod(fd, mode)


class RootDir(object):
    """A directory that paths are resolved in as in a chroot: a container's root (``/proc/PID/root`` or
    its mounted snapshot), or the host's ``/``. ``hook(path, name)``, for tests, runs before each step
    of a walk."""

    def __init__(self, root, what='container', hook=None):
        self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | O_CLOEXEC)
        self.what = what  # whose root, for messages: container or host
        self.hook = hook

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def locate(self, path, follow_last=True):
        """The Place of ``path`` (absolute, as seen from the root): every link on the way resolved inside
        the root, the last one too unless ``follow_last`` is false. A ``..`` above the root is refused."""
        if not path.startswith('/'):
            raise InvalidInput('The %s path %s must be absolute.' % (self.what, path))
        pending = components(path)
        if not pending:
            raise InvalidInput('%s is the root itself: give a path below it.' % path)
        stack = []  # [(descriptor, name)] of the directories the walk stands in, below the root
        links = retries = 0
        try:
            while True:
                part = pending.pop(0)
                here = stack[-1][0] if stack else self.fd
                if part == '..':
                    if not stack:
                        raise EscapeError('The %s path %s leads outside the %s\'s root: give a path inside the %s.'
                                          % (self.what, path, self.what, self.what))
                    os.close(stack.pop()[0])
                    if not pending:
                        # The place of a directory is its name in its parent.
                        if not stack:
                            raise InvalidInput('%s is the root itself: give a path below it.' % path)
                        name = stack.pop()
                        os.close(name[0])
                        pending = [name[1]]
                    continue
                if self.hook:
                    self.hook(self._logical(stack), part)
                if not pending:
                    target = self._link_target(here, part) if follow_last else None
                    if target is None:
                        place = Place(self, here, part, self._logical(stack, part))
                        if stack:
                            stack.pop()  # the place owns its parent's descriptor now
                        return place
                else:
                    try:
                        stack.append((os.open(part, DIR_FLAGS, dir_fd=here), part))
                        continue
                    except OSError as exc:
                        if exc.errno == errno.ENOENT:
                            return self._missing(stack, [part] + pending)
                        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                            raise
                    target = self._link_target(here, part)
                    if target is None:
                        info = self._lstat(here, part)
                        if info is None or not stat.S_ISDIR(info.st_mode):
                            return self._missing(stack, [part] + pending)  # a file where a directory should be
                        # A directory again by now: look once more.
                        retries += 1
                        if retries > MAX_RETRIES:
                            raise RaceError('The path %s keeps changing while it is resolved: check the container '
                                            'and run again.' % path)
                        pending.insert(0, part)
                        continue
                links += 1
                if links > MAX_LINKS:
                    raise ModuleError('The path %s has too many levels of symbolic links.' % path)
                if target.startswith('/'):
                    while stack:
                        os.close(stack.pop()[0])
                pending = components(target) + pending
                if not pending:  # a link to the root itself
                    raise InvalidInput('%s leads to the root itself: give a path below it.' % path)
        finally:
            for fd, _name in stack:
                os.close(fd)

    def _missing(self, stack, rest):
        """The place of a path whose directory does not exist (from ``rest`` on)."""
        return Place(self, None, rest[-1], self._logical(stack, *rest))

    @staticmethod
    def _logical(stack, *more):
        return '/' + '/'.join([name for _fd, name in stack] + list(more))

    @staticmethod
    def _lstat(here, name):
        try:
            return os.stat(name, dir_fd=here, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise

    @staticmethod
    def _link_target(here, name):
        """The target of ``name`` if it is a symbolic link, else None."""
        try:
            return os.readlink(name, dir_fd=here)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
                return None
            raise

    def read(self, path):
        """The bytes of the file at ``path`` (links followed inside the root)."""
        with self.locate(path) as place:
            return place.read()[0]
