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
      - V(stopped) sends O(signal), waits O(stop_timeout) seconds, then sends SIGKILL to all of the
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
  signal:
    description:
      - Signal that asks the task to stop (V(SIGTERM), V(SIGINT), V(15), ...).
      - The container's PID 1 ignores signals it has no handler for (as C(sleep) does); such a task
        ends with the SIGKILL after O(stop_timeout).
    type: str
    default: SIGTERM
  stop_timeout:
    description:
      - Seconds to wait after O(signal) before SIGKILL.
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
    signal: SIGINT
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils.client import (
    ContainerdClient,
    CtrError,
    client_argument_spec,
)
from ansible_collections.ctrops.containerd.plugins.module_utils.parsers import identifier_error

LIVE = ('running', 'paused', 'pausing')


class TaskManager:
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.name = module.params['container']
        self.result = dict(changed=False, actions=[])
        self.info = dict(container=self.name)
        self.labels = {}

    def act(self, action, func, *args):
        self.result['actions'].append(action)
        if not self.module.check_mode:
            return func(*args)
        return None

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
        self.result['actions'].append('stop task %s (%s, SIGKILL after %ss)'
                                      % (self.name, self.params['signal'], self.params['stop_timeout']))
        if self.module.check_mode:
            return
        self.info['stopped_by'] = ctrs.stop_task(self.client, self.name, task, self.params['signal'],
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
            self.result['actions'].append('set labels %s' % ', '.join(sorted(labels)))
            if not self.module.check_mode:
                ctrs.set_labels(self.client, self.name, labels)

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
            self.module.fail_json(msg='The task of container %s is %s: its command ended before the task could '
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


def main():
    argument_spec = client_argument_spec()
    argument_spec.update(
        container=dict(type='str', required=True, aliases=['name']),
        state=dict(type='str', default='running', choices=['running', 'paused', 'stopped', 'absent']),
        log_path=dict(type='path'),
        signal=dict(type='str', default='SIGTERM'),
        stop_timeout=dict(type='int', default=10),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    problem = identifier_error(params['container'], 'container name')
    if problem:
        module.fail_json(msg='Invalid container: %s.' % problem)
    problem = ctrs.signal_error(params['signal'])
    if problem:
        module.fail_json(msg=problem)
    if params['stop_timeout'] < 0:
        module.fail_json(msg='stop_timeout must be 0 or more seconds.')
    if params['log_path'] and not os.path.isdir(os.path.dirname(params['log_path']) or '/'):
        module.fail_json(msg='The directory of log_path %s does not exist: create it first.' % params['log_path'])
    name = params['container']
    state = params['state']
    client = ContainerdClient.from_module(module)
    manager = TaskManager(module, client)
    result = manager.result
    try:
        task = ctrs.tasks(client).get(name)
        info = ctrs.container_info(client, name)
        if info is None and state in ('running', 'paused'):
            module.fail_json(msg='Container %s does not exist in namespace %s: create it first with '
                                 'ctrops.containerd.containerd_container.' % (name, client.namespace))
        # A container that does not exist has no task: stopped and absent hold already.
        manager.labels = (info or {}).get('Labels') or {}
        if info is not None:
            getattr(manager, state)(task)
        if not result['actions']:
            after = task
        elif module.check_mode:
            after = predicted(state, task)
        else:
            after = ctrs.tasks(client).get(name)
        if after and after['status'] in LIVE and after['pid'] and not module.check_mode:
            manager.info['processes'] = ctrs.task_processes(client, name)
    except CtrError as exc:
        module.fail_json(msg=exc.message, **exc.details())
    result['changed'] = bool(result['actions'])
    info_out = manager.info
    info_out.update(status=after['status'] if after else None, pid=(after or {}).get('pid') or None)
    info_out['netns'] = '/proc/%d/ns/net' % info_out['pid'] if info_out['pid'] else None
    info_out.setdefault('processes', [])
    log_uri = (manager.labels.get(ctrs.LOG_LABEL) if not result['actions'] or state != 'running'
               else ctrs.log_uri_for(params['log_path']))
    info_out['log_path'] = log_uri[len('file://'):] if log_uri and log_uri.startswith('file://') else None
    result['task'] = info_out
    if module._diff:
        result['diff'] = dict(before=dict(status=task['status'] if task else None),
                              after=dict(status=info_out['status']),
                              before_header='task %s' % name, after_header='task %s' % name)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
