# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The task state machine: bring a container's task to running, paused, stopped or absent, or restart it.

containerd_task (task-only work) and containerd_container's task states (a running container in one
task) share it, so both start, pause, resume, stop, kill and delete the same way, keep containerd's
restart monitor labels in step the same way and predict the same actions in check mode. Every step
goes through ``run.act`` (recorded; skipped in check mode) and is safe against another run doing the
same step at the same moment (races.act_racing).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import task_logs
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError, NotFound
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.races import act_racing

LIVE = ctrs.LIVE
STATES = ('running', 'paused', 'stopped', 'absent', 'restarted')
# The states that leave a task running (or paused) with the log file they are given.
STARTING_STATES = ('running', 'paused', 'restarted')


class TaskStates:
    """The task of container ``name``, whose labels are ``labels``, brought to a state.

    ``info`` collects what the result carries besides status and pid (exit_status, stopped_by).
    """

    def __init__(self, run, name, labels, stop_signal='SIGTERM', stop_timeout=10):
        self.run = run
        self.client = run.client
        self.act = run.act
        self.name = name
        self.labels = labels or {}
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.info = dict(container=name)
        self.acted = False          # whether this machine recorded an action (or lost one to another run)
        self.started_log_uri = False  # the log URI of a task this run starts (False: none started)

    def converge(self, state, task, log_uri=None):
        """Record (and, outside check mode, take) the steps from ``task`` (a tasks() entry or None) to
        ``state``; a task started logs to ``log_uri`` (task_logs.log_uri)."""
        count = len(self.run.actions) + len(self.run.lost_races)
        if state in STARTING_STATES:
            getattr(self, state)(task, log_uri)
        else:
            getattr(self, state)(task)
        # A step another run took first counts too: the task is read back, not assumed.
        self.acted = len(self.run.actions) + len(self.run.lost_races) > count

    # -- the restart monitor's labels --------------------------------------------------

    @property
    def has_restart_policy(self):
        return ctrs.RESTART_STATUS in self.labels

    def restart_status(self, value):
        """Keep the restart monitor's wanted status in step with the task."""
        if self.has_restart_policy and self.labels.get(ctrs.RESTART_STATUS) != value:
            self.act('set label %s=%s' % (ctrs.RESTART_STATUS, value), ctrs.set_labels, self.client, self.name,
                     {ctrs.RESTART_STATUS: value})
            # A later step of this run (the start of a restart) compares with what is set now.
            self.labels = dict(self.labels, **{ctrs.RESTART_STATUS: value})

    # -- the steps ------------------------------------------------------------------------

    def current(self):
        return ctrs.tasks(self.client).get(self.name)

    def delete(self, status):
        def _delete():
            if status in LIVE:
                ctrs.wait_status(self.client, self.name, ('stopped', 'created', None))
            self.info['exit_status'] = ctrs.delete_task(self.client, self.name)
        # Another run deleted it first: gone is what was asked.
        act_racing(self.run, 'delete task %s' % self.name, lambda: self.current() is None, _delete,
                   errors=(NotFound,))

    def stop(self, task):
        self.restart_status('stopped')
        self.act('stop task %s (%s, SIGKILL after %ss)' % (self.name, self.stop_signal, self.stop_timeout),
                 self.stop_now, task)

    def stop_now(self, task):
        self.info['stopped_by'] = ctrs.stop_task(self.client, self.name, task, self.stop_signal, self.stop_timeout)
        ctrs.wait_status(self.client, self.name, ('stopped', 'created', None))

    def start(self, log_uri):
        self.started_log_uri = log_uri
        wanted = {ctrs.LOG_LABEL: log_uri or None}
        if self.has_restart_policy:
            wanted.update({ctrs.RESTART_LOGURI: log_uri or None, ctrs.RESTART_STATUS: 'running'})
        labels = dict((k, v) for k, v in wanted.items()
                      if self.labels.get(k) != v and (v is not None or k in self.labels))
        # The labels come first: a restart monitor pass between a start and a later 'running' label would stop
        # the task it finds against the wanted status; one that starts the task first (with the same log) is a
        # race the start loses and reads back.
        if labels:
            self.act('set labels %s' % ', '.join(sorted(labels)), ctrs.set_labels, self.client, self.name, labels)
        task_logs.ensure_writer(self.run, log_uri)
        act_racing(self.run, 'start task %s' % self.name, lambda: task_started(self.client, self.name),
                   ctrs.start_task, self.client, self.name, log_uri)

    def resume(self):
        act_racing(self.run, 'resume task %s' % self.name, lambda: (self.current() or {}).get('status') == 'running',
                   self.client.run, ['tasks', 'resume', self.name], errors=(CtrError,))

    def pause(self):
        act_racing(self.run, 'pause task %s' % self.name, self._paused, self.client.run, ['tasks', 'pause', self.name],
                   errors=(CtrError,))

    def _paused(self):
        current = self.current()
        if current is not None and current['status'] == 'paused':
            return True  # another run paused it
        if current is None or current['status'] in LIVE:
            return False
        raise ModuleError('The task of container %s is %s: its command ended before the task could '
                          'be paused; give the container a command that keeps running.'
                          % (self.name, current['status']))

    # -- the states -------------------------------------------------------------------------

    def running(self, task, log_uri=None):
        status = task['status'] if task else None
        if status in LIVE and log_uri and self.labels.get(ctrs.LOG_LABEL) != log_uri:
            self.stop(task)
            self.delete('stopped')
            self.start(log_uri)
        elif status in ('paused', 'pausing'):
            self.resume()
            self.restart_status('running')
        elif status == 'running':
            self.restart_status('running')
        else:
            if status is not None:
                self.delete(status)
            self.start(log_uri)

    def restarted(self, task, log_uri=None):
        """Stop a live task (stop signal, then SIGKILL after the timeout), delete it and start a new one; a
        container without a live task gets one started. Acts on every run."""
        status = task['status'] if task else None
        if status in LIVE:
            self.stop(task)
        if status is not None:
            self.delete('stopped' if status in LIVE else status)
        self.start(log_uri)

    def paused(self, task, log_uri=None):
        status = task['status'] if task else None
        if status in ('paused', 'pausing'):
            return
        if status != 'running':
            self.running(task, log_uri)
        self.pause()

    def stopped(self, task):
        status = task['status'] if task else None
        if status in LIVE:
            self.stop(task)
        else:
            self.restart_status('stopped')

    def absent(self, task):
        status = task['status'] if task else None
        if status in LIVE:
            self.stop(task)
        elif task is not None:
            self.restart_status('stopped')
        if task is not None:
            self.delete('stopped')

    # -- the result ---------------------------------------------------------------------------

    def result(self, state, before, processes=True):
        """The task after the run (predicted in check mode) in the RETURN shape of containerd_task:
        container, status, pid, netns, processes (``processes=False``: left out, it costs a ctr call),
        log_path, and exit_status/stopped_by when a task was deleted/stopped."""
        run = self.run
        if not self.acted:
            after = before
        elif run.check_mode:
            after = predicted(state, before)
        else:
            after = self.current()
        result = dict(self.info)
        if processes:
            live = after and after['status'] in LIVE and after['pid'] and not run.check_mode
            result['processes'] = ctrs.task_processes(self.client, self.name) if live else []
        result.update(status=after['status'] if after else None, pid=(after or {}).get('pid') or None)
        result['netns'] = '/proc/%d/ns/net' % result['pid'] if result['pid'] else None
        log_uri = self.labels.get(ctrs.LOG_LABEL) if self.started_log_uri is False else self.started_log_uri
        result['log_path'] = task_logs.path_of(log_uri)
        return result


def task_started(client, name):
    """For act_racing after a start that found a task: another run's start is what was asked (a task that
    ran and exited counts, as it would for this run's own start); a task only created is mid-way."""
    task = ctrs.tasks(client).get(name)
    if task is None or task['status'] == 'created':
        return None
    return task['status'] in LIVE + ('stopped',)


def predicted(state, task):
    """The task as check mode expects it after ``state``."""
    if state == 'absent':
        return None
    if state == 'running':
        return dict(status='running', pid=task['pid'] if task and task['status'] in LIVE else None)
    if state == 'restarted':
        return dict(status='running', pid=None)  # a new process: its PID is not known before it starts
    if state == 'paused':
        return dict(status='paused', pid=task['pid'] if task else None)
    return dict(status='stopped', pid=task['pid'] if task else None) if task else None
