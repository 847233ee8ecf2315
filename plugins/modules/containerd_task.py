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
      - V(restarted) stops a live task as V(stopped) does, deletes it and starts a new one (a new PID); a
        container without a live task gets one started. It acts, and reports C(changed), on every run
        (check mode predicts it), as a handler after a configuration change wants.
      - V(stopped) and V(absent) hold for a container that does not exist (nothing is done);
        V(running), V(paused) and V(restarted) fail for it.
    type: str
    choices: [running, paused, stopped, absent, restarted]
    default: running
  log_path:
    description:
      - File on the host that receives the task's stdout and stderr (ctr's C(--log-uri file://PATH)).
      - Takes effect when the task starts. A running task that was started with another log file (or
        none) is restarted.
      - Without it the output is discarded (C(--null-io)).
      - Rotated with O(log_options).
    type: path
  log_options:
    description:
      - Rotation of O(log_path), which containerd never rotates itself (as Docker's C(--log-opt max-size=...
        --log-opt max-file=...)). Takes effect when the task starts, as O(log_path) does.
      - The task starts with a C(binary://) log URI instead of C(file://), and containerd's shim runs a small log
        writer (Python's standard library, run by the interpreter that runs this module) that writes the
        task's stdout and stderr to O(log_path) and renames it to C(PATH.1), C(PATH.2)... once it reaches
        O(log_options.max_size). The restart monitor starts tasks again with the same URI, so rotation holds
        whoever starts the task.
      - The module writes the writer to O(log_options.writer_path) (mode 0755) before it starts a task that
        needs it, and again when its text differs (another interpreter, another collection version).
      - RV(task.log) reads across the newest two files.
    type: dict
    suboptions:
      max_size:
        description:
          - The size at which O(log_path) is rotated, in bytes or with a unit (V(10m), V(512k), V(1g)); at
            least V(4k). A file may pass it by one read of the writer (64 KiB).
        type: str
        required: true
      max_files:
        description:
          - How many files are kept, O(log_path) included; with V(1) the file is emptied when full.
        type: int
        default: 1
      writer_path:
        description: Where the log writer program is written on the host.
        type: path
        default: /var/lib/ctrops-containerd/bin/log-writer
  log_lines:
    description:
      - How many of the last lines of the task's log file the result carries in RV(task.log).
      - V(0) (the default) carries none, so results stay small and logs stay out of Ansible's output unless
        asked for.
      - This module does not know the values of M(ctrops.containerd.containerd_container)'s C(secret_env), so a
        task that prints them shows them here (O(ctrops.containerd.containerd_container#module:log_lines) masks them).
    type: int
    default: 0
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
    before the start, so that a monitor pass never finds the new task running against a wanted
    C(stopped) (a pass that starts the task first is a race this run reads back); V(stopped) and
    V(absent) set it to C(stopped) before the signal, so that the monitor does not start the task
    again. The monitor itself kills and deletes a task whose wanted
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
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_task -a 'container=web state=stopped stop_timeout=30'

- name: Run the web container's task, logging to a file, with the log's last 20 lines in the result
  ctrops.containerd.containerd_task:
    container: web
    state: running
    log_path: /var/log/web.log
    log_lines: 20
  register: web_task

- name: Show them
  ansible.builtin.debug:
    var: web_task.task.log

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
    log:
      description: The last O(log_lines) lines of the task's log file (fewer when it has fewer, none without one).
      type: list
      elements: str
      returned: when O(log_lines) is more than 0
      sample: ["httpd started"]
actions:
  description: The ctr operations performed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["delete task web", "start task web"]
'''

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import readiness
from ansible_collections.ctrops.containerd.plugins.module_utils import task_logs
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun
from ansible_collections.ctrops.containerd.plugins.module_utils.races import object_lock
from ansible_collections.ctrops.containerd.plugins.module_utils.task_state import STARTING_STATES, STATES, TaskStates


def validate_params(params):
    validate.identifier(params['container'], 'container', 'container name')
    validate.signal(params['stop_signal'])
    validate.non_negative(params['stop_timeout'], 'stop_timeout')
    validate.existing_parent(params['log_path'], 'log_path')
    task_logs.validate_params(params)
    validate.non_negative(params['log_lines'], 'log_lines', 'lines')


def converge(run):
    params = run.params
    validate_params(params)
    name = params['container']
    state = params['state']
    client = run.client
    # containerd_container's task states take the same lock: runs on one container go one after the other.
    with object_lock(run, 'container', name, wait=client.timeout + params['stop_timeout'] + 30):
        task = ctrs.tasks(client).get(name)
        info = ctrs.container_info(client, name)
        if info is None and state in STARTING_STATES:
            raise ModuleError('Container %s does not exist in namespace %s: create it first with '
                              'ctrops.containerd.containerd_container.' % (name, client.namespace))
        machine = TaskStates(run, name, (info or {}).get('Labels'), params['stop_signal'], params['stop_timeout'])
        # A container that does not exist has no task: stopped and absent hold already.
        if info is not None:
            machine.converge(state, task, task_logs.log_uri(params['log_path'], params['log_options']))
        run.result['task'] = result = machine.result(state, task)
        if params['log_lines']:
            result['log'] = readiness.log_tail(result['log_path'], params['log_lines'])
    run.set_diff(dict(status=task['status'] if task else None), dict(status=result['status']), 'task %s' % name)


def main():
    run = ModuleRun(dict(
        task_logs.argument_spec(),
        container=dict(type='str', required=True, aliases=['name']),
        state=dict(type='str', default='running', choices=list(STATES)),
        log_path=dict(type='path'),
        log_lines=dict(type='int', default=0),
        stop_signal=dict(type='str', default='SIGTERM', aliases=['signal']),
        stop_timeout=dict(type='int', default=10),
    ))
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
