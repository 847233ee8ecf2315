#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_exec
short_description: Run a command in the running task of a containerd container
version_added: 0.1.0
description:
  - Runs a command inside a container's running task, as C(ctr tasks exec) does, and returns its
    exit code, stdout and stderr. Modelled on community.docker's C(docker_container_exec).
  - Each run gets a new, unique exec ID.
  - B(Not idempotent) by nature. The module always reports RV(ignore:changed=true); use C(changed_when)
    to say otherwise.
options:
  container:
    description: Name of the container; its task must be running.
    type: str
    required: true
    aliases: [name]
  argv:
    description:
      - The command as a list of arguments. Exactly one of O(argv) and O(command) is needed.
    type: list
    elements: str
  command:
    description:
      - The command as a string, split into arguments the way a shell would (no shell runs it).
    type: str
  cwd:
    description: Working directory of the command inside the container.
    type: str
    aliases: [chdir]
  user:
    description:
      - "User to run as, as ctr's C(--user) takes it: a name or UID, either followed by C(:GROUP)."
      - "A name or bare UID is looked up in the container's C(/etc/passwd) (one more ctr call) and given to
        ctr as C(uid:gid), because ctr's own look-up mounts the snapshot a second time, after which the
        running container can no longer create files (seen with containerd 1.6). C(uid:gid) skips the look-up."
    type: str
  env:
    description:
      - Environment variables for the command.
      - C(ctr tasks exec) has no option for them, so the command is run through the container's
        C(env) program, which the image must contain.
    type: dict
  secret_env:
    description:
      - Environment variables for the command whose values are secret (tokens, passwords).
      - The values never appear in an argv (of C(ctr) or of any process in the container), in the result
        or in a failure. C(ctr tasks exec) has no option for variables and takes no process spec, so they
        go through the command's standard input to the container's C(sh) (which the image must contain),
        which reads them with shell builtins, exports them and runs the command with the rest of the input
        (O(stdin), if given). The command thus gets an end of input instead of none when O(stdin) is unset.
      - What is not protected, because it is the command's own business; the variables are in the
        environment of the command (C(/proc/PID/environ), readable by root and the same user), and a
        command that prints them puts them in RV(stdout) (Ansible hides the exact values there).
      - A name must not also be in O(env).
    type: dict
  stdin:
    description: Text given to the command on its standard input.
    type: str
  stdin_add_newline:
    description: Add a newline to O(stdin).
    type: bool
    default: true
  strip_empty_ends:
    description: Strip empty lines at the end of stdout and stderr.
    type: bool
    default: true
  exec_id:
    description:
      - The exec ID to use. Default is a new unique one (C(ansible-) and 16 hex digits).
      - It must not be in use in the task.
    type: str
  check_rc:
    description:
      - Fail when the command exits with a non-zero code. With V(false) the code is returned in RV(rc).
    type: bool
    default: true
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - No TTY is given to the command (C(ctr tasks exec --tty) needs a console).
  - O(timeout) bounds the whole call, so also how long the command may run.
seealso:
  - module: ctrops.containerd.containerd_task
  - name: community.docker.docker_container_exec
    description: The Docker module this one follows.
    link: https://docs.ansible.com/ansible/latest/collections/community/docker/docker_container_exec_module.html
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_exec -a "container=web command='nginx -s reload'"

- name: Fetch the web page from a container sharing web's network namespace
  ctrops.containerd.containerd_exec:
    container: probe
    argv: [wget, -q, -O, -, http://127.0.0.1/]
  register: page
  changed_when: false

- name: Run a shell snippet with input and environment
  ctrops.containerd.containerd_exec:
    container: web
    command: sh -c 'cat > /tmp/config; echo "$MODE"'
    stdin: "{{ lookup('file', 'config') }}"
    env:
      MODE: production

- name: Run a command with a token in its environment, never in an argv or the result
  ctrops.containerd.containerd_exec:
    container: web
    argv: [sh, -c, 'wget -q --header "Authorization: Bearer $TOKEN" -O /tmp/data http://api/']
    secret_env:
      TOKEN: "{{ vault_api_token }}"

- name: A command that may fail
  ctrops.containerd.containerd_exec:
    container: web
    command: test -f /run/ready
    check_rc: false
  register: ready
'''

RETURN = r'''
rc:
  description: Exit code of the command.
  returned: success, or a non-zero exit code with O(check_rc=true)
  type: int
  sample: 0
stdout:
  description: Standard output of the command.
  returned: success, or a non-zero exit code with O(check_rc=true)
  type: str
  sample: hello
stderr:
  description: Standard error of the command.
  returned: success, or a non-zero exit code with O(check_rc=true)
  type: str
  sample: ''
stdout_lines:
  description: RV(stdout) split into lines.
  returned: success
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: success
  type: list
  elements: str
exec_id:
  description: The exec ID the command ran with.
  returned: always
  type: str
  sample: ansible-5f0c3e9b2a7d41c8
'''

import shlex
import uuid

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import container_files
from ansible_collections.ctrops.containerd.plugins.module_utils import container_options
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun


def _strip(text, strip):
    return text.rstrip('\r\n') if strip else text


def command_argv(params):
    if params['command'] is None:
        argv = params['argv']
    else:
        try:
            argv = shlex.split(params['command'])
        except ValueError as exc:
            raise InvalidInput('Cannot split command into arguments: %s.' % exc)
    if not argv:
        raise InvalidInput('The command is empty: give argv or command.')
    return argv


def _no_task(client, name, task, why, **details):
    return ModuleError('Container %s has no running task in namespace %s (%s): start it with '
                       'ctrops.containerd.containerd_task state=running.'
                       % (name, client.namespace, 'its task is %s' % task['status'] if task else why), **details)


def _numeric_user(client, name, user):
    """``user`` as ``uid:gid`` from the running task's /etc/passwd (container_files.exec_user says why)."""
    task = ctrs.tasks(client).get(name)
    if task is None or task['status'] != 'running' or not task['pid']:
        raise _no_task(client, name, task, 'it has no task')
    return container_files.exec_user('/proc/%d/root' % task['pid'], user) or user


def execute(run):
    params = run.params
    name = params['container']
    validate.identifier(name, 'container', 'container name')
    exec_id = params['exec_id'] or 'ansible-' + uuid.uuid4().hex[:16]
    validate.identifier(exec_id, 'exec_id')
    argv = command_argv(params)
    env = dict((str(k), str(v)) for k, v in (params['env'] or {}).items())
    validate.env_names(env)
    secret_env = dict((str(k), str(v)) for k, v in (params['secret_env'] or {}).items())
    validate.env_names(secret_env)
    both = sorted(set(env) & set(secret_env))
    if both:
        raise InvalidInput('Variable %s is in both env and secret_env: keep it in one of them.' % both[0])
    stdin = params['stdin']
    if stdin is not None and params['stdin_add_newline']:
        stdin += '\n'
    client = run.client
    run.result['exec_id'] = exec_id
    user = params['user']
    if user and not container_files.numeric_user(user):
        user = _numeric_user(client, name, user)
    try:
        rc, out, err = ctrs.exec_process(client, name, argv, exec_id, cwd=params['cwd'], user=user,
                                         env=env, stdin=stdin, secret_env=secret_env)
    except CtrError as exc:
        # Only on failure: one more call tells a missing task from a command that could not start.
        try:
            task = ctrs.tasks(client).get(name)
        except CtrError:
            task = None
        if task is None or task['status'] != 'running':
            raise _no_task(client, name, task, 'ctr said: ' + exc.message, exec_id=exec_id, **exc.details())
        raise ModuleError('Could not run %s in container %s: %s' % (argv[0], name, exc.message),
                          exec_id=exec_id, **exc.details())
    out = _strip(out, params['strip_empty_ends'])
    err = _strip(err, params['strip_empty_ends'])
    run.result.update(rc=rc, stdout=out, stderr=err, stdout_lines=out.splitlines(), stderr_lines=err.splitlines())
    if rc != 0 and params['check_rc']:
        raise ModuleError('The command exited with code %d in container %s (set check_rc=false to accept it).'
                          % (rc, name))


def main():
    spec = dict(
        container=dict(type='str', required=True, aliases=['name']),
        argv=dict(type='list', elements='str'),
        command=dict(type='str'),
        cwd=dict(type='str', aliases=['chdir']),
        stdin=dict(type='str'),
        stdin_add_newline=dict(type='bool', default=True),
        strip_empty_ends=dict(type='bool', default=True),
        exec_id=dict(type='str'),
        check_rc=dict(type='bool', default=True),
    )
    # The process options a container has too, declared once (container_options).
    spec.update(container_options.argument_spec(('user', 'env', 'secret_env')))
    run = ModuleRun(spec, supports_check_mode=False, mutually_exclusive=[('argv', 'command')],
                    required_one_of=[('argv', 'command')])
    run.execute(execute, run)
    # A command run in a container is a change; Ansible marks a non-zero rc as failed unless told otherwise.
    run.exit(changed=True, failed=False)


if __name__ == '__main__':
    main()
