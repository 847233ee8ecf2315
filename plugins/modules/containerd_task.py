#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_task
short_description: Run, pause, stop and delete the task (the process) of a containerd container
version_added: 0.1.0
description:
  - Drives the task of a container made with M(ctrops.containerd.containerd_container), as
    C(ctr tasks start|pause|resume|kill|delete) do, idempotently.
  - A task started by this module runs detached; its stdout and stderr go to O(log_path) or nowhere.
options:
  container:
    description:
      - Name of the container whose task is managed.
    type: str
    required: true
    aliases: [name]
  state:
    description:
      - V(running) starts the task if there is none (a task that exited is deleted first) and resumes
        a paused one.
      - V(paused) freezes the task (its processes keep their PIDs). A container without a running task
        gets one started first, as V(running) would (a task that exited is deleted first), so that
        V(paused) holds from any state.
      - V(stopped) sends O(stop_signal), waits O(stop_timeout) seconds, then sends SIGKILL to all of the
        task's processes. The stopped task is kept (C(ctr tasks ls) shows it as STOPPED).
      - V(absent) stops the task if needed and deletes it.
      - V(stopped) and V(absent) hold for a container that does not exist (nothing is done);
        V(running) and V(paused) fail for it.
    type: str
    choices: [running, paused, stopped, absent]
    default: running
  log_path:
    description:
      - File on the host that receives the task's stdout and stderr (ctr's C(--log-uri file://PATH)).
      - Takes effect when the task starts. A running task that was started with another log file (or
        none) is restarted.
      - Without it the output is discarded (C(--null-io)).
    type: path
  stop_signal:
    description:
      - Signal that asks the task to stop (V(SIGTERM), V(SIGINT), V(15), ...).
      - The same option as M(ctrops.containerd.containerd_container)'s; V(signal) is its former name.
      - The container's PID 1 ignores signals it has no handler for (as C(sleep) does); such a task
        ends with the SIGKILL after O(stop_timeout).
    type: str
    default: SIGTERM
    aliases: [signal]
  stop_timeout:
    description:
      - Seconds to wait after O(stop_signal) before SIGKILL.
    type: int
    default: 10
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the task's status before and after.
  platform:
    platforms: posix
notes:
  - If the container has a restart policy (O(ctrops.containerd.containerd_container#module:restart_policy)),
    this module keeps the restart monitor's status label in step. V(running) sets it to C(running)
    after the start; V(stopped) and V(absent) set it to C(stopped) before the signal, so that the
    monitor does not start the task again. The monitor itself kills and deletes a task whose wanted
    status is C(stopped) when it comes by (every 10 seconds by default), so with a restart policy
    V(stopped) may leave no task at all; a later run with V(stopped) finds that in order.
  - "CNI networking is not done here: the result's C(task.netns) (C(/proc/PID/ns/net)) is what a CNI
    attachment (ctrops.containerd's CNI modules) takes, in a task after this one."
  - C(ctr tasks start) of a container made with a TTY needs a console; such containers are not supported.
seealso:
  - module: ctrops.containerd.containerd_container
  - module: ctrops.containerd.containerd_exec
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
- name: Run the web container's task, logging to a file
  ctrops.containerd.containerd_task:
    container: web
    state: running
    log_path: /var/log/web.log

- name: Freeze it (the processes keep their PIDs)
  ctrops.containerd.containerd_task:
    container: web
    state: paused

- name: Stop it, SIGKILL after 30 seconds
  ctrops.containerd.containerd_task:
    container: web
    state: stopped
    stop_signal: SIGINT
    stop_timeout: 30

- name: Delete the task
  ctrops.containerd.containerd_task:
    container: web
    state: absent
'''

RETURN = r'''
task:
  description: The task after the module ran (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    container:
      description: Name of the container.
      type: str
      sample: web
    status:
      description: V(running), V(paused), V(stopped), V(created), or null when there is no task.
      type: str
      sample: running
    pid:
      description: Host PID of the task's init process (null without a task, or before a start in check mode).
      type: int
      sample: 4242
    netns:
      description: The task's network namespace path, for a CNI attachment.
      type: str
      sample: /proc/4242/ns/net
    processes:
      description: Host PIDs of the task's processes (C(ctr tasks ps)), for a running or paused task.
      type: list
      elements: int
      sample: [4242, 4250]
    exit_status:
      description: Exit status of a task this module deleted (ctr reports it when deleting).
      type: int
      returned: when a task was deleted
      sample: 0
    log_path:
      description: The file the task's output goes to, when it was started by this module with one.
      type: str
      sample: /var/log/web.log
    stopped_by:
      description: How a stop ended the task, V(signal) or V(killed) (SIGKILL after O(stop_timeout)).
      type: str
      returned: when the module stopped a task
      sample: killed
actions:
  description: The ctr operations performed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["delete task web", "start task web"]
'''

import os

from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun

LIVE = ctrs.LIVE


class TaskManager:
    def __init__(self, run):
        self.run = run
        self.client = run.client
        self.params = run.params
        self.name = run.params['container']
        self.act = run.act
        self.info = dict(container=self.name)
        self.labels = {}

    @property
    def has_restart_policy(self):
        return ctrs.RESTART_STATUS in self.labels

    def restart_status(self, value):
        """Keep the restart monitor's wanted status in step with the task."""
        if self.has_restart_policy and self.labels.get(ctrs.RESTART_STATUS) != value:
            self.act('set label %s=%s' % (ctrs.RESTART_STATUS, value), ctrs.set_labels, self.client, self.name,
                     {ctrs.RESTART_STATUS: value})

    def delete(self, status):
        def _delete():
            if status in LIVE:
                ctrs.wait_status(self.client, self.name, ('stopped', 'created', None))
            self.info['exit_status'] = ctrs.delete_task(self.client, self.name)
        self.act('delete task %s' % self.name, _delete)

    def stop(self, task):
        self.restart_status('stopped')
        self.act('stop task %s (%s, SIGKILL after %ss)'
                 % (self.name, self.params['stop_signal'], self.params['stop_timeout']), self.stop_now, task)

    def stop_now(self, task):
        self.info['stopped_by'] = ctrs.stop_task(self.client, self.name, task, self.params['stop_signal'],
                                                 self.params['stop_timeout'])
        ctrs.wait_status(self.client, self.name, ('stopped', 'created', None))

    def start(self, log_uri):
        self.act('start task %s' % self.name, ctrs.start_task, self.client, self.name, log_uri)
        labels = {}
        if self.labels.get(ctrs.LOG_LABEL) != (log_uri or None):
            labels[ctrs.LOG_LABEL] = log_uri or None
            if self.has_restart_policy:
                labels[ctrs.RESTART_LOGURI] = log_uri or None
        if self.has_restart_policy and self.labels.get(ctrs.RESTART_STATUS) != 'running':
            labels[ctrs.RESTART_STATUS] = 'running'
        labels = dict((k, v) for k, v in labels.items() if v is not None or k in self.labels)
        if labels:
            self.act('set labels %s' % ', '.join(sorted(labels)), ctrs.set_labels, self.client, self.name, labels)

    def running(self, task):
        status = task['status'] if task else None
        log_uri = ctrs.log_uri_for(self.params['log_path'])
        if status in LIVE and log_uri and self.labels.get(ctrs.LOG_LABEL) != log_uri:
            self.stop(task)
            self.delete('stopped')
            self.start(log_uri)
        elif status in ('paused', 'pausing'):
            self.act('resume task %s' % self.name, self.client.run, ['tasks', 'resume', self.name])
            self.restart_status('running')
        elif status == 'running':
            self.restart_status('running')
        else:
            if status is not None:
                self.delete(status)
            self.start(log_uri)

    def paused(self, task):
        status = task['status'] if task else None
        if status in ('paused', 'pausing'):
            return
        if status != 'running':
            self.running(task)
        self.act('pause task %s' % self.name, self.pause)

    def pause(self):
        try:
            self.client.run(['tasks', 'pause', self.name])
        except CtrError:
            current = ctrs.tasks(self.client).get(self.name)
            if current is None or current['status'] in LIVE:
                raise
            raise ModuleError('The task of container %s is %s: its command ended before the task could '
                              'be paused; give the container a command that keeps running.'
                              % (self.name, current['status']))

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


def predicted(state, task):
    """The task as check mode expects it after ``state``."""
    if state == 'absent':
        return None
    if state == 'running':
        return dict(status='running', pid=task['pid'] if task and task['status'] in LIVE else None)
    if state == 'paused':
        return dict(status='paused', pid=task['pid'] if task else None)
    return dict(status='stopped', pid=task['pid'] if task else None) if task else None


def converge(run):
    params = run.params
    validate.identifier(params['container'], 'container', 'container name')
    validate.signal(params['stop_signal'])
    validate.non_negative(params['stop_timeout'], 'stop_timeout')
    if params['log_path'] and not os.path.isdir(os.path.dirname(params['log_path']) or '/'):
        raise ModuleError('The directory of log_path %s does not exist: create it first.' % params['log_path'])
    name = params['container']
    state = params['state']
    client = run.client
    manager = TaskManager(run)
    task = ctrs.tasks(client).get(name)
    info = ctrs.container_info(client, name)
    if info is None and state in ('running', 'paused'):
        raise ModuleError('Container %s does not exist in namespace %s: create it first with '
                          'ctrops.containerd.containerd_container.' % (name, client.namespace))
    # A container that does not exist has no task: stopped and absent hold already.
    manager.labels = (info or {}).get('Labels') or {}
    if info is not None:
        getattr(manager, state)(task)
    if not run.actions:
        after = task
    elif run.check_mode:
        after = predicted(state, task)
    else:
        after = ctrs.tasks(client).get(name)
    if after and after['status'] in LIVE and after['pid'] and not run.check_mode:
        manager.info['processes'] = ctrs.task_processes(client, name)
    result = manager.info
    result.update(status=after['status'] if after else None, pid=(after or {}).get('pid') or None)
    result['netns'] = '/proc/%d/ns/net' % result['pid'] if result['pid'] else None
    result.setdefault('processes', [])
    log_uri = (manager.labels.get(ctrs.LOG_LABEL) if not run.actions or state != 'running'
               else ctrs.log_uri_for(params['log_path']))
    result['log_path'] = log_uri[len('file://'):] if log_uri and log_uri.startswith('file://') else None
    run.result['task'] = result
    run.set_diff(dict(status=task['status'] if task else None), dict(status=result['status']), 'task %s' % name)


def main():
    run = ModuleRun(dict(
        container=dict(type='str', required=True, aliases=['name']),
        state=dict(type='str', default='running', choices=['running', 'paused', 'stopped', 'absent']),
        log_path=dict(type='path'),
        stop_signal=dict(type='str', default='SIGTERM', aliases=['signal']),
        stop_timeout=dict(type='int', default=10),
    ))
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
