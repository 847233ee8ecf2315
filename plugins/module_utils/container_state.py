# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converging one container (its spec) and, with a task state, its task.

containerd_container (one container per run) and containerd_stack (many, in one run) share it:
``converge_container(run, params, listing)`` takes a run (a ModuleRun, or a RunPart of a stack), the
options of one container and a ``Listing``, what the run reads of the namespace's containers and tasks
(read once and shared by the containers a run converges, read again after a change).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ctrops.containerd.plugins.module_utils import container_options as options
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import readiness
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError, NotFound
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.races import act_racing, object_lock
from ansible_collections.ctrops.containerd.plugins.module_utils.task_state import TaskStates, task_started

# The states that also bring the container's task to a state (present: the container only).
TASK_STATES = ('running', 'paused', 'stopped')
STATES = ('present', 'absent') + TASK_STATES


def argument_spec():
    """The options of one container: the option table's plus its state and how it is reached (a fresh copy).
    containerd_container's options, and each entry of containerd_stack's containers."""
    spec = options.argument_spec()
    spec.update(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=list(STATES)),
        recreate=dict(type='bool', default=True),
        force=dict(type='bool', default=False),
        log_path=dict(type='path'),
    )
    spec.update(readiness.argument_spec())
    return spec


class Listing:
    """What a run reads of one namespace's containers and tasks: each container's info and the task list,
    read once when first asked and shared by every container the run converges. A change makes the
    changed container's info and the task list be read again (a started task has a new PID that
    containers sharing its namespaces need); check mode records the task it predicts instead."""

    def __init__(self, client):
        self.client = client
        self._infos = {}
        self._tasks = None
        self.restarted = set()  # containers whose task this run started (their namespaces are new)
        self.images = set()     # images this run pulled or imported (check mode: would have)

    def info(self, name):
        if name not in self._infos:
            self._infos[name] = ctrs.container_info(self.client, name)
        return self._infos[name]

    def tasks(self):
        if self._tasks is None:
            self._tasks = ctrs.tasks(self.client)
        return self._tasks

    def changed(self, name):
        self._infos.pop(name, None)
        self._tasks = None

    def predict(self, name, task):
        """Check mode: the task ``name`` would have (a task marked predicted has no PID yet)."""
        tasks = dict(self.tasks())
        if task is None:
            tasks.pop(name, None)
        else:
            tasks[name] = dict(task, predicted=True)
        self._tasks = tasks


def validate_params(params):
    """Check the options before any call."""
    validate.identifier(params['name'], 'name', 'container name')
    if params['state'] != 'absent':
        options.validate_params(params)
    if params['log_path'] and params['state'] not in ('running', 'paused'):
        raise InvalidInput('log_path is where a task this module starts writes its output: it takes '
                           'state=running or state=paused, not state=%s.' % params['state'])
    validate.existing_parent(params['log_path'], 'log_path')
    readiness.validate_params(params)


def resolve_namespaces(client, spec, tasks_by_name):
    paths = {}
    for option, kind, _short in ctrs.SHARED_NAMESPACES:
        value = spec[option]
        if value and (tasks_by_name.get(value) or {}).get('predicted'):
            # Check mode: a task this run would start first; the path is known only once it runs.
            paths[kind] = '/proc/<pid of %s>/ns/%s' % (value, kind)
        elif value:
            paths[kind] = ctrs.namespace_path(value, kind, tasks_by_name, client.namespace)
    return paths


class ContainerManager:
    def __init__(self, run, params, listing):
        self.run = run
        self.client = run.client
        self.params = params
        self.listing = listing
        self.name = params['name']
        self.state = params['state']
        self.created = False    # whether create() ran (a create, a recreate or a repair)
        self.restarted = False  # whether a task is started again (after a recreate, or its repair)
        self.labels = None      # the labels of the container create() made (check mode predicts with them)

    def stop_and_delete_task(self, task, labels):
        act = self.run.act
        if task['status'] in ctrs.LIVE and labels.get(ctrs.RESTART_STATUS) == 'running':
            # Else containerd's restart monitor could start the task again before it is deleted.
            act('set label %s=stopped' % ctrs.RESTART_STATUS, ctrs.set_labels, self.client, self.name,
                {ctrs.RESTART_STATUS: 'stopped'})
        if task['status'] in ctrs.LIVE:
            act('stop task %s' % self.name, ctrs.stop_task, self.client, self.name, task,
                self.params['stop_signal'], self.params['stop_timeout'])
        act('delete task %s' % self.name, self.delete_task_when_stopped)

    def delete_task_when_stopped(self):
        ctrs.wait_status(self.client, self.name, ('stopped', 'created', None), timeout=10)
        try:
            ctrs.delete_task(self.client, self.name)
        except CtrError as exc:
            if 'not found' not in exc.message:
                raise

    def created_as_wanted(self, spec):
        """After a create that found the container (or its snapshot): whether another run made it as
        wanted; None while it is not recorded yet (its snapshot is prepared first)."""
        info = ctrs.container_info(self.client, self.name)
        if info is None:
            return None
        diffs = options.differences(spec, options.parse_container_info(info))
        if diffs:
            raise ModuleError('Container %s was created at the same moment by another run, with another spec '
                              '(%s): run again to recreate it as this task says.'
                              % (self.name, ', '.join(field for field, _w, _a in diffs[:5])))
        return True

    def create(self, spec, tasks_by_name, old=None, old_task=None):
        """Create (or recreate) the container; restart its task if it was running.

        A recreate of a container with a live task records first, on the namespace, that the task must
        run again, and the new container carries the same record until its task started: a run
        interrupted anywhere in between is repaired by the next one (see restore()). With state=stopped
        the task is not started again: the declared state wins over the record.
        """
        act = self.run.act
        ns_paths = resolve_namespaces(self.client, spec, tasks_by_name)
        if spec['image'] not in self.listing.images and not ctrs.image_exists(self.client, spec['image']):
            message = ctrs.missing_image_message(spec['image']) % self.client.namespace
            if not self.run.check_mode:
                raise ModuleError(message)
            # A dry run of a play whose earlier task pulls the image only predicted that pull.
            self.run.warn(message + ' In check mode the create is predicted as if an earlier task had done so.')
        options.check_versions(spec, self.client.versions, self.client.executable)
        restart = old_task is not None and old_task['status'] in ctrs.LIVE and self.state != 'stopped'
        labels = options.managed_labels(spec, self.params['labels'])
        log_uri = None
        recorded = False
        if old is None:
            pending = ctrs.pending_restores(self.client).get(self.name)
            if pending and self.state == 'stopped':
                act([], ctrs.record_restore, self.client, self.name, None)
            elif pending:
                # An earlier recreate removed the container whose task ran: start it again.
                restart = recorded = True
                log_uri = ctrs.parse_restore(pending)[1]
        else:
            log_uri = old['labels'].get(ctrs.LOG_LABEL)
            if restart:
                act([], ctrs.record_restore, self.client, self.name, 'running', log_uri)
                recorded = True
        if self.params['log_path'] and self.state in ('running', 'paused'):
            # The task starts with the log file asked for (containerd_task's label says which it has).
            log_uri = ctrs.log_uri_for(self.params['log_path'])
        if log_uri:
            labels[ctrs.LOG_LABEL] = log_uri
            if spec['restart_policy'] != 'no':
                labels[ctrs.RESTART_LOGURI] = log_uri
        if restart:
            labels[ctrs.RESTORE_LABEL] = ctrs.restore_value('running', log_uri)
        self.created, self.labels = True, labels
        removed = []
        try:
            if old is not None:
                if old_task is not None:
                    self.stop_and_delete_task(old_task, old['labels'])
                act_racing(self.run, 'delete container %s' % self.name,
                           lambda: ctrs.container_info(self.client, self.name) is None,
                           ctrs.delete_container, self.client, self.name, errors=(NotFound,))
                removed.append(self.name)
            act_racing(self.run, 'create container %s' % self.name, lambda: self.created_as_wanted(spec),
                       ctrs.create_container, self.client,
                       lambda env_file: options.create_args(self.name, spec, labels, ns_paths, env_file=env_file),
                       spec['secret_env'])
        except ModuleError as exc:
            if removed and not self.run.check_mode:
                then = ' and starts its task again' if restart else ''
                raise ModuleError('Container %s was removed to be recreated, but creating it again failed: %s '
                                  'The next run creates it%s.' % (self.name, exc.message.rstrip('.') + '.', then),
                                  **exc.details())
            raise
        if restart:
            self.restore(spec, log_uri, recorded)

    def restore(self, spec, log_uri, recorded):
        """Start the task a recreate stopped, then drop the records that asked for it."""
        act = self.run.act
        self.restarted = True
        try:
            act_racing(self.run, 'start task %s' % self.name, lambda: task_started(self.client, self.name),
                       ctrs.start_task, self.client, self.name, log_uri)
        except ModuleError as exc:
            raise ModuleError('Container %s was recreated, but starting its task again failed: %s The next run '
                              'starts it again.' % (self.name, exc.message.rstrip('.') + '.'), **exc.details())
        done = {ctrs.RESTORE_LABEL: None}
        if spec['restart_policy'] != 'no':
            done[ctrs.RESTART_STATUS] = 'running'
            act('set label %s=running' % ctrs.RESTART_STATUS)
        act([], ctrs.set_labels, self.client, self.name, done)
        if self.labels is not None:
            self.labels = dict((k, v) for k, v in dict(self.labels, **done).items() if v is not None)
        if recorded:
            act([], ctrs.record_restore, self.client, self.name, None)

    def present(self, info, tasks_by_name):
        spec = options.desired_spec(self.params)
        task = tasks_by_name.get(self.name)
        if info is None:
            self.create(spec, tasks_by_name)
            return spec
        summary = options.parse_container_info(info)
        diffs = options.differences(spec, summary)
        running = task is not None and task['status'] in ctrs.LIVE
        restore = summary['labels'].get(ctrs.RESTORE_LABEL)
        if not diffs and restore and not running:
            # A recreate was interrupted after the container was made, before its task started.
            if task is not None:
                self.run.act('delete task %s' % self.name, self.delete_task_when_stopped)
            self.labels = dict(summary['labels'])
            self.restore(spec, ctrs.parse_restore(restore)[1], True)
            return spec
        rejoin = [option for option, _kind, _s in ctrs.SHARED_NAMESPACES if spec[option] in self.listing.restarted]
        if not diffs and (not running or rejoin):
            # A path to a task that is gone matters while this container has no task of its own holding
            # it; a task this run (re)started (a stack's other container) gives a new namespace to join.
            stale = set(ctrs.stale_namespaces(spec, summary, tasks_by_name) if not running else []) | set(rejoin)
            diffs = [(option, 'current namespace of %s' % spec[option], summary['namespaces'].get(kind))
                     for option, kind, _s in ctrs.SHARED_NAMESPACES if option in stale]
        if diffs:
            self.run.result['differences'] = [field for field, _w, _a in diffs]
            if not self.params['recreate']:
                detail = '; '.join('%s: wanted %r, found %r' % (field, wanted, actual)
                                   for field, wanted, actual in diffs[:5])
                raise ModuleError('Container %s exists with another spec (%s) and recreate=false: remove '
                                  'it first or set recreate=true.' % (self.name, detail),
                                  differences=self.run.result['differences'])
            self.create(spec, tasks_by_name, old=summary, old_task=task)
            return spec
        wanted = dict((str(k), str(v)) for k, v in (self.params['labels'] or {}).items())
        changes = ctrs.missing_labels(summary['labels'], wanted)
        if changes:
            self.run.act('set labels %s' % ', '.join(sorted(changes)), ctrs.set_labels, self.client, self.name,
                         changes)
            self.labels = dict(summary['labels'], **changes)
        return spec

    def absent(self, info, task):
        if info is None:
            if self.name in ctrs.pending_restores(self.client):
                # An interrupted recreate removed it: a later create is not to start its task.
                self.run.act([], ctrs.record_restore, self.client, self.name, None)
            return
        if task is not None:
            if task['status'] in ctrs.LIVE and not self.params['force']:
                raise ModuleError('Container %s has a %s task (pid %d): stop it first '
                                  '(ctrops.containerd.containerd_task state=absent) or set force=true '
                                  'to stop and delete it with the container.'
                                  % (self.name, task['status'], task['pid']))
            self.stop_and_delete_task(task, info.get('Labels') or {})
        self.run.act('delete container %s' % self.name, ctrs.delete_container, self.client, self.name)
        if ctrs.RESTORE_LABEL in (info.get('Labels') or {}):
            # A removed container's task is not to be restored by a later create.
            self.run.act([], ctrs.record_restore, self.client, self.name, None)


def converge_container(run, params, listing):
    """Converge the container ``params`` describe (its options as containerd_container takes them).

    ``run`` is a ModuleRun or a RunPart: its result gets ``container`` (the view after the run), ``task``
    with a task state, and ``differences`` when it was recreated; its diff the container before and after.
    """
    validate_params(params)
    # What a readiness probe reaches is known before the run acts: a container without an address fails first.
    probe = readiness.target(params) if params.get('ready') else None
    # Runs of this collection on one container (containerd_task's too) go one after the other on a host:
    # a recreate is several steps that another run must not interleave with.
    wait = run.client.timeout + params['stop_timeout'] + 30
    with object_lock(run, 'container', params['name'], wait):
        _converge_locked(run, params, listing)
    task = run.result.get('task')
    try:
        if probe is not None:
            # Outside the lock: a slow service must not hold up other runs on this container.
            kind, where = probe
            if run.check_mode:
                run.result['ready'] = readiness.not_checked(kind, where, 'not probed in check mode')
            elif params['name'] in listing.restarted or params['ready']['always']:
                run.result['ready'] = readiness.wait(run, params, kind, where, task['pid'], task['log_path'])
            else:
                run.result['ready'] = readiness.not_checked(kind, where, 'the task was running already '
                                                            '(ready.always probes on every run)')
    finally:
        # Read after the wait, so the lines show what the service said while it came up.
        if task is not None and params.get('log_lines'):
            task['log'] = readiness.log_tail(task['log_path'], params['log_lines'])


def _converge_locked(run, params, listing):
    name = params['name']
    state = params['state']
    manager = ContainerManager(run, params, listing)
    info = listing.info(name)
    # A task cannot outlive its container: a gone container to keep gone needs no task listing.
    absent = state == 'absent'
    tasks_by_name = listing.tasks() if info is not None or not absent else {}
    task = tasks_by_name.get(name)
    before = options.container_view(options.parse_container_info(info)) if info else dict(exists=False)
    count = len(run.actions) + len(run.lost_races)
    if absent:
        manager.absent(info, task)
        after, after_task = dict(exists=False), None
    else:
        spec = manager.present(info, tasks_by_name)
        recreated = 'differences' in run.result
        labels = manager.labels if manager.labels is not None else (info or {}).get('Labels')
        if len(run.actions) + len(run.lost_races) == count:
            after, after_task = before, task
        elif run.check_mode:
            after = options.wanted_view(spec, params['labels'], None if recreated else before)
            if manager.restarted:
                after_task = dict(status='running', pid=None)
            else:
                after_task = None if manager.created else task
        else:
            listing.changed(name)
            new_info = listing.info(name)
            after = options.container_view(options.parse_container_info(new_info))
            labels = new_info.get('Labels')
            after_task = listing.tasks().get(name)
        started = manager.restarted
        if state in TASK_STATES:
            # The task read with the container (the same tasks listing): a no-op costs no further call.
            machine = TaskStates(run, name, labels, params['stop_signal'], params['stop_timeout'])
            machine.converge(state, after_task, params['log_path'])
            run.result['task'] = result = machine.result(state, after_task, processes=False)
            after_task = dict(status=result['status'], pid=result['pid']) if result['status'] else None
            before = dict(before, task=dict(status=task['status'] if task else None))
            after = dict(after, task=dict(status=result['status']))
            started = started or machine.started_log_uri is not False
        if started:
            listing.restarted.add(name)
    if len(run.actions) + len(run.lost_races) > count:
        if run.check_mode:
            listing.predict(name, after_task)
        else:
            listing.changed(name)
    run.result['container'] = dict(after, name=name, task=after_task)
    run.set_diff(before, after, 'container %s' % name)
