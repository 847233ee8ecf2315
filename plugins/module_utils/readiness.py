# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Readiness and logs of a running task (containerd_container's ``ready`` and ``log_lines``).

A readiness wait polls one probe (a command in the container, a TCP port or an HTTP URL on the
container's address) until it succeeds or the timeout passes; its failure says what the last probe saw
and how the task's log ends. The address comes from the host network (127.0.0.1), the CNI attachment
cni_network cached for the container (or for the container whose network namespace it joins) or the
``host`` the user gives. Only the standard library talks to the service: nothing to install on hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import time

from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError

PROBES = ('exec', 'tcp', 'http')
# The log lines a readiness failure quotes when log_lines asks for none.
FAILURE_LOG_LINES = 10
# Bytes read from the end of a log file for its last lines (a long line is cut, not the read unbounded).
LOG_TAIL_BYTES = 64 * 1024


def argument_spec():
    """The options ``ready`` and ``log_lines`` (a fresh copy), for containerd_container and stack entries."""
    return dict(
        ready=dict(type='dict', options=dict(
            exec=dict(type='list', elements='str'),
            tcp=dict(type='int'),
            http=dict(type='str'),
            port=dict(type='int', default=80),
            status=dict(type='int', default=200),
            host=dict(type='str'),
            cni_cache_dir=dict(type='path', default='/var/lib/cni'),
            interval=dict(type='float', default=1.0),
            timeout=dict(type='float', default=60.0),
            always=dict(type='bool', default=False),
        )),
        log_lines=dict(type='int', default=0),
    )


def probe_kind(ready):
    kinds = [kind for kind in PROBES if ready.get(kind)]
    if not kinds:
        raise InvalidInput('ready needs one probe: exec (a command), tcp (a port) or http (a path or URL).')
    if len(kinds) > 1:
        raise InvalidInput('ready takes one probe, not %s: keep one of them.' % ' and '.join(kinds))
    return kinds[0]


def validate_params(params):
    """Check ``ready`` and ``log_lines`` before any call."""
    if params.get('log_lines') is not None and params['log_lines'] < 0:
        raise InvalidInput('log_lines must be 0 or more lines.')
    ready = params.get('ready')
    if not ready:
        return
    if params['state'] not in ('running', 'restarted'):
        raise InvalidInput('ready waits until a running task answers: it takes state=running or restarted, '
                           'not state=%s.'
                           % params['state'])
    kind = probe_kind(ready)
    for option in ('tcp', 'port'):
        value = ready.get(option) if option == 'tcp' or kind == 'http' else None
        if value is not None and not 0 < value < 65536:
            raise InvalidInput('ready.%s must be a port number from 1 to 65535, not %s.' % (option, value))
    if ready['interval'] <= 0 or ready['timeout'] < 0:
        raise InvalidInput('ready.interval must be more than 0 seconds and ready.timeout 0 or more.')
    if kind == 'http' and not ready['http'].startswith(('/', 'http://', 'https://')):
        raise InvalidInput('ready.http must be a path (/health) or an http:// or https:// URL, not %r.'
                           % ready['http'])


def cni_addresses(cache_dir, container):
    """The IPv4 addresses of ``container``'s CNI attachments, from the result cache cni_network keeps."""
    # Imported here: containerd_container loads this file on every run, the CNI code only for a probe.
    from ansible_collections.ctrops.containerd.plugins.module_utils import cni

    directory = os.path.join(cache_dir, 'results')
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for name in names:
        if ('-%s-' % container) not in name:
            continue
        cached = cni.read_cache(os.path.join(directory, name))
        if cached is None or cached[2].get('containerId') != container:
            continue
        for address in cni.result_addresses(cached[1]):
            ip = address.split('/')[0]
            if ':' not in ip and ip not in found:
                found.append(ip)
    return found


def address(params):
    """The host a tcp or http probe connects to, or InvalidInput when the container has none."""
    ready, name = params['ready'], params['name']
    if ready.get('host'):
        return ready['host']
    if params.get('net_host'):
        return '127.0.0.1'
    joined = params.get('network_from')
    if joined and '/' not in joined:
        found = cni_addresses(ready['cni_cache_dir'], joined)
        if found:
            return found[0]
    found = cni_addresses(ready['cni_cache_dir'], name)
    if found and not joined:
        return found[0]
    raise InvalidInput('Container %s has no address to probe from the host: set net_host, join with network_from '
                       'a container attached with ctrops.containerd.cni_network, give ready.host, or use an exec '
                       'probe.' % name)


def target(params):
    """(kind, what the probe reaches): the command, host:port or URL, checked before the run acts."""
    ready = params['ready']
    kind = probe_kind(ready)
    if kind == 'exec':
        return kind, ' '.join(ready['exec'])
    if kind == 'http' and ready['http'].startswith(('http://', 'https://')):
        return kind, ready['http']
    host = address(params)
    shown = '[%s]' % host if ':' in host else host
    if kind == 'tcp':
        return kind, '%s:%d' % (shown, ready['tcp'])
    return kind, 'http://%s:%d%s' % (shown, ready['port'], ready['http'])


# -- probes: each returns (ready, what it saw) --------------------------------------------------

def _tail(text, limit=200):
    text = ' '.join((text or '').split())
    return text if len(text) <= limit else '...' + text[-limit:]


def probe_exec(client, name, argv, attempt):
    exec_id = 'ctrops-ready-%d-%d' % (os.getpid(), attempt)
    try:
        rc, out, err = ctrs.exec_process(client, name, argv, exec_id)
    except CtrError as exc:
        return False, 'ctr could not run it (%s)' % exc.message.rstrip('.')
    if rc == 0:
        return True, 'exit code 0'
    output = _tail((out or '') + ' ' + (err or ''))
    return False, 'exit code %d%s' % (rc, ' with output "%s"' % output if output else '')


def _host_port(where):
    host, _sep, port = where.rpartition(':')
    return host.strip('[]'), int(port)


def probe_tcp(where, timeout):
    try:
        conn = socket.create_connection(_host_port(where), timeout=timeout)
    except (socket.error, OSError) as exc:
        return False, _socket_reason(exc)
    conn.close()
    return True, 'the port accepted a connection'


def _socket_reason(exc):
    if isinstance(exc, socket.timeout):
        return 'no answer (timed out)'
    return (getattr(exc, 'strerror', None) or str(exc)).lower()


def probe_http(url, expected, timeout):
    import ssl
    from http.client import HTTPConnection, HTTPException, HTTPSConnection
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path or '/'
    if parts.query:
        path += '?' + parts.query
    if parts.scheme == 'https':
        # A readiness probe asks whether the service answers, not whom to trust (as kubelet's probes).
        conn = HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout,
                               context=ssl._create_unverified_context())  # pylint: disable=protected-access
    else:
        conn = HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request('GET', path, headers={'User-Agent': 'ctrops.containerd readiness probe'})
        status = conn.getresponse().status
    except (socket.error, OSError) as exc:
        return False, _socket_reason(exc)
    except HTTPException as exc:
        return False, 'no HTTP answer (%s)' % (type(exc).__name__)
    finally:
        conn.close()
    return status == expected, 'HTTP status %d%s' % (status, '' if status == expected else ' (expected %d)' % expected)


# -- logs --------------------------------------------------------------------------------------

def log_tail(path, lines):
    """The last ``lines`` lines of the log file at ``path`` ([] when it has none or cannot be read); a file
    rotated to ``path.1`` (log_options) gives the lines the newest file is short of."""
    if not path or lines <= 0:
        return []
    data = _file_tail(path, LOG_TAIL_BYTES)
    if data.count(b'\n') <= lines and len(data) < LOG_TAIL_BYTES:
        data = _file_tail(path + '.1', LOG_TAIL_BYTES - len(data)) + data
    return data.decode('utf-8', 'replace').splitlines()[-lines:]


def _file_tail(path, size):
    """Up to ``size`` bytes from the end of a file (none when it cannot be read)."""
    try:
        with open(path, 'rb') as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read()
    except (IOError, OSError):
        return b''


def _log_sentence(path, lines):
    if not path:
        return ' The task logs nowhere (set log_path to see its output here).'
    tail = log_tail(path, lines)
    if not tail:
        return ' Its log %s is empty.' % path
    return ' Its log %s ends: %s' % (path, ' | '.join(_tail(line, 300) for line in tail))


# -- the wait ------------------------------------------------------------------------------------

def wait(run, params, kind, where, pid, log_path):
    """Poll the probe until it succeeds; ModuleError with the last probe's view and the log's end when the
    timeout passes or the task ends first. Returns the ``ready`` result."""
    ready = params['ready']
    name = params['name']
    started = time.time()
    deadline = started + ready['timeout']
    attempt, seen = 0, None
    while True:
        attempt += 1
        left = max(deadline - time.time(), 0.1)
        if kind == 'exec':
            ok, seen = probe_exec(run.client, name, ready['exec'], attempt)
        elif kind == 'tcp':
            ok, seen = probe_tcp(where, min(left, 5.0))
        else:
            ok, seen = probe_http(where, ready['status'], min(left, 5.0))
        waited = round(time.time() - started, 2)
        if ok:
            return dict(probe=kind, target=where, checked=True, ready=True, attempts=attempt, waited=waited,
                        last=seen)
        lines = max(params.get('log_lines') or 0, FAILURE_LOG_LINES)
        if pid and not ctrs.process_alive(pid):
            raise ModuleError('The task of container %s ended before it was ready (%s probe of %s, %d attempts; the '
                              'last saw %s).%s' % (name, kind, where, attempt, seen, _log_sentence(log_path, lines)),
                              ready=dict(probe=kind, target=where, checked=True, ready=False, attempts=attempt,
                                         waited=waited, last=seen))
        if time.time() >= deadline:
            raise ModuleError('Container %s was not ready within %s (ready.timeout): the last %s probe of %s '
                              '(attempt %d) saw %s.%s' % (name, _seconds(ready['timeout']), kind, where, attempt, seen,
                                                          _log_sentence(log_path, lines)),
                              ready=dict(probe=kind, target=where, checked=True, ready=False, attempts=attempt,
                                         waited=waited, last=seen))
        time.sleep(max(min(ready['interval'], deadline - time.time()), 0))


def _seconds(value):
    if float(value) == 1:
        return '1 second'
    return ('%d seconds' % value) if float(value).is_integer() else ('%s seconds' % value)


def not_checked(kind, where, why):
    return dict(probe=kind, target=where, checked=False, ready=None, attempts=0, waited=0, last=why)
