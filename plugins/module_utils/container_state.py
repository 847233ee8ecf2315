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
from ansible_collections.ctrops.containerd.plugins.module_utils import task_logs
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.races import object_lock
from ansible_collections.ctrops.containerd.plugins.module_utils.task_state import STARTING_STATES, TaskStates

# The states that also bring the container's task to a state (present: the container only).
TASK_STATES = ('running', 'paused', 'stopped', 'restarted')
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
    spec.update(task_logs.argument_spec())
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
        self.pinned = {}        # container -> its pinned network namespace (containerd_stack's networks)

    def info(self, name):
        if name not in self._infos:
            self._infos[name] = ctrs.container_info(self.client, name)
        return self._infos[name]

    def tasks(self):
        if self._tasks is None:
            self._tasks = ctrs.tasks(self.client)
        return self._tasks

    def info_and_tasks(self, name):
        """Both, read side by side when neither has been read yet."""
        if name not in self._infos and self._tasks is None:
            self._infos[name], self._tasks = ctrs.container_info_and_tasks(self.client, name)
        return self.info(name), self.tasks()

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
    if params['log_path'] and params['state'] not in STARTING_STATES:
        raise InvalidInput('log_path is where a task this module starts writes its output: it takes '
                           'state=running, paused or restarted, not state=%s.' % params['state'])
    validate.existing_parent(params['log_path'], 'log_path')
    task_logs.validate_params(params)
    readiness.validate_params(params)


class ContainerManager:
    """One container brought to its options: reading and comparing here; the steps that change it
    (create, recreate, restore, remove) are in container_actions, imported only when a run acts, so
    a no-op run does not compile them (AnsiballZ ships source, compiled on every run)."""

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

    def delete_task_when_stopped(self):
        from ansible_collections.ctrops.containerd.plugins.module_utils import container_actions
        return container_actions.delete_task_when_stopped(self)

    def create(self, spec, tasks_by_name, old=None, old_task=None):
        from ansible_collections.ctrops.containerd.plugins.module_utils import container_actions
        return container_actions.create(self, spec, tasks_by_name, old, old_task)

    def restore(self, spec, log_uri, recorded):
        from ansible_collections.ctrops.containerd.plugins.module_utils import container_actions
        return container_actions.restore(self, spec, log_uri, recorded)

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
        rejoin = [option for option, kind, _s in ctrs.SHARED_NAMESPACES if spec[option] in self.listing.restarted
                  and not ctrs.joins_pinned(kind, spec[option], self.listing.pinned)]
        if not diffs and (not running or rejoin):
            # A path to a task that is gone matters while this container has no task of its own holding
            # it; a task this run (re)started (a stack's other container) gives a new namespace to join.
            stale = set(rejoin)
            if not running:
                stale |= set(ctrs.stale_namespaces(spec, summary, tasks_by_name, self.listing.pinned))
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
        from ansible_collections.ctrops.containerd.plugins.module_utils import container_actions
        return container_actions.absent(self, info, task)


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
    confirm_ready(run, params, listing, probe)


def confirm_ready(run, params, listing, probe):
    """Wait for the service when ``probe`` ((kind, where) of readiness.target) asks, as the run's state says;
    add the log's last lines the params ask for."""
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
    absent = state == 'absent'
    if absent:
        info = listing.info(name)
        # A task cannot outlive its container: a gone container to keep gone needs no task listing.
        tasks_by_name = listing.tasks() if info is not None else {}
    else:
        info, tasks_by_name = listing.info_and_tasks(name)
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
            # A task this run started already (after a create or recreate) is the restart asked for.
            task_state = 'running' if state == 'restarted' and manager.restarted else state
            machine.converge(task_state, after_task, task_logs.log_uri(params['log_path'], params['log_options']))
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
