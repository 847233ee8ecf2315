# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Containers and tasks: the ctr wrappers of that area and the spec comparison.

The wrappers take a ``ContainerdClient`` (the one door to containerd); the
comparison functions are pure, so unit tests can feed them recorded
``ctr containers info`` output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import os
import re
import time

from ansible_collections.ctrops.containerd.plugins.module_utils import parsers
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError, NotFound
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import label_args

# Labels this collection keeps on a container.
SPEC_LABEL = 'ctrops.containerd/spec'            # digest of the options the container was created from
NS_LABEL_PREFIX = 'ctrops.containerd/ns.'        # + network|pid|ipc: the container name (or path) joined
LOG_LABEL = 'ctrops.containerd/log-uri'          # the log URI containerd_task started the task with
# containerd's restart monitor (runtime/restart).
RESTART_STATUS = 'containerd.io/restart.status'
RESTART_POLICY = 'containerd.io/restart.policy'
RESTART_LOGURI = 'containerd.io/restart.loguri'
OWN_LABELS = (SPEC_LABEL, LOG_LABEL, RESTART_STATUS, RESTART_POLICY, RESTART_LOGURI)

DEFAULT_RUNTIME = 'io.containerd.runc.v2'

# Option name -> the namespace type in the OCI spec and in ctr's --with-ns.
SHARED_NAMESPACES = (('network_from', 'network', 'net'), ('pid_from', 'pid', 'pid'), ('ipc_from', 'ipc', 'ipc'))

# Mounts ctr adds by itself (the OCI defaults, and the host's files with --net-host).
DEFAULT_MOUNTS = ('/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/run', '/sys/fs/cgroup',
                  '/etc/hosts', '/etc/resolv.conf')

# Task states with a live process (it holds its namespaces; it must be stopped before a delete).
LIVE = ('running', 'paused', 'pausing')


# -- parsing (pure: kept here, beside their only users; unit-tested on recorded outputs) ----------

def _runtime_options(runtime):
    """The runtime options of ``containers info`` as text (the runc binary path shows in it), or None."""
    options = (runtime or {}).get('Options') or {}
    value = options.get('value')
    if not value:
        return None
    try:
        return base64.b64decode(value).decode('utf-8', 'replace')
    except (TypeError, ValueError):
        return str(value)


def parse_container_info(info):
    """Summarise ``ctr containers info`` JSON into the fields the container modules manage.

    The same keys for containerd 1.6 and 2.x; absent settings are None.
    """
    spec = info.get('Spec') or {}
    process = spec.get('process') or {}
    linux = spec.get('linux') or {}
    resources = linux.get('resources') or {}
    namespaces = dict((ns.get('type'), ns.get('path')) for ns in linux.get('namespaces') or [])
    capabilities = (process.get('capabilities') or {}).get('bounding') or []
    user = process.get('user') or {}
    memory = resources.get('memory') or {}
    cpu = resources.get('cpu') or {}
    return dict(
        name=info.get('ID'),
        image=info.get('Image'),
        labels=info.get('Labels') or {},
        runtime=(info.get('Runtime') or {}).get('Name'),
        runtime_options=_runtime_options(info.get('Runtime')),
        snapshotter=info.get('Snapshotter'),
        created=info.get('CreatedAt'),
        command=process.get('args') or [],
        env=process.get('env') or [],
        cwd=process.get('cwd'),
        user=dict(uid=user.get('uid', 0), gid=user.get('gid', 0)),
        hostname=spec.get('hostname') or None,
        tty=bool(process.get('terminal')),
        read_only=bool((spec.get('root') or {}).get('readonly')),
        privileged='CAP_SYS_ADMIN' in capabilities,
        net_host='network' not in namespaces,
        namespaces=dict((kind, path) for kind, path in namespaces.items() if path),
        mounts=[dict(type=m.get('type'), source=m.get('source'), destination=m.get('destination'),
                     options=list(m.get('options') or [])) for m in spec.get('mounts') or []],
        memory_limit=memory.get('limit'),
        cpu_quota=cpu.get('quota'),
        cpu_period=cpu.get('period'),
    )


def parse_task_ps(output):
    """Parse ``ctr tasks ps`` (columns PID INFO) into a list of host PIDs."""
    pids = []
    for line in parsers._table_rows(output):
        field = line.split()[0]
        if field.isdigit():
            pids.append(int(field))
    return pids


_EXIT_RE = re.compile(r'exit(?:ed)? with non-zero exit code (\d+)|exit status (\d+)')


def parse_exit_status(output):
    """The exit code ``ctr tasks delete`` reports (it only says so when non-zero); 0 otherwise."""
    match = _EXIT_RE.search(output or '')
    if not match:
        return 0
    return int(match.group(1) or match.group(2))


# -- reading containers ------------------------------------------------------------------

def container_info(client, name):
    """The parsed ``ctr containers info`` JSON of ``name``, or None when it does not exist."""
    try:
        out = client.output(['containers', 'info', name])
    except NotFound:
        return None
    return parsers.parse_json(out, 'container %s' % name)


def list_containers(client):
    return parsers.parse_quiet_list(client.output(['containers', 'ls', '-q']))


def tasks(client):
    """{container: {pid, status}} of every task in the namespace."""
    return parsers.parse_tasks(client.output(['tasks', 'ls']))


def task_processes(client, name):
    """PIDs of the processes of a task (``ctr tasks ps``)."""
    try:
        out = client.output(['tasks', 'ps', name])
    except NotFound:
        return []
    return parse_task_ps(out)


def create_flags(client):
    """The flags this ctr's ``containers create`` knows (the ctr of 1.6 lacks --user, --hostname,
    --runc-binary, and takes an unknown flag for the image name instead of refusing it)."""
    out = client.output(['containers', 'create', '--help'])
    return set(re.findall(r'(?<![\w-])(--[a-z][a-z-]*)', out))


def image_exists(client, ref):
    return ref in parsers.parse_quiet_list(client.output(['images', 'ls', '-q', 'name==' + ref]))


def missing_image_message(ref):
    return ('Image %s is not in containerd (namespace %%s): pull or import it first, for example with a '
            'ctrops.containerd.containerd_image task (name: %s) before this one.' % (ref, ref))


def container_view(summary):
    """The managed fields of an existing container, as the diff and the result show them."""
    labels = summary['labels']
    env = dict(item.partition('=')[::2] for item in summary['env'])
    mounts = [m for m in summary['mounts'] if m['destination'] not in DEFAULT_MOUNTS]
    view = dict(
        exists=True, image=summary['image'], command=summary['command'], env=env, cwd=summary['cwd'],
        user='%(uid)s:%(gid)s' % summary['user'], hostname=summary['hostname'],
        labels=dict((k, v) for k, v in labels.items()
                    if k not in OWN_LABELS and not k.startswith(NS_LABEL_PREFIX)),
        mounts=mounts, net_host=summary['net_host'], privileged=summary['privileged'],
        read_only=summary['read_only'], runtime=summary['runtime'], snapshotter=summary['snapshotter'],
        memory_limit=summary['memory_limit'], cpu_quota=summary['cpu_quota'], cpu_period=summary['cpu_period'],
        restart_policy=labels.get(RESTART_POLICY) or ('always' if RESTART_STATUS in labels else 'no'),
        created=summary['created'],
    )
    for option, kind, _short in SHARED_NAMESPACES:
        view[option] = labels.get(NS_LABEL_PREFIX + kind) or summary['namespaces'].get(kind)
    return view


# -- the desired spec --------------------------------------------------------------------

def desired_spec(params, image):
    """The options that make up a container, normalised (stable for hashing and diffs)."""
    mounts = []
    for mount in params.get('mounts') or []:
        kind = mount.get('type') or 'bind'
        options = mount.get('options')
        if options is None:
            options = ['rbind', 'rw'] if kind == 'bind' else []
        mounts.append(dict(type=kind, source=mount.get('source') or kind, destination=mount['destination'],
                           options=[str(option) for option in options]))
    spec = dict(
        image=image,
        command=[str(arg) for arg in params['command']] if params.get('command') is not None else None,
        env=dict((str(key), str(value)) for key, value in (params.get('env') or {}).items()),
        cwd=params.get('cwd'),
        user=params.get('user'),
        hostname=params.get('hostname'),
        mounts=mounts,
        net_host=bool(params.get('net_host')),
        privileged=bool(params.get('privileged')),
        read_only=bool(params.get('read_only')),
        runtime=params.get('runtime') or DEFAULT_RUNTIME,
        runtime_binary=params.get('runtime_binary'),
        snapshotter=params.get('snapshotter'),
        memory_limit=params.get('memory_limit'),
        cpu_quota=params.get('cpu_quota'),
        cpu_period=params.get('cpu_period'),
        restart_policy=params.get('restart_policy') or 'no',
    )
    for option, _kind, _short in SHARED_NAMESPACES:
        spec[option] = params.get(option)
    return spec


def spec_digest(spec):
    """A short digest of the desired spec, kept in a label to notice options removed from a playbook."""
    data = json.dumps(spec, sort_keys=True, separators=(',', ':')).encode('utf-8')
    return 'sha256:' + hashlib.sha256(data).hexdigest()[:32]


def namespace_path(value, kind, tasks_by_name, namespace):
    """The path ctr's --with-ns gets for a *_from option: a path as is, a container's task's namespace."""
    if value.startswith('/'):
        return value
    task = tasks_by_name.get(value)
    if not task or task['status'] not in ('running', 'paused') or not task['pid']:
        raise CtrError('Container %s has no running task whose %s namespace could be shared (namespace %s): '
                       'start it first, for example with ctrops.containerd.containerd_task state=running.'
                       % (value, kind, namespace))
    short = dict((k, s) for _o, k, s in SHARED_NAMESPACES)[kind]
    return '/proc/%d/ns/%s' % (task['pid'], short)


def create_args(name, spec, labels, ns_paths):
    """The ``ctr containers create`` arguments for a spec (labels are the complete label set)."""
    args = ['containers', 'create']
    for key, value in sorted(spec['env'].items()):
        args += ['--env', '%s=%s' % (key, value)]
    if spec['cwd']:
        args += ['--cwd', spec['cwd']]
    if spec['user']:
        args += ['--user', spec['user']]
    if spec['hostname']:
        args += ['--hostname', spec['hostname']]
    for key, value in sorted(labels.items()):
        args += ['--label', '%s=%s' % (key, value)]
    for mount in spec['mounts']:
        text = 'type=%s,src=%s,dst=%s' % (mount['type'], mount['source'], mount['destination'])
        if mount['options']:
            text += ',options=' + ':'.join(mount['options'])
        args += ['--mount', text]
    if spec['net_host']:
        args.append('--net-host')
    for _option, kind, _short in SHARED_NAMESPACES:
        if kind in ns_paths:
            args += ['--with-ns', '%s:%s' % (kind, ns_paths[kind])]
    if spec['privileged']:
        args.append('--privileged')
    if spec['read_only']:
        args.append('--read-only')
    if spec['runtime'] != DEFAULT_RUNTIME:
        args += ['--runtime', spec['runtime']]
    if spec['runtime_binary']:
        args += ['--runc-binary', spec['runtime_binary']]
    if spec['snapshotter']:
        args += ['--snapshotter', spec['snapshotter']]
    if spec['memory_limit']:
        args += ['--memory-limit', str(spec['memory_limit'])]
    if spec['cpu_quota'] is not None:
        args += ['--cpu-quota', str(spec['cpu_quota'])]
    if spec['cpu_period'] is not None:
        args += ['--cpu-period', str(spec['cpu_period'])]
    # '--' ends the flags for both ctr generations: the ctr of 1.6 (urfave/cli v1) would
    # otherwise read a command's own flags (sh -c) as its own; 2.x stops at the image anyway.
    args += ['--', spec['image'], name]
    if spec['command'] is not None:
        args += spec['command']
    return args


def managed_labels(spec, user_labels, restart_status='stopped'):
    """The labels a new container gets: the user's, the spec digest, namespace names, restart policy."""
    labels = dict((str(key), str(value)) for key, value in (user_labels or {}).items())
    labels[SPEC_LABEL] = spec_digest(spec)
    for option, kind, _short in SHARED_NAMESPACES:
        if spec[option]:
            labels[NS_LABEL_PREFIX + kind] = spec[option]
    if spec['restart_policy'] != 'no':
        labels[RESTART_STATUS] = restart_status
        labels[RESTART_POLICY] = spec['restart_policy']
    return labels


# -- comparing with what containerd has ------------------------------------------------

def _user_matches(wanted, actual):
    """Compare a numeric ``uid[:gid]`` with the spec's user; names cannot be resolved here (None)."""
    uid, _sep, gid = wanted.partition(':')
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return None
    if actual.get('uid') != int(uid):
        return False
    return not gid or actual.get('gid') == int(gid)


def differences(spec, summary, tasks_by_name=None):
    """What differs between the desired ``spec`` and a container's ``summary``.

    Returns a list of (field, wanted, actual). Only managed fields count; a field
    the user left unset (image default) is not compared.
    """
    diffs = []

    def differ(field, wanted, actual):
        if wanted != actual:
            diffs.append((field, wanted, actual))

    labels = summary['labels']
    differ('image', spec['image'], summary['image'])
    if spec['command'] is not None:
        differ('command', spec['command'], summary['command'])
    env = dict(item.partition('=')[::2] for item in summary['env'])
    for key, value in sorted(spec['env'].items()):
        differ('env.' + key, value, env.get(key))
    if spec['cwd']:
        differ('cwd', spec['cwd'], summary['cwd'])
    if spec['user'] and _user_matches(spec['user'], summary['user']) is False:
        diffs.append(('user', spec['user'], '%(uid)s:%(gid)s' % summary['user']))
    if spec['hostname']:
        differ('hostname', spec['hostname'], summary['hostname'])
    actual_mounts = dict((m['destination'], m) for m in summary['mounts'])
    wanted_destinations = set()
    for mount in spec['mounts']:
        wanted_destinations.add(mount['destination'])
        differ('mounts.' + mount['destination'], mount, actual_mounts.get(mount['destination']))
    for destination, mount in sorted(actual_mounts.items()):
        if destination not in wanted_destinations and destination not in DEFAULT_MOUNTS:
            diffs.append(('mounts.' + destination, None, mount))
    differ('net_host', spec['net_host'], summary['net_host'])
    for option, kind, _short in SHARED_NAMESPACES:
        wanted = spec[option]
        joined = summary['namespaces'].get(kind)
        if not wanted:
            if joined:
                diffs.append((option, None, joined))
            continue
        named = labels.get(NS_LABEL_PREFIX + kind)
        if not joined or named != wanted:
            diffs.append((option, wanted, named or joined))
    differ('privileged', spec['privileged'], summary['privileged'])
    differ('read_only', spec['read_only'], summary['read_only'])
    differ('runtime', spec['runtime'], summary['runtime'])
    if spec['runtime_binary'] and spec['runtime_binary'] not in (summary['runtime_options'] or ''):
        diffs.append(('runtime_binary', spec['runtime_binary'], None))
    if spec['snapshotter']:
        differ('snapshotter', spec['snapshotter'], summary['snapshotter'])
    differ('memory_limit', spec['memory_limit'] or None, summary['memory_limit'])
    if spec['cpu_quota'] is not None or summary['cpu_quota'] not in (None, -1):
        differ('cpu_quota', spec['cpu_quota'], summary['cpu_quota'])
    if spec['cpu_period'] is not None:
        differ('cpu_period', spec['cpu_period'], summary['cpu_period'])
    policy = spec['restart_policy']
    actual_policy = labels.get(RESTART_POLICY) or ('always' if RESTART_STATUS in labels else 'no')
    differ('restart_policy', policy, actual_policy)
    digest = labels.get(SPEC_LABEL)
    if not diffs and digest is not None and digest != spec_digest(spec):
        # Nothing the spec shows differs, but the options did: one was removed from the task.
        diffs.append(('options', spec_digest(spec), digest))
    return diffs


def stale_namespaces(spec, summary, tasks_by_name):
    """Shared namespaces whose path points at a task that is gone (the named container restarted)."""
    stale = []
    for option, kind, _short in SHARED_NAMESPACES:
        wanted = spec[option]
        if not wanted or wanted.startswith('/'):
            continue
        task = tasks_by_name.get(wanted)
        joined = summary['namespaces'].get(kind)
        if task and task['pid'] and joined and not joined.startswith('/proc/%d/' % task['pid']):
            stale.append(option)
    return stale


def missing_labels(current, wanted):
    """The labels to set so that ``current`` holds every label of ``wanted`` (others stay)."""
    return dict((key, value) for key, value in wanted.items() if current.get(key) != value)


def set_labels(client, name, labels):
    client.run(['containers', 'label', name] + label_args(labels))


def delete_container(client, name):
    client.run(['containers', 'delete', name])


# -- tasks -----------------------------------------------------------------------------

def process_alive(pid):
    """Whether a host PID runs (a zombie counts as gone)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            state = handle.read().rpartition(')')[2].split()[0]
    except (IOError, OSError, IndexError):
        return False
    return state not in ('Z', 'X')


def wait_gone(pid, timeout):
    """Poll until ``pid`` is gone; True if it went within ``timeout`` seconds."""
    deadline = time.time() + timeout
    delay = 0.05
    while process_alive(pid):
        if time.time() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    return True


def start_task(client, name, log_uri=None):
    """Start a detached task; stdout/stderr go to ``log_uri`` or /dev/null."""
    args = ['tasks', 'start', '--detach']
    args += ['--log-uri', log_uri] if log_uri else ['--null-io']
    client.run(args + [name])


def delete_task(client, name):
    """Delete a stopped task; returns its exit status when ctr reports one (None otherwise)."""
    _rc, out, err = client.run(['tasks', 'delete', name])
    return parse_exit_status(out + err)


def stop_task(client, name, task, signal='SIGTERM', timeout=10):
    """Stop a running (or paused) task: send ``signal``, wait ``timeout`` s, then SIGKILL.

    Returns 'signal' or 'killed' (how it ended). A paused task is resumed after
    the signal so that it can act on it.
    """
    pid = task['pid']
    try:
        client.run(['tasks', 'kill', '--signal', signal, name])
        if task['status'] == 'paused':
            client.run(['tasks', 'resume', name])
    except NotFound:
        return 'signal'
    if wait_gone(pid, timeout):
        return 'signal'
    client.run(['tasks', 'kill', '--all', '--signal', 'SIGKILL', name], check=False)
    if not wait_gone(pid, 10):
        raise CtrError('The task of container %s (pid %d) did not end 10 seconds after SIGKILL.' % (name, pid))
    return 'killed'


def wait_status(client, name, wanted, timeout=10):
    """Poll ``ctr tasks ls`` until the task reaches ``wanted`` (containerd notes an exit a moment later)."""
    deadline = time.time() + timeout
    while True:
        task = tasks(client).get(name)
        status = task['status'] if task else None
        if status in wanted or time.time() >= deadline:
            return task
        time.sleep(0.1)


def log_uri_for(path):
    return 'file://' + os.path.abspath(path) if path else None


def exec_process(client, name, argv, exec_id, cwd=None, user=None, env=None, stdin=None):
    """Run ``argv`` in the task of ``name`` (``ctr tasks exec``); return (rc, stdout, stderr) of the process.

    ctr passes the process's exit code and output through; a failure of ctr itself
    (no task, no such executable, ...) is raised as CtrError.
    """
    args = ['tasks', 'exec', '--exec-id', exec_id]
    if cwd:
        args += ['--cwd', cwd]
    if user:
        args += ['--user', user]
    prefix = []
    if env:
        # ctr tasks exec has no --env: the container's env(1) sets the variables.
        prefix = ['env'] + ['%s=%s' % (key, value) for key, value in sorted(env.items())]
    args += ['--', name] + prefix + list(argv)
    rc, out, err = client.run(args, data=stdin, check=False)
    lines = [line for line in (err or '').splitlines() if line.strip()]
    if rc != 0 and lines and lines[-1].startswith('ctr: '):
        raise client.error(client.command(args), rc, out, err)
    return rc, out, err
