# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a task's output goes: the log URI a task starts with (``log_path``, ``log_options``) and the log
writer program rotated logs need.

containerd never rotates a ``file://`` log. With ``log_options`` the task starts with a ``binary://`` URI
instead: its shim runs the writer below with the task's stdout and stderr on file descriptors 3 and 4 and
waits until the writer closes descriptor 5; the URI's query reaches the writer as ``KEY VALUE`` arguments.
The restart monitor starts tasks again with the same URI (its loguri label), so rotation holds whoever
starts the task. The writer is Python's standard library only, written by the module that first needs it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

from ansible.module_utils.common.text.formatters import human_to_bytes
from ansible.module_utils.six.moves.urllib.parse import parse_qs, quote, urlsplit

from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput

DEFAULT_WRITER = '/var/lib/ctrops-containerd/bin/log-writer'
# Below this a rotation per line or two: a typo, not a wish.
MIN_SIZE = 4096


def argument_spec():
    """``log_options`` (a fresh copy), beside ``log_path`` in containerd_container, containerd_task and stack
    entries."""
    return dict(log_options=dict(type='dict', options=dict(
        max_size=dict(type='str', required=True),
        max_files=dict(type='int', default=1),
        writer_path=dict(type='path', default=DEFAULT_WRITER),
    )))


def validate_params(params, where=''):
    options = params.get('log_options')
    if not options:
        return
    if not params.get('log_path'):
        raise InvalidInput('%slog_options rotate the file given in log_path: set log_path too.' % where)
    _size(options['max_size'], where)
    if options['max_files'] < 1:
        raise InvalidInput('%slog_options.max_files is %d: keep at least 1 file.' % (where, options['max_files']))
    if not os.path.isabs(options['writer_path']):
        raise InvalidInput('%slog_options.writer_path %s is not absolute.' % (where, options['writer_path']))


def _size(text, where=''):
    try:
        size = int(human_to_bytes(str(text).strip().upper().replace('I', ''), default_unit='B'))
    except ValueError:
        size = None
    if size is None or size < MIN_SIZE:
        raise InvalidInput('%slog_options.max_size %r is not a size of at least 4k: write it as 10m, 512k or '
                           'a number of bytes.' % (where, text))
    return size


def log_uri(path, options=None):
    """The URI a task logging to ``path`` starts with (None without a path): the writer's with options."""
    if not path:
        return None
    path = os.path.abspath(path)
    if not options:
        return 'file://' + path
    # A fixed order of the query: the URI is compared with the one a running task was started with.
    return 'binary://%s?path=%s&max_size=%d&max_files=%d' % (
        quote(options['writer_path']), quote(path, safe='/'), _size(options['max_size']), options['max_files'])


def path_of(uri):
    """The log file of a log URI (None for none or for a binary this collection did not start)."""
    if not uri:
        return None
    if uri.startswith('file://'):
        return uri[len('file://'):]
    parts = urlsplit(uri)
    if parts.scheme == 'binary':
        return (parse_qs(parts.query).get('path') or [None])[0]
    return None


def writer_of(uri):
    """The writer program a log URI runs (None for a file:// URI)."""
    if uri and uri.startswith('binary://'):
        return urlsplit(uri).path
    return None


def writer_text():
    # The interpreter running the module is one the host has; -S: the writer needs no site packages.
    return '#!%s -S\n%s' % (sys.executable, WRITER)


def ensure_writer(run, uri):
    """Before a start with ``uri``: the writer program in place, as this collection writes it, 0755."""
    path = writer_of(uri)
    if not path:
        return
    text = writer_text()
    try:
        with open(path) as handle:
            if handle.read() == text and os.stat(path).st_mode & 0o7777 == 0o755:
                return
    except (IOError, OSError):
        pass
    run.act('write log writer %s' % path, _write, path, text)


def _write(path, text):
    from ansible_collections.ctrops.containerd.plugins.module_utils.cni import write_atomic
    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    write_atomic(path, text, mode=0o755)


# The writer. Rotation renames PATH to PATH.1 (and PATH.1 to PATH.2 ...) once PATH reaches max_size,
# keeping max_files files in all (one: PATH is emptied); a file exceeds max_size by one read at most.
WRITER = r'''"""ctrops.containerd's log writer: a task's stdout (fd 3) and stderr (fd 4) into PATH, rotated."""
import errno
import os
import select
import signal
import sys

CHUNK = 65536


def main(argv):
    options = dict(zip(argv[0::2], argv[1::2]))
    path, max_size, max_files = options['path'], int(options['max_size']), int(options['max_files'])
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    log = open_log(path)
    if os.fstat(log).st_size >= max_size:
        log = rotate(log, path, max_files)
    os.close(5)  # the shim starts the task once the writer is ready
    streams = [3, 4]
    while streams:
        if stopping:
            for fd in streams:
                os.set_blocking(fd, False)
        try:
            readable = select.select(streams, [], [], 0.5)[0] if not stopping else list(streams)
        except InterruptedError:
            continue
        for fd in readable:
            try:
                data = os.read(fd, CHUNK)
            except BlockingIOError:
                data = b''
            except OSError as exc:
                if exc.errno != errno.EINTR:
                    data = b''
                else:
                    continue
            if not data:
                streams.remove(fd)
                continue
            os.write(log, data)
            if os.fstat(log).st_size >= max_size:
                log = rotate(log, path, max_files)
    os.close(log)


def open_log(path):
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)


def rotate(log, path, max_files):
    if max_files == 1:
        os.ftruncate(log, 0)
        return log
    os.close(log)
    for index in range(max_files - 1, 0, -1):
        older = path if index == 1 else '%s.%d' % (path, index - 1)
        if os.path.exists(older):
            os.rename(older, '%s.%d' % (path, index))
    return open_log(path)


if __name__ == '__main__':
    main(sys.argv[1:])
'''
