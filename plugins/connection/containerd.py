# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: containerd
short_description: Run tasks inside containerd containers through ctr tasks exec
version_added: 0.2.0
author: ctrops.containerd contributors (@ctrops)
description:
  - Runs commands and modules inside the running task of a containerd container with C(ctr tasks exec)
    (a new, unique exec ID per command) and transfers files through the same channel, so the container
    needs C(/bin/sh) and C(cat); modules also need Python 3 in the container (the P(ansible.builtin.raw#module)
    module does not).
  - Pipelining is supported (the module goes to Python's standard input), as are large and binary files
    (streamed through the standard input and output of C(cat), never held in memory).
  - B(Containers on other hosts.) When O(containerd_host) is set, C(ctr) runs on that host over SSH
    (the C(ssh) client, with one multiplexed connection for many commands through C(ControlMaster) and C(ControlPersist)).
    C(ctr) must run on the host of the containerd daemon because C(ctr tasks exec) hands the process's
    input and output to containerd's shim through named pipes on that host's filesystem; a forwarded
    containerd socket alone cannot carry them. So the control node needs only an SSH client, and the
    containerd host its own C(ctr), matching its daemon, and C(mktemp) (there, C(ctr) writes a command's output
    into a temporary file that then goes over SSH, since C(ctr) 2.x can lose the end of an output that drains slowly).
  - Become works where the container has the tools (for example C(su) as root, or C(sudo)); a password
    prompt is answered as with other connections.
options:
  remote_addr:
    description:
      - The container's ID (name) in containerd.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_containerd_container
  remote_user:
    description:
      - The user the commands run as inside the container (C(ctr tasks exec --user)), a name from the
        container's C(/etc/passwd) or a numeric UID. Unset, the container's own user is used.
    type: str
    vars:
      - name: ansible_user
      - name: ansible_containerd_user
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    cli:
      - name: user
    keyword:
      - name: remote_user
  namespace:
    description:
      - The containerd namespace of the container.
    type: str
    default: default
    vars:
      - name: ansible_containerd_namespace
    env:
      - name: CONTAINERD_NAMESPACE
    ini:
      - section: ctrops_containerd_connection
        key: namespace
  address:
    description:
      - Address of containerd's GRPC socket, as C(ctr --address) takes it (on O(containerd_host) when set).
    type: str
    default: /run/containerd/containerd.sock
    vars:
      - name: ansible_containerd_address
    env:
      - name: CONTAINERD_ADDRESS
    ini:
      - section: ctrops_containerd_connection
        key: address
  ctr_path:
    description:
      - The C(ctr) program (on O(containerd_host) when set). By default C(ctr) is looked up on E(PATH).
    type: str
    default: ctr
    vars:
      - name: ansible_containerd_ctr_path
    env:
      - name: ANSIBLE_CONTAINERD_CTR_PATH
    ini:
      - section: ctrops_containerd_connection
        key: ctr_path
  timeout:
    description:
      - Seconds C(ctr) may take to connect to containerd (C(ctr --connect-timeout)). It does not limit
        how long a command may run.
    type: int
    default: 10
    vars:
      - name: ansible_containerd_timeout
    env:
      - name: ANSIBLE_TIMEOUT
    ini:
      - section: defaults
        key: timeout
  containerd_host:
    description:
      - Host of the containerd daemon, reached over SSH with the C(ssh) client; C(ctr) runs there.
        Unset, C(ctr) runs on the control node.
      - The SSH user needs access to the containerd socket there (root, or the socket's group).
      - Host keys are checked as the SSH client's configuration says; batch mode is on (no password prompts).
    type: str
    vars:
      - name: ansible_containerd_host
  containerd_host_user:
    description:
      - SSH user for O(containerd_host). Unset, the SSH client's configuration decides.
    type: str
    vars:
      - name: ansible_containerd_host_user
  containerd_host_port:
    description:
      - SSH port of O(containerd_host). Unset, the SSH client's configuration decides.
    type: int
    vars:
      - name: ansible_containerd_host_port
  ssh_args:
    description:
      - Extra arguments for the C(ssh) client to O(containerd_host), as a shell-quoted string (for example
        C(-F ~/.ssh/fleet_config) or C(-o ControlPersist=300s)). They come before the defaults of this plugin
        (C(ControlMaster=auto), C(ControlPersist=60s), C(ControlPath=~/.ansible/cp/ctrops-%C), C(BatchMode=yes)),
        so a value given here wins.
    type: str
    default: ''
    vars:
      - name: ansible_containerd_ssh_args
    env:
      - name: ANSIBLE_CONTAINERD_SSH_ARGS
    ini:
      - section: ctrops_containerd_connection
        key: ssh_args
extends_documentation_fragment:
  - ansible.builtin.connection_pipelining
notes:
  - A container without a running task, a container or namespace that does not exist, a containerd that does not
    answer and a container without Python each fail with one sentence saying what to do.
  - Each command costs one C(ctr) process on the containerd host (and one SSH session on the multiplexed
    connection with O(containerd_host)); enable pipelining to save the file transfers of a module run.
seealso:
  - module: ctrops.containerd.containerd_exec
  - module: ctrops.containerd.containerd_task
'''

EXAMPLES = r'''
# inventory.ini: containers of this machine's containerd and of a remote containerd host
# [web]
# web1 ansible_containerd_namespace=prod
# web2 ansible_containerd_namespace=prod ansible_containerd_host=node1.example.com ansible_containerd_host_user=root
# [web:vars]
# ansible_connection=ctrops.containerd.containerd
# ansible_python_interpreter=/usr/bin/python3

- name: Configure the inside of containers
  hosts: web
  gather_facts: true
  tasks:
    - name: Write the application's configuration
      ansible.builtin.template:
        src: app.conf.j2
        dest: /etc/app.conf
        mode: "0644"

    - name: Run a command as the container's app user
      ansible.builtin.command: id
      vars:
        ansible_user: app
      changed_when: false
'''

import os
import re
import selectors
import shlex
import subprocess
import uuid

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.ctrops.containerd.plugins.module_utils.client import ContainerdClient, Unreachable

display = Display()

SSH_DEFAULTS = ['-o', 'ControlMaster=auto', '-o', 'ControlPersist=60s', '-o', 'BatchMode=yes']
CONTROL_DIR = '~/.ansible/cp'
SSH_BUFFERED = 'f=$(mktemp) || exit 125; "$@" > "$f"; rc=$?; cat "$f"; rm -f "$f"; exit $rc'

# A module run's command as Ansible builds it: the interpreter, with the AnsiballZ file unless pipelined;
# ansible-core before 2.21 appends '&& sleep 0' (an SSH race mitigation 2.21 dropped).
_MODULE_RUN = re.compile(r'^(\S*python[0-9.]*)(?:\s+\S*AnsiballZ_\S+\.py)?(?:\s*&& sleep 0)?\s*$')


class Connection(ConnectionBase):
    """Commands in a container's task through ``ctr tasks exec``; ctr runs locally or on a host over SSH."""

    transport = 'ctrops.containerd.containerd'
    has_pipelining = True

    def __init__(self, play_context, *args, **kwargs):
        super(Connection, self).__init__(play_context, *args, **kwargs)
        self._checked_socket = False
        self._users = {}

    # -- options ---------------------------------------------------------------------

    @property
    def _container(self):
        return self.get_option('remote_addr')

    def _where(self):
        """Where the container lives, for messages."""
        text = 'container %s in namespace %s' % (self._container, self.get_option('namespace'))
        if self.get_option('containerd_host'):
            text += ' on %s' % self.get_option('containerd_host')
        return text

    def _client(self):
        """The collection's ctr client, for the argv of a call and the meaning of ctr's errors."""
        return ContainerdClient(None, address=self.get_option('address'), namespace=self.get_option('namespace'),
                                timeout=0, executable=self.get_option('ctr_path'))

    def _exec_argv(self, argv, as_user=True):
        """``ctr tasks exec`` of argv in the container, wrapped in ssh with containerd_host."""
        args = []
        if self.get_option('timeout'):
            # Only the dial is bounded: a module may run as long as it needs.
            args += ['--connect-timeout', '%ds' % self.get_option('timeout')]
        args += ['tasks', 'exec', '--exec-id', 'ansible-' + uuid.uuid4().hex]
        user = self._exec_user() if as_user else None
        if user:
            args += ['--user', user]
        cmd = self._client().command(args + ['--', self._container] + list(argv))
        host = self.get_option('containerd_host')
        if not host:
            return cmd
        # ctr 2.x can drop the tail of a process's output when its own stdout drains slowly (sshd's pipe under
        # load): there, ctr writes into a file on the containerd host, which then goes over SSH.
        remote = ['/bin/sh', '-c', SSH_BUFFERED, 'sh'] + cmd
        return self._ssh_argv() + [host, '--', ' '.join(shlex.quote(to_text(arg)) for arg in remote)]

    def _ssh_argv(self):
        control_dir = os.path.expanduser(CONTROL_DIR)
        if not os.path.isdir(control_dir):
            os.makedirs(control_dir, mode=0o700, exist_ok=True)
        # ssh keeps the first value of an option: the user's arguments come first.
        argv = ['ssh'] + self._split_ssh_args(self.get_option('ssh_args') or '') + SSH_DEFAULTS
        argv += ['-o', 'ControlPath=%s' % os.path.join(control_dir, 'ctrops-%C')]
        if self.get_option('containerd_host_port'):
            argv += ['-p', str(self.get_option('containerd_host_port'))]
        if self.get_option('containerd_host_user'):
            argv += ['-l', self.get_option('containerd_host_user')]
        return argv

    def _exec_user(self):
        """The remote user as ``uid:gid``, looked up in the container's /etc/passwd.

        Given a name or a bare UID, ctr looks it up itself by mounting the container's snapshot a second
        time; before containerd 2.0 that mount shares the running container's overlay upper directory, and
        the container's root filesystem then refuses new files (seen with 1.6). Numeric ``uid:gid`` needs
        no mount. Costs one command per task for a named user.
        """
        user = self.get_option('remote_user')
        if user is None or user == '':
            return None
        user = str(user)
        if ':' in user:
            return user
        if user not in self._users:
            argv = self._exec_argv(['/bin/sh', '-c', 'cat /etc/passwd'], as_user=False)
            proc = self._popen(argv, subprocess.DEVNULL, subprocess.PIPE)
            out, err = proc.communicate()
            self._raise_transport_error(argv, proc.returncode, out, err)
            if proc.returncode != 0 or not out.strip():
                raise AnsibleConnectionFailure('could not read /etc/passwd in %s to look up user %s (status %s: %s): '
                                               'give ansible_user as uid:gid to skip the look-up.'
                                               % (self._where(), user, proc.returncode,
                                                  to_text(err, errors='surrogate_or_replace').strip() or 'no output'))
            for line in to_text(out, errors='surrogate_or_replace').splitlines():
                fields = line.split(':')
                if len(fields) > 3 and user in (fields[0], fields[2]) and fields[2].isdigit() and fields[3].isdigit():
                    self._users[user] = '%s:%s' % (fields[2], fields[3])
                    break
            else:
                if not user.isdigit():
                    raise AnsibleConnectionFailure('user %s does not exist in %s: set ansible_user to a user of '
                                                   'the container\'s /etc/passwd or to a numeric UID.'
                                                   % (user, self._where()))
                # A UID without an entry runs with GID 0, as ctr would run it.
                self._users[user] = '%s:0' % user
        return self._users[user]

    # -- connecting ------------------------------------------------------------------

    def _connect(self):
        super(Connection, self)._connect()
        if not self._connected:
            display.vvv('ESTABLISH CONTAINERD CONNECTION TO %s AS %s'
                        % (self._where(), self.get_option('remote_user') or '(the container\'s user)'),
                        host=self._container)
            self._check_socket()
            self._connected = True
        return self

    def _check_socket(self):
        """A local socket that is missing is named at once (ctr 1.6 would wait for its dial timeout)."""
        if self._checked_socket or self.get_option('containerd_host'):
            return
        path = self._client().socket_path
        if path is not None and not os.path.exists(path):
            raise AnsibleConnectionFailure(
                'containerd is not reachable at %s: the socket does not exist; is containerd running, and is '
                'ansible_containerd_address (option address) right?' % path)
        self._checked_socket = True

    def _popen(self, argv, stdin, stdout):
        display.vvv('EXEC %s' % ' '.join(shlex.quote(to_text(arg)) for arg in argv), host=self._container)
        try:
            return subprocess.Popen([to_bytes(arg, errors='surrogate_or_strict') for arg in argv],
                                    stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
        except OSError as exc:
            raise AnsibleConnectionFailure(
                '%s could not be started (%s): install it or set ansible_containerd_ctr_path (option ctr_path).'
                % (argv[0], exc.strerror))

    def _raise_transport_error(self, argv, rc, out, err):
        """Raise one sentence if ctr (or ssh) failed, rather than the command in the container."""
        text = to_text(err, errors='surrogate_or_replace')
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        last = lines[-1] if lines else ''
        host = self.get_option('containerd_host')
        if host and rc == 255:
            raise AnsibleConnectionFailure('could not reach the containerd host %s over SSH: %s; check '
                                           'ansible_containerd_host, _host_user, _host_port and _ssh_args.'
                                           % (host, last or 'ssh exited with status 255'))
        if host and rc == 127 and not out and self.get_option('ctr_path') + ':' in last:
            raise AnsibleConnectionFailure('ctr was not found on %s (%s): set ansible_containerd_ctr_path to its '
                                           'path there.' % (host, last))
        if rc == 0 or not last.startswith('ctr: '):
            return
        reason = last[len('ctr: '):]
        lowered = reason.lower()
        if 'no running task found' in lowered:
            raise AnsibleConnectionFailure('%s has no running task: start it (for example with '
                                           'ctrops.containerd.containerd_task state=running) before using it '
                                           'as a host.' % self._where())
        if lowered.startswith('container "') and lowered.endswith('not found'):
            raise AnsibleConnectionFailure('%s does not exist: check the host\'s ansible_host '
                                           '(or ansible_containerd_container) and ansible_containerd_namespace.'
                                           % self._where())
        if 'no users found' in lowered or 'no such user' in lowered:
            raise AnsibleConnectionFailure('user %s does not exist in %s: set ansible_user to a user of the '
                                           'container\'s /etc/passwd or to a numeric UID.'
                                           % (self.get_option('remote_user'), self._where()))
        if 'executable file not found' in lowered or ('no such file or directory' in lowered and 'exec' in lowered):
            raise AnsibleConnectionFailure('%s has no /bin/sh: this connection runs commands through the container\'s '
                                           'shell; use an image with /bin/sh (and cat for file transfers).'
                                           % self._where())
        error = self._client().error(argv, rc, to_text(out, errors='surrogate_or_replace'), text)
        if isinstance(error, Unreachable):
            raise AnsibleConnectionFailure(error.message)
        raise AnsibleConnectionFailure('ctr could not run a command in %s: %s' % (self._where(), reason))

    # -- the connection API ------------------------------------------------------------

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        argv = self._exec_argv([self._play_context.executable or '/bin/sh', '-c', cmd])
        proc = self._popen(argv, subprocess.PIPE, subprocess.PIPE)
        if self.become and self.become.expect_prompt() and sudoable:
            self._answer_become_prompt(proc)
        out, err = proc.communicate(in_data)
        self._raise_transport_error(argv, proc.returncode, out, err)
        if proc.returncode == 127:
            self._raise_if_no_python(cmd, err + out)
        return proc.returncode, out, err

    def _raise_if_no_python(self, cmd, output):
        """A module run whose interpreter is missing: say so (the raw module keeps its plain result)."""
        try:
            words = shlex.split(cmd)
        except ValueError:
            return
        inner = words[2] if len(words) == 3 and words[1] == '-c' else cmd
        match = _MODULE_RUN.match(inner.strip())
        if match and (b'not found' in output or b'No such file' in output):
            raise AnsibleError('%s has no Python at %s: modules need Python 3 in the container; use an image '
                               'with Python or set ansible_python_interpreter to its path (the raw module '
                               'works without Python).' % (self._where(), match.group(1)))

    def _answer_become_prompt(self, proc):
        """Wait for the become plugin's password prompt (or its success marker) and answer it."""
        selector = selectors.DefaultSelector()
        for stream in (proc.stdout, proc.stderr):
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ)
        seen = b''
        try:
            while not self.become.check_success(seen) and not self.become.check_password_prompt(seen):
                events = selector.select(self.get_option('timeout') or None)
                if not events:
                    proc.kill()
                    raise AnsibleError('timeout waiting for the privilege escalation password prompt in %s: %s'
                                       % (self._where(), to_text(seen)))
                chunk = b''.join(key.fileobj.read() or b'' for key, _event in events)
                if not chunk:
                    raise AnsibleError('the output closed while waiting for the privilege escalation password '
                                       'prompt in %s: %s' % (self._where(), to_text(seen)))
                seen += chunk
        finally:
            selector.close()
            for stream in (proc.stdout, proc.stderr):
                os.set_blocking(stream.fileno(), True)
        if not self.become.check_success(seen):
            password = self.become.get_option('become_pass', playcontext=self._play_context)
            proc.stdin.write(to_bytes(password, errors='surrogate_or_strict') + b'\n')
            proc.stdin.flush()

    def put_file(self, in_path, out_path):
        super(Connection, self).put_file(in_path, out_path)
        display.vvv('PUT %s TO %s' % (in_path, out_path), host=self._container)
        if not os.path.exists(to_bytes(in_path, errors='surrogate_or_strict')):
            raise AnsibleFileNotFound('file or module does not exist: %s' % in_path)
        # The path is an argument of sh, never parsed by it; the content streams through cat's input.
        argv = self._exec_argv(['/bin/sh', '-c', 'cat > "$1"', 'sh', out_path])
        with open(to_bytes(in_path, errors='surrogate_or_strict'), 'rb') as source:
            proc = self._popen(argv, source, subprocess.PIPE)
            out, err = proc.communicate()
        self._raise_transport_error(argv, proc.returncode, out, err)
        if proc.returncode != 0:
            raise AnsibleError('failed to transfer %s to %s in %s: %s'
                               % (in_path, out_path, self._where(), to_text(err + out).strip()))

    def fetch_file(self, in_path, out_path):
        super(Connection, self).fetch_file(in_path, out_path)
        display.vvv('FETCH %s TO %s' % (in_path, out_path), host=self._container)
        argv = self._exec_argv(['/bin/sh', '-c', 'cat < "$1"', 'sh', in_path])
        local = to_bytes(out_path, errors='surrogate_or_strict')
        with open(local, 'wb') as target:
            proc = self._popen(argv, subprocess.DEVNULL, target)
            err = proc.communicate()[1]
        if proc.returncode != 0:
            os.unlink(local)
            self._raise_transport_error(argv, proc.returncode, b'', err)
            raise AnsibleError('failed to fetch %s from %s: %s' % (in_path, self._where(), to_text(err).strip()))

    def close(self):
        # Nothing stays open: each command is its own ctr process (the SSH master ends by ControlPersist).
        self._connected = False

    def reset(self):
        self.close()
