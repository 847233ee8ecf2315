# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The steps that change a container: create, recreate (with the record that restores its task),
restore, remove. container_state.ContainerManager reads and compares, and calls these only when a run
acts; each takes that manager (its run, client, params, listing and what it records).

A file of its own so that a no-op run never compiles it: AnsiballZ ships module_utils as source, which
Python compiles on every run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ctrops.containerd.plugins.module_utils import container_options as options
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import task_logs
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError, NotFound
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.races import act_racing
from ansible_collections.ctrops.containerd.plugins.module_utils.task_state import STARTING_STATES, task_started


def resolve_namespaces(client, spec, tasks_by_name, pinned):
    paths = {}
    for option, kind, _short in ctrs.SHARED_NAMESPACES:
        value = spec[option]
        if ctrs.joins_pinned(kind, value, pinned):
            paths[kind] = pinned[value]  # it outlives the tasks of the container that has it
        elif value and (tasks_by_name.get(value) or {}).get('predicted'):
            # Check mode: a task this run would start first; the path is known only once it runs.
            paths[kind] = '/proc/<pid of %s>/ns/%s' % (value, kind)
        elif value:
            paths[kind] = ctrs.namespace_path(value, kind, tasks_by_name, client.namespace)
    return paths


def stop_and_delete_task(manager, task, labels):
    act = manager.run.act
    if task['status'] in ctrs.LIVE and labels.get(ctrs.RESTART_STATUS) == 'running':
        # Else containerd's restart monitor could start the task again before it is deleted.
        act('set label %s=stopped' % ctrs.RESTART_STATUS, ctrs.set_labels, manager.client, manager.name,
            {ctrs.RESTART_STATUS: 'stopped'})
    if task['status'] in ctrs.LIVE:
        act('stop task %s' % manager.name, ctrs.stop_task, manager.client, manager.name, task,
            manager.params['stop_signal'], manager.params['stop_timeout'])
    act('delete task %s' % manager.name, delete_task_when_stopped, manager)


def delete_task_when_stopped(manager):
    ctrs.wait_status(manager.client, manager.name, ('stopped', 'created', None), timeout=10)
    try:
        ctrs.delete_task(manager.client, manager.name)
    except CtrError as exc:
        if 'not found' not in exc.message:
            raise


def created_as_wanted(manager, spec):
    """After a create that found the container (or its snapshot): whether another run made it as
    wanted; None while it is not recorded yet (its snapshot is prepared first)."""
    info = ctrs.container_info(manager.client, manager.name)
    if info is None:
        return None
    diffs = options.differences(spec, options.parse_container_info(info))
    if diffs:
        raise ModuleError('Container %s was created at the same moment by another run, with another spec '
                          '(%s): run again to recreate it as this task says.'
                          % (manager.name, ', '.join(field for field, _w, _a in diffs[:5])))
    return True


def create(manager, spec, tasks_by_name, old=None, old_task=None):
    """Create (or recreate) the container; restart its task if it was running.

    A recreate of a container with a live task records first, on the namespace, that the task must
    run again, and the new container carries the same record until its task started: a run
    interrupted anywhere in between is repaired by the next one (see restore()). With state=stopped
    the task is not started again: the declared state wins over the record.
    """
    act = manager.run.act
    ns_paths = resolve_namespaces(manager.client, spec, tasks_by_name, manager.listing.pinned)
    if spec['image'] not in manager.listing.images and not ctrs.image_exists(manager.client, spec['image']):
        message = ctrs.missing_image_message(spec['image']) % manager.client.namespace
        if not manager.run.check_mode:
            raise ModuleError(message)
        # A dry run of a play whose earlier task pulls the image only predicted that pull.
        manager.run.warn(message + ' In check mode the create is predicted as if an earlier task had done so.')
    options.check_versions(spec, manager.client.versions, manager.client.executable)
    restart = old_task is not None and old_task['status'] in ctrs.LIVE and manager.state != 'stopped'
    labels = options.managed_labels(spec, manager.params['labels'])
    log_uri = None
    recorded = False
    if old is None:
        pending = ctrs.pending_restores(manager.client).get(manager.name)
        if pending and manager.state == 'stopped':
            act([], ctrs.record_restore, manager.client, manager.name, None)
        elif pending:
            # An earlier recreate removed the container whose task ran: start it again.
            restart = recorded = True
            log_uri = ctrs.parse_restore(pending)[1]
    else:
        log_uri = old['labels'].get(ctrs.LOG_LABEL)
        if restart:
            act([], ctrs.record_restore, manager.client, manager.name, 'running', log_uri)
            recorded = True
    if manager.params['log_path'] and manager.state in STARTING_STATES:
        # The task starts with the log file asked for (containerd_task's label says which it has).
        log_uri = task_logs.log_uri(manager.params['log_path'], manager.params['log_options'])
    if log_uri:
        labels[ctrs.LOG_LABEL] = log_uri
        if spec['restart_policy'] != 'no':
            labels[ctrs.RESTART_LOGURI] = log_uri
    if restart:
        labels[ctrs.RESTORE_LABEL] = ctrs.restore_value('running', log_uri)
    manager.created, manager.labels = True, labels
    removed = []
    try:
        if old is not None:
            if old_task is not None:
                stop_and_delete_task(manager, old_task, old['labels'])
            act_racing(manager.run, 'delete container %s' % manager.name,
                       lambda: ctrs.container_info(manager.client, manager.name) is None,
                       ctrs.delete_container, manager.client, manager.name, errors=(NotFound,))
            removed.append(manager.name)
        act_racing(manager.run, 'create container %s' % manager.name, lambda: created_as_wanted(manager, spec),
                   ctrs.create_container, manager.client,
                   lambda env_file: options.create_args(manager.name, spec, labels, ns_paths, env_file=env_file),
                   spec['secret_env'], manager.name,
                   (lambda oci_spec: options.edit_spec(oci_spec, spec)) if options.spec_edits(spec) else None)
    except ModuleError as exc:
        if removed and not manager.run.check_mode:
            then = ' and starts its task again' if restart else ''
            raise ModuleError('Container %s was removed to be recreated, but creating it again failed: %s '
                              'The next run creates it%s.' % (manager.name, exc.message.rstrip('.') + '.', then),
                              **exc.details())
        raise
    if restart:
        restore(manager, spec, log_uri, recorded)


def restore(manager, spec, log_uri, recorded):
    """Start the task a recreate stopped, then drop the records that asked for it."""
    act = manager.run.act
    manager.restarted = True
    done = {ctrs.RESTORE_LABEL: None}
    if spec['restart_policy'] != 'no':
        # Before the start, as containerd_task does: the restart monitor must not find it running while 'stopped'.
        act('set label %s=running' % ctrs.RESTART_STATUS, ctrs.set_labels, manager.client, manager.name,
            {ctrs.RESTART_STATUS: 'running'})
        done[ctrs.RESTART_STATUS] = 'running'
    try:
        task_logs.ensure_writer(manager.run, log_uri)
        act_racing(manager.run, 'start task %s' % manager.name, lambda: task_started(manager.client, manager.name),
                   ctrs.start_task, manager.client, manager.name, log_uri)
    except ModuleError as exc:
        raise ModuleError('Container %s was recreated, but starting its task again failed: %s The next run '
                          'starts it again.' % (manager.name, exc.message.rstrip('.') + '.'), **exc.details())
    act([], ctrs.set_labels, manager.client, manager.name, {ctrs.RESTORE_LABEL: None})
    if manager.labels is not None:
        manager.labels = dict((k, v) for k, v in dict(manager.labels, **done).items() if v is not None)
    if recorded:
        act([], ctrs.record_restore, manager.client, manager.name, None)


def absent(manager, info, task):
    if info is None:
        if manager.name in ctrs.pending_restores(manager.client):
            # An interrupted recreate removed it: a later create is not to start its task.
            manager.run.act([], ctrs.record_restore, manager.client, manager.name, None)
        return
    if task is not None:
        if task['status'] in ctrs.LIVE and not manager.params['force']:
            raise ModuleError('Container %s has a %s task (pid %d): stop it first '
                              '(ctrops.containerd.containerd_task state=absent) or set force=true '
                              'to stop and delete it with the container.'
                              % (manager.name, task['status'], task['pid']))
        stop_and_delete_task(manager, task, info.get('Labels') or {})
    manager.run.act('delete container %s' % manager.name, ctrs.delete_container, manager.client, manager.name)
    if ctrs.RESTORE_LABEL in (info.get('Labels') or {}):
        # A removed container's task is not to be restored by a later create.
        manager.run.act([], ctrs.record_restore, manager.client, manager.name, None)
