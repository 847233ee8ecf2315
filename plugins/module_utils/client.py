# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one door to containerd: every module runs ``ctr`` through this client.

It knows the address, namespace and timeout, finds ``ctr``, runs it (an argument
vector, never a shell, every pipe read to its end; reads that do not depend on
each other may run at once, ``run_at_once``), parses its output and turns
failures into one plain sentence.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import subprocess

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.ctrops.containerd.plugins.module_utils import parsers
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError

DEFAULT_ADDRESS = '/run/containerd/containerd.sock'
DEFAULT_NAMESPACE = 'default'
DEFAULT_TIMEOUT = 60

# Where ctr lives when it is not on the PATH of a non-login shell: the release
# tarballs unpack to /usr/local/bin, distributions use /usr/bin.
CTR_SEARCH_DIRS = ['/usr/local/bin', '/usr/bin', '/run/current-system/sw/bin']

UNREACHABLE_MARKERS = (
    'failed to dial', 'cannot access socket', 'connection refused', 'error while dialing',
    'no such file or directory: unavailable', 'connection error',
)

# A daemon that accepts the connection and never answers: ctr 1.6 says the first, 2.x the second.
# The socket accepted, but no gRPC answer came before ctr gave up (the last one: ctr closed the
# connection at its deadline while still waiting for the server's HTTP/2 preface, as under load).
NO_ANSWER_MARKERS = ('timed out waiting for server handshake', 'waiting for connections to become ready',
                     'error reading server preface')


def client_argument_spec(namespace=True):
    """The options of doc fragment ``client`` (and ``client.NAMESPACE`` unless namespace=False)."""
    spec = dict(
        address=dict(type='str', default=DEFAULT_ADDRESS),
        timeout=dict(type='int', default=DEFAULT_TIMEOUT),
        executable=dict(type='path'),
    )
    if namespace:
        spec['namespace'] = dict(type='str', default=DEFAULT_NAMESPACE)
    return spec


class CtrError(ModuleError):
    """A failed ctr call, with a message meant for the user."""

    def __init__(self, message, rc=None, stdout='', stderr='', command=None):
        super(CtrError, self).__init__(message)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.command = command

    def details(self):
        """Extra keys for fail_json, so -v output shows what ctr said."""
        return dict(rc=self.rc, stdout=self.stdout, stderr=self.stderr, cmd=self.command)


class Unreachable(CtrError):
    """containerd does not answer at the configured address."""


class NotFound(CtrError):
    """The object named in the call does not exist."""


class AlreadyExists(CtrError):
    """The object named in the call exists already."""


def _ctr_message(stderr):
    """The last 'ctr: …' line of stderr, without the prefix: ctr's own reason."""
    lines = [line.strip() for line in (stderr or '').splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith('ctr: '):
            return line[len('ctr: '):]
    return lines[-1] if lines else ''


class ContainerdClient:
    """Runs ctr against one containerd address and namespace.

    ``calls`` counts the ctr invocations, so tests and the benchmark can check
    what a no-op run costs.
    """

    def __init__(self, module, address=DEFAULT_ADDRESS, namespace=DEFAULT_NAMESPACE,
                 timeout=DEFAULT_TIMEOUT, executable=None):
        self.module = module
        self.address = address
        self.namespace = namespace
        self.timeout = timeout
        self.executable = executable
        self.calls = 0
        self.api_calls = 0
        self._checked = False
        self._versions = None

    @classmethod
    def from_module(cls, module):
        params = module.params
        return cls(module, address=params['address'], namespace=params.get('namespace') or DEFAULT_NAMESPACE,
                   timeout=params['timeout'], executable=params.get('executable'))

    # -- running ctr ---------------------------------------------------------------

    @property
    def socket_path(self):
        """The filesystem path of a unix socket address, or None for other schemes."""
        address = self.address
        if address.startswith('unix://'):
            return address[len('unix://'):]
        if '://' in address:
            return None
        return address

    def _find_ctr(self):
        if self.executable:
            if not (os.path.isfile(self.executable) and os.access(self.executable, os.X_OK)):
                raise CtrError('ctr was not found at %s (option executable): check the path.' % self.executable)
            return self.executable
        path = self.module.get_bin_path('ctr', opt_dirs=CTR_SEARCH_DIRS)
        if not path:
            raise CtrError('ctr was not found on this host: install containerd (for example with the '
                           'ctrops.containerd.containerd role) or point the executable option at ctr.')
        return path

    def _preflight(self):
        """Fail fast and plainly before the first call: ctr missing, socket missing or closed to us."""
        if self._checked:
            return
        self.executable = self._find_ctr()
        path = self.socket_path
        if path is not None:
            try:
                mode = os.stat(path).st_mode
            except OSError:
                raise Unreachable('containerd is not reachable at %s: the socket does not exist; '
                                  'is the containerd service running?' % self.address)
            if not stat.S_ISSOCK(mode):
                raise Unreachable('containerd is not reachable at %s: that path is not a socket; '
                                  'check the address option.' % self.address)
            if not os.access(path, os.R_OK | os.W_OK):
                raise Unreachable('permission denied on the containerd socket %s: run the task as root '
                                  '(become: true) or as a member of the socket\'s group.' % self.address)
        self._checked = True

    def command(self, args, namespace=None):
        """The argv of one ctr call (global options first, as every ctr version wants)."""
        cmd = [self.executable or 'ctr', '--address', self.address,
               '--namespace', namespace or self.namespace]
        if self.timeout:
            # --timeout bounds the call; --connect-timeout the dial (1.6 waits 10 s by default, even past
            # --timeout, for a daemon that accepts the connection but never answers).
            cmd += ['--timeout', '%ds' % self.timeout, '--connect-timeout', '%ds' % self.timeout]
        return cmd + list(args)

    def run(self, args, namespace=None, data=None, check=True):
        """Run ``ctr ARGS`` and return (rc, stdout, stderr); raise CtrError on failure when check."""
        self._preflight()
        cmd = self.command(args, namespace=namespace)
        self.calls += 1
        rc, out, err = self._exec(cmd, data)
        if rc != 0 and check:
            raise self.error(cmd, rc, out, err)
        return rc, out, err

    def _exec(self, cmd, data=None):
        """(rc, stdout, stderr) of one call. Not module.run_command: its read loop ends when a one-second select
        saw nothing and the process has exited, so output written in that moment is lost (ctr calls answered rc 0
        with empty output on a slow Python 3.14 host); communicate() reads both pipes to their end."""
        try:
            proc = subprocess.Popen(  # pylint: disable=ansible-bad-function
                cmd, stdin=subprocess.DEVNULL if data is None else subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=dict(os.environ, LC_ALL='C'), close_fds=True)
            out, err = proc.communicate(None if data is None else to_bytes(data, errors='surrogate_or_strict'))
        except OSError as exc:
            raise CtrError('could not run %s: %s' % (cmd[0], exc))
        return proc.returncode, to_text(out, errors='surrogate_or_strict'), to_text(err, errors='surrogate_or_strict')

    def run_at_once(self, calls):
        """Run several ``ctr`` reads side by side and return (cmd, rc, stdout, stderr) of each, in order,
        unchecked (``error`` maps a failure): a no-op run's two reads then cost the time of about one."""
        self._preflight()
        environ = dict(os.environ, LC_ALL='C')
        started = []
        try:
            for args in calls:
                cmd = self.command(args)
                self.calls += 1
                started.append((cmd, subprocess.Popen(  # pylint: disable=ansible-bad-function
                    cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    env=environ, close_fds=True)))
            results = []
            for cmd, proc in started:
                out, err = proc.communicate()
                results.append((cmd, proc.returncode, to_text(out, errors='surrogate_or_strict'),
                                to_text(err, errors='surrogate_or_strict')))
            return results
        except OSError as exc:
            raise CtrError('could not run %s: %s' % (self.executable, exc))
        finally:
            for _cmd, proc in started:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

    def output(self, args, namespace=None):
        """Run ``ctr ARGS`` and return its stdout."""
        return self.run(args, namespace=namespace)[1]

    def error(self, cmd, rc, out, err):
        """Turn a failed call into the CtrError subclass a module can act on."""
        reason = _ctr_message(err) or _ctr_message(out) or 'ctr exited with status %s' % rc
        lowered = reason.lower()
        kwargs = dict(rc=rc, stdout=out, stderr=err, command=cmd)
        if any(marker in (err or '').lower() for marker in NO_ANSWER_MARKERS):
            return Unreachable('containerd at %s accepted the connection but did not answer within %s seconds '
                               '(option timeout): check that the daemon is healthy (its log, a restart of the '
                               'service) or raise timeout.' % (self.address, self.timeout), **kwargs)
        if any(marker in lowered for marker in UNREACHABLE_MARKERS):
            return Unreachable('containerd is not reachable at %s: is the containerd service running? '
                               '(ctr said: %s)' % (self.address, reason), **kwargs)
        if 'permission denied' in lowered and self.address in reason:
            return Unreachable('permission denied on the containerd socket %s: run the task as root '
                               '(become: true) or as a member of the socket\'s group.' % self.address,
                               **kwargs)
        if 'context deadline exceeded' in lowered:
            return CtrError('ctr did not finish within %s seconds (option timeout): %s'
                            % (self.timeout, reason), **kwargs)
        if 'already exists' in lowered:
            return AlreadyExists(reason, **kwargs)
        if 'not found' in lowered or 'no such' in lowered:
            return NotFound(reason, **kwargs)
        return CtrError(reason, **kwargs)

    # -- the spec door -------------------------------------------------------------

    def update_spec(self, container, spec):
        """Replace the stored OCI spec of ``container`` (labels, image, snapshot stay): what ctr has no flag
        for (containerd_api). Counted in ``api_calls``, not ``calls``."""
        from ansible_collections.ctrops.containerd.plugins.module_utils import containerd_api
        self._preflight()
        if self.socket_path is None:
            raise ModuleError('The options of container %s that ctr has no flag for go to containerd through its '
                              'socket, and the address %s is not a unix socket path.' % (container, self.address))
        self.api_calls += 1
        try:
            containerd_api.update_spec(self.socket_path, self.namespace, container, spec,
                                       timeout=self.timeout or DEFAULT_TIMEOUT)
        except containerd_api.ContainerdError as exc:
            raise ModuleError('containerd did not take the spec of container %s: %s.' % (container, str(exc).rstrip('.')))

    # -- versions ------------------------------------------------------------------

    def versions(self):
        """{'client': (1, 6, 20), 'server': (2, 1, 9)}, probed once per module run."""
        if self._versions is None:
            raw = parsers.parse_version(self.output(['version']))
            self._versions = dict((key, parsers.version_tuple(value)) for key, value in raw.items())
        return self._versions

    # -- calls that need a secret ---------------------------------------------------

    def run_with_secret(self, args, secret, namespace=None, check=True):
        """Run ``ctr ARGS`` with a pseudo-terminal as stdin and type ``secret`` at ctr's prompt.

        For ``--user USER`` without a password: ctr asks on the terminal, so the
        secret never appears in argv or in the environment of ctr.
        """
        from ansible_collections.ctrops.containerd.plugins.module_utils.pty import run_with_tty_secret

        self._preflight()
        cmd = self.command(args, namespace=namespace)
        self.calls += 1
        env = dict(os.environ, LC_ALL='C')
        rc, out, err = run_with_tty_secret(cmd, secret, env=env,
                                           timeout=(self.timeout + 30) if self.timeout else None)
        if rc != 0 and check:
            raise self.error(cmd, rc, out, err)
        return rc, out, err
