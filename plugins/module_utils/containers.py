# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Containers and tasks: the ctr wrappers of that area and the labels this collection keeps.

The wrappers take a ``ContainerdClient`` (the one door to containerd). The
container options (spec, create command, comparison, view) are declared in
``container_options.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import re
import shutil
import tempfile
import time

# namespaces and labels are imported where they are used: only runs that write need them, and a
# no-op run then compiles less (AnsiballZ ships source).
from ansible_collections.ctrops.containerd.plugins.module_utils import parsers
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError, NotFound

# Labels this collection keeps on a container.
SPEC_LABEL = 'ctrops.containerd/spec'            # digest of the options the container was created from
NS_LABEL_PREFIX = 'ctrops.containerd/ns.'        # + network|pid|ipc: the container name (or path) joined
LOG_LABEL = 'ctrops.containerd/log-uri'          # the log URI containerd_task started the task with
SECRET_ENV_LABEL = 'ctrops.containerd/secret-env'  # names (never values) of the variables from secret_env
STACK_LABEL = 'ctrops.containerd/stack'          # the containerd_stack a container belongs to (remove_orphans)
# A recreate that stops a live task records that the task must run again, until it does: on the
# namespace (+ container name) before the old container is deleted, on the new container when it is made.
RESTORE_LABEL = 'ctrops.containerd/restore-task'
RESTORE_NS_PREFIX = 'ctrops.containerd/restore-task.'
# containerd's restart monitor (runtime/restart).
RESTART_STATUS = 'containerd.io/restart.status'
RESTART_POLICY = 'containerd.io/restart.policy'
RESTART_LOGURI = 'containerd.io/restart.loguri'
OWN_LABELS = (SPEC_LABEL, LOG_LABEL, SECRET_ENV_LABEL, RESTORE_LABEL, RESTART_STATUS, RESTART_POLICY, RESTART_LOGURI)

DEFAULT_RUNTIME = 'io.containerd.runc.v2'

# Option name -> the namespace type in the OCI spec and in ctr's --with-ns.
SHARED_NAMESPACES = (('network_from', 'network', 'net'), ('pid_from', 'pid', 'pid'), ('ipc_from', 'ipc', 'ipc'))

# Mounts ctr adds by itself (the OCI defaults, and the host's files with --net-host).
DEFAULT_MOUNTS = ('/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/run', '/sys/fs/cgroup',
                  '/etc/hosts', '/etc/resolv.conf')

# Task states with a live process (it holds its namespaces; it must be stopped before a delete).
LIVE = ('running', 'paused', 'pausing')


# -- parsing (pure: kept here, beside their only users; unit-tested on recorded outputs) ----------

def parse_task_ps(output):
    """Parse ``ctr tasks ps`` (columns PID INFO) into a list of host PIDs."""
    pids = []
    for line in parsers.table_rows(output):
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


def container_info_and_tasks(client, name):
    """``container_info`` and ``tasks`` read side by side (two ctr calls at once)."""
    (info_cmd, rc, out, err), (tasks_cmd, tasks_rc, tasks_out, tasks_err) = client.run_at_once(
        [['containers', 'info', name], ['tasks', 'ls']])
    if rc != 0:
        error = client.error(info_cmd, rc, out, err)
        if not isinstance(error, NotFound):
            raise error
    if tasks_rc != 0:
        raise client.error(tasks_cmd, tasks_rc, tasks_out, tasks_err)
    info = parsers.parse_json(out, 'container %s' % name) if rc == 0 else None
    return info, parsers.parse_tasks(tasks_out)


def list_containers(client):
    return parsers.parse_quiet_list(client.output(['containers', 'ls', '-q']))


def list_containers_matching(client, filters):
    """The names of the containers that match any of ``filters`` (containerd filters; one call)."""
    return parsers.parse_quiet_list(client.output(['containers', 'ls', '-q'] + list(filters)))


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


def image_exists(client, ref):
    return ref in parsers.parse_quiet_list(client.output(['images', 'ls', '-q', 'name==' + ref]))


def missing_image_message(ref):
    return ('Image %s is not in containerd (namespace %%s): pull or import it first, for example with a '
            'ctrops.containerd.containerd_image task (name: %s) before this one.' % (ref, ref))


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


def joins_pinned(kind, value, pinned):
    """Whether a *_from option names a container whose network namespace is pinned (``pinned``: name -> path)."""
    return kind == 'network' and bool(value) and value in pinned


def stale_namespaces(spec, summary, tasks_by_name, pinned=None):
    """Shared namespaces whose path points at a task that is gone (the named container restarted), or not at the
    pinned namespace of the named container."""
    stale = []
    for option, kind, _short in SHARED_NAMESPACES:
        wanted = spec[option]
        if not wanted or wanted.startswith('/'):
            continue
        if joins_pinned(kind, wanted, pinned or {}):
            if summary['namespaces'].get(kind) != pinned[wanted]:
                stale.append(option)
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
    from ansible_collections.ctrops.containerd.plugins.module_utils.labels import label_args
    client.run(['containers', 'label', name] + label_args(labels))


def delete_container(client, name):
    client.run(['containers', 'delete', name])


@contextlib.contextmanager
def env_file(env):
    """A 0600 file of ``NAME=value`` lines in a private (0700) temporary directory, for ctr's --env-file;
    removed with its directory when the block ends, also on failure. Yields None for no variables."""
    if not env:
        yield None
        return
    directory = tempfile.mkdtemp(prefix='ctrops-env-')
    try:
        path = os.path.join(directory, 'env')
        handle = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), 'w')
        with handle:
            for key, value in sorted(env.items()):
                handle.write('%s=%s\n' % (key, value))
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def create_container(client, args_for, secret_env=None, name=None, complete=None):
    """``ctr containers create`` with the arguments ``args_for(env_file_path)`` gives: the secret variables
    reach ctr through a file, never through argv. ``complete(oci_spec)``, when given, returns the spec ctr
    made for container ``name`` completed with what ctr has no flag for, which then replaces it (one more
    read and one API call; a failure there leaves a container whose spec the next run finds different)."""
    with env_file(secret_env) as path:
        client.run(args_for(path))
    if complete:
        client.update_spec(name, complete(container_info(client, name)['Spec']))


def restore_value(status, log_uri=None):
    """A restore record: the wanted task status, and the log URI its task ran with."""
    return '%s,%s' % (status, log_uri) if log_uri else status


def parse_restore(value):
    """(status, log URI or None) of a restore record."""
    status, _sep, log_uri = (value or '').partition(',')
    return status, log_uri or None


def pending_restores(client):
    """{container: wanted task status} recorded on the namespace by a recreate that did not finish."""
    from ansible_collections.ctrops.containerd.plugins.module_utils import namespaces
    labels = namespaces.namespaces(client).get(client.namespace) or {}
    return dict((key[len(RESTORE_NS_PREFIX):], value) for key, value in labels.items()
                if key.startswith(RESTORE_NS_PREFIX))


def record_restore(client, name, status, log_uri=None):
    """Record on the namespace that the task of ``name`` must be ``status`` (None: forget it)."""
    from ansible_collections.ctrops.containerd.plugins.module_utils import namespaces
    value = restore_value(status, log_uri) if status else None
    namespaces.set_labels(client, client.namespace, {RESTORE_NS_PREFIX + name: value})


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


# Reads NAME, a line count and that many lines per variable from stdin (an empty NAME ends the list),
# exports them and execs the command with what is left of stdin. Only shell builtins run (read, export,
# test), so no value reaches an argv; the shell's read takes one byte at a time from a pipe.
SECRET_ENV_SH = ('while IFS= read -r n && [ -n "$n" ]; do IFS= read -r c; v=; i=0; '
                 'while [ "$i" -lt "$c" ]; do IFS= read -r l; if [ "$i" -gt 0 ]; then v="$v\n$l"; else v=$l; fi; '
                 'i=$((i+1)); done; export "$n=$v"; done; unset n c v i l; exec "$@"')


def secret_env_input(env):
    """The stdin block SECRET_ENV_SH reads: per variable its name, its line count and its lines."""
    parts = []
    for key, value in sorted(env.items()):
        lines = value.split('\n')
        parts += [key, str(len(lines))] + lines
    return '\n'.join(parts + ['']) + '\n'


def exec_process(client, name, argv, exec_id, cwd=None, user=None, env=None, stdin=None, secret_env=None):
    """Run ``argv`` in the task of ``name`` (``ctr tasks exec``); return (rc, stdout, stderr) of the process.

    ctr passes the process's exit code and output through; a failure of ctr itself
    (no task, no such executable, ...) is raised as CtrError. ``secret_env`` goes through stdin to
    the container's ``sh`` (SECRET_ENV_SH), ahead of ``stdin``.
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
    if secret_env:
        prefix = ['sh', '-c', SECRET_ENV_SH, 'sh'] + prefix
        stdin = secret_env_input(secret_env) + (stdin or '')
    args += ['--', name] + prefix + list(argv)
    rc, out, err = client.run(args, data=stdin, check=False)
    lines = [line for line in (err or '').splitlines() if line.strip()]
    if rc != 0 and lines and lines[-1].startswith('ctr: '):
        raise client.error(client.command(args), rc, out, err)
    return rc, out, err
