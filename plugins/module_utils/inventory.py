# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the containerd inventory plugin reads from one containerd host, local or over SSH.

The ctr calls of one step run as one ``sh`` script (on the control node, or through one ``ssh``
connection), so a host costs two or three round trips whatever its number of containers:

1. ``namespaces ls`` (only when no namespaces are named);
2. per namespace ``containers ls`` (image; label filters go to containerd) and ``tasks ls``, and the
   libcni result cache;
3. per listed container ``containers info`` (labels; only when labels are wanted) and the network
   namespace of each task that has a cached attachment.

The command lines come from ContainerdClient (the one door) and its error mapping names failures.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex
import subprocess
import uuid

from ansible_collections.ctrops.containerd.plugins.module_utils import cni, parsers
from ansible_collections.ctrops.containerd.plugins.module_utils.client import (
    CTR_SEARCH_DIRS, DEFAULT_ADDRESS, ContainerdClient, CtrError)
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import filter_quote, label_filter

DEFAULT_CNI_CACHE_DIR = '/var/lib/cni'
SSH_UNREACHABLE = 255
NOT_FOUND = 127


class HostError(ModuleError):
    """A containerd host that cannot be listed, with a sentence naming it."""


def ssh_command(host, user=None, port=None, ssh_args=None, executable='ssh'):
    """The argv that runs ``sh`` (the script on stdin) on ``host`` through the ssh client.

    BatchMode: an inventory run has nobody to answer a password or host key prompt, so ssh fails
    at once instead of waiting. The user's ssh_args come first: ssh keeps the first value of an option.
    """
    cmd = [executable] + shlex.split(ssh_args or '') + ['-o', 'BatchMode=yes']
    if user:
        cmd += ['-l', str(user)]
    if port:
        cmd += ['-p', str(port)]
    return cmd + ['--', host, 'sh']


def label_selector(labels):
    """One containerd filter (a ``containers ls`` argument) that matches every label of ``labels``;
    a value of None matches any value of that key. None when there is nothing to filter."""
    terms = []
    for key, value in sorted((labels or {}).items()):
        terms.append('labels.%s' % filter_quote(key) if value is None else label_filter(key, str(value)))
    return ','.join(terms) or None


def batch_script(commands, nonce, socket_path=None):
    """A POSIX sh script that runs ``commands`` (argv lists) in order and frames each one's output.

    For each command it prints stdout, then ``\\nNONCE err RC\\n``, stderr, ``\\nNONCE end\\n``.
    A socket that does not exist stops the script first (``\\nNONCE nosocket``): ctr 1.6 would wait
    10 s per call for it.
    """
    lines = [
        'PATH="$PATH:%s"; export PATH; LC_ALL=C; export LC_ALL' % ':'.join(CTR_SEARCH_DIRS),
        't=$(mktemp) || exit 1',
        'trap \'rm -f "$t"\' EXIT',
    ]
    if socket_path:
        lines.append("[ -S %s ] || { printf '\\n%%s nosocket\\n' %s; exit 0; }" % (shlex.quote(socket_path), nonce))
    for argv in commands:
        lines.append('%s </dev/null 2>"$t"; rc=$?; printf \'\\n%%s err %%s\\n\' %s "$rc"; cat "$t"; '
                     'printf \'\\n%%s end\\n\' %s' % (' '.join(shlex.quote(a) for a in argv), nonce, nonce))
    return '\n'.join(lines) + '\n'


def parse_batch(stream, nonce):
    """[(rc, stdout, stderr)] from the output of batch_script; None when the socket was missing."""
    results = []
    parts = stream.split('\n%s ' % nonce)
    out = parts[0]
    for part in parts[1:]:
        word, _sep, rest = part.partition('\n')
        if word == 'nosocket':
            return None
        if word.startswith('err '):
            results.append([int(word[4:]), out, rest])
        elif word == 'end':
            out = rest
    return [tuple(result) for result in results]


# A reader of libcni's result cache: each file after a framing line (cache files are one JSON line).
CNI_CACHE_SH = 'for f in "$1"/results/*; do [ -f "$f" ] && { printf \'%s %s\\n\' "$2" "${f##*/}"; cat "$f"; echo; }; done; :'
NETNS_SH = 'for p in "$@"; do printf \'%s \' "$p"; readlink "/proc/$p/ns/net" || echo; done'


def parse_cni_cache(output, nonce):
    """{file name: (config, result, entry)} of the cache files printed by CNI_CACHE_SH."""
    entries = {}
    name, body = None, []
    for line in output.splitlines() + ['%s ' % nonce]:
        if line.startswith(nonce + ' '):
            if name is not None:
                parsed = cni.parse_cache('\n'.join(body))
                if parsed is not None:
                    entries[name] = parsed
            name, body = line[len(nonce) + 1:], []
        else:
            body.append(line)
    return entries


def parse_netns(output):
    """{pid: netns inode} from NETNS_SH ("123 net:[4026532301]")."""
    inodes = {}
    for line in output.splitlines():
        pid, _sep, link = line.partition(' ')
        if pid.isdigit() and link.startswith('net:[') and link.endswith(']') and link[5:-1].isdigit():
            inodes[int(pid)] = int(link[5:-1])
    return inodes


def normal_address(address):
    return address[len('unix://'):] if address.startswith('unix://') else address


def attachments_of(entries, container, namespace, address, inode):
    """The cni_network attachments of a container, from the cache entries its owner key names.

    Only entries written by cni_network for this daemon and namespace count, and only while the
    task's network namespace is the one attached (a restarted task leaves a stale entry behind).
    """
    found = []
    for _name, (_config, result, entry) in sorted(entries.items()):
        owner = entry.get(cni.CACHE_OWNER_KEY)
        if not isinstance(owner, dict) or entry.get('containerId') != container:
            continue
        if owner.get('namespace') != namespace or normal_address(owner.get('address') or '') != normal_address(address):
            continue
        if inode is None or owner.get('netns_inode') not in (None, inode):
            continue
        found.append(dict(network=entry.get('networkName'), ifname=entry.get('ifName'),
                          addresses=cni.result_addresses(result)))
    return found


def new_nonce():
    """A framing word no output contains by chance."""
    return 'ctrops-%s' % uuid.uuid4().hex


class HostReader:
    """Lists the containers of one containerd host (a local socket, or a host reached over SSH)."""

    def __init__(self, name, address=DEFAULT_ADDRESS, ctr_path=None, timeout=30, ssh_host=None, ssh_user=None,
                 ssh_port=None, ssh_args=None, ssh_executable='ssh', cni_cache_dir=DEFAULT_CNI_CACHE_DIR):
        self.name = name
        self.address = address
        self.ssh_host = ssh_host
        self.ssh = ssh_command(ssh_host, ssh_user, ssh_port, ssh_args, ssh_executable) if ssh_host else None
        self.cni_cache_dir = cni_cache_dir
        # Only command() and error() of the client are used: the argv of each call and its failure's sentence.
        self.client = ContainerdClient(None, address=address, timeout=timeout, executable=ctr_path or 'ctr')
        self.timeout = timeout
        self.ctr_calls = 0

    def where(self):
        return 'on %s over SSH' % self.ssh_host if self.ssh else 'on this host'

    def _run(self, commands, nonce):
        """Run commands as one script; [(rc, out, err)]. Raises HostError when the host is not reachable."""
        script = batch_script(commands, nonce, self.client.socket_path)
        argv = self.ssh or ['sh']
        try:
            # The inventory plugin runs on the control node, where no AnsibleModule (run_command) exists.
            proc = subprocess.run(argv, input=script.encode('utf-8'),  # pylint: disable=ansible-bad-function
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=(self.timeout or 60) * (len(commands) + 1), check=False)
        except OSError as exc:
            raise HostError('containerd host %s: cannot run %s (%s): install it on the control node.'
                            % (self.name, argv[0], exc.strerror))
        except subprocess.TimeoutExpired:
            raise HostError('containerd host %s did not answer within %s seconds (option timeout): check the host '
                            'and its containerd, or raise timeout.' % (self.name, (self.timeout or 60) * (len(commands) + 1)))
        out = proc.stdout.decode('utf-8', 'replace')
        err = proc.stderr.decode('utf-8', 'replace').strip()
        results = parse_batch(out, nonce)
        if results is None:
            raise HostError('containerd is not reachable at %s %s (host %s): the socket does not exist; is the '
                            'containerd service running, and is the address option right?'
                            % (self.address, self.where(), self.name))
        if self.ssh and proc.returncode == SSH_UNREACHABLE and not results:
            raise HostError('containerd host %s cannot be reached over SSH (%s): check the host name, user, port and '
                            'that key-based login works (ssh runs with BatchMode=yes).'
                            % (self.name, err.splitlines()[-1] if err else 'ssh exited with status 255'))
        if len(results) < len(commands):
            raise HostError('containerd host %s: the listing stopped early %s (%s).'
                            % (self.name, self.where(), err or 'no output'))
        return results

    def _ctr(self, args, namespace=None):
        self.ctr_calls += 1
        return self.client.command(args, namespace=namespace)

    def _check(self, argv, result):
        rc, out, err = result
        if rc == NOT_FOUND and 'not found' in err:
            raise HostError('ctr was not found %s (host %s): install containerd there or set ctr_path.'
                            % (self.where(), self.name))
        if rc != 0:
            raise HostError('containerd host %s: %s' % (self.name, self.client.error(argv, rc, out, err).message))
        return out

    def namespaces(self):
        argv = self._ctr(['namespaces', 'ls', '-q'])
        (result,) = self._run([argv], new_nonce())
        return parsers.parse_quiet_list(self._check(argv, result))

    def containers(self, namespaces=None, labels=None, running_only=False, read_labels=True):
        """[{id, namespace, image, runtime, labels, task_status, task_pid, cni}] of the host."""
        if not namespaces:
            namespaces = self.namespaces()
        selector = label_selector(labels)
        commands = []
        for namespace in namespaces:
            commands.append(self._ctr(['containers', 'ls'] + ([selector] if selector else []), namespace))
            commands.append(self._ctr(['tasks', 'ls'], namespace))
        # The cache reader frames each file with a word of its own (not the script's framing word).
        nonce = new_nonce()
        commands.append(['sh', '-c', CNI_CACHE_SH, 'sh', self.cni_cache_dir, nonce + '-file'])
        results = self._run(commands, nonce)
        found = []
        for index, namespace in enumerate(namespaces):
            listed = parsers.parse_containers(self._check(commands[2 * index], results[2 * index]))
            tasks = parsers.parse_tasks(self._check(commands[2 * index + 1], results[2 * index + 1]))
            for container_id, row in sorted(listed.items()):
                task = tasks.get(container_id) or {}
                if running_only and task.get('status') != 'running':
                    continue
                found.append(dict(id=container_id, namespace=namespace, image=row['image'], runtime=row['runtime'],
                                  labels=None, task_status=task.get('status'), task_pid=task.get('pid') or None,
                                  cni=[]))
        cache = parse_cni_cache(results[-1][1], nonce + '-file') if results[-1][0] == 0 else {}
        self._details(found, cache, read_labels)
        return found

    def _details(self, found, cache, read_labels):
        """Labels (containers info) and the attached addresses, in one more script."""
        cached_ids = set(entry.get('containerId') for _c, _r, entry in cache.values())
        pids = sorted(set(c['task_pid'] for c in found if c['task_pid'] and c['id'] in cached_ids))
        commands = [self._ctr(['containers', 'info', c['id']], c['namespace']) for c in found] if read_labels else []
        if pids:
            commands.append(['sh', '-c', NETNS_SH, 'sh'] + [str(pid) for pid in pids])
        if not commands:
            return
        results = self._run(commands, new_nonce())
        inodes = parse_netns(results[-1][1]) if pids else {}
        for index, container in enumerate(found):
            if read_labels:
                rc, out, err = results[index]
                if rc != 0 and 'not found' in err:
                    container['labels'] = {}   # removed between the two steps
                else:
                    info = parsers.parse_json(self._check(commands[index], results[index]),
                                              'container %s' % container['id'])
                    container['labels'] = info.get('Labels') or {}
            if container['id'] in cached_ids:
                container['cni'] = attachments_of(cache, container['id'], container['namespace'], self.address,
                                                  inodes.get(container['task_pid']))


def reader_error(exc):
    """The sentence of a failure while listing (HostError, CtrError or a parse error)."""
    if isinstance(exc, (HostError, CtrError)):
        return exc.message
    return str(exc)
