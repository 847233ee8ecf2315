# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Container options, each declared once in ``OPTIONS``.

An ``Option`` says how its value is given (argument spec), checked and
normalised, how it becomes ``ctr containers create`` arguments (or labels), how
it is read back from ``ctr containers info`` JSON, how it is compared and
predicted, and which ctr it needs. Everything else is derived here: the
argument spec, the validation, the desired spec (and its digest), the create
command, the comparison, the check-mode prediction and the result view.

Groups: ``spec`` options make up the container's OCI spec (a difference
recreates the container); ``task`` options concern its task (restart policy
labels, how a task is stopped); ``labels`` are set in place. Functions here are
pure, so unit tests feed them recorded ``ctr containers info`` output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import os
import shlex
import stat

from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.containers import (
    DEFAULT_MOUNTS,
    DEFAULT_RUNTIME,
    NS_LABEL_PREFIX,
    OWN_LABELS,
    RESTART_POLICY,
    RESTART_STATUS,
    SECRET_ENV_LABEL,
    SHARED_NAMESPACES,
    SPEC_LABEL,
)
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.reference import normalize as normalize_image

ALWAYS = 'always'   # compared (and predicted) whatever the value
WHEN_SET = 'set'    # compared (and predicted) only when the user gave a value: unset means "the image's"


def is_set(value):
    return value is not None and value != ''


def is_unset(value):
    """None or empty: an option the user left out (False is a value)."""
    return value is None or value in ('', [], {})


class Option:
    """One container option. See CONTRIBUTING.md, "Add a container option".

    name       the module option, the key in the desired spec and in the view
    spec       its argument spec entry (type, default, choices, elements, options)
    group      'spec', 'task' or 'labels'
    read       info JSON -> the actual value, in the desired spec's form (None: not read back)
    flags      '--flag' (value flag, given when set) or function(value, context) -> create args;
               None for the positional image and command
    labels     function(value) -> the labels the option puts on the container
    compare    ALWAYS, WHEN_SET or function(option, wanted, summary) -> [(field, wanted, actual)];
               None: not compared
    predict    ALWAYS, WHEN_SET or function(wanted, before) -> the view after a change (default: compare)
    normalize  function(value) -> the value of the desired spec (stable: it is hashed)
    check      function(value, params) raising InvalidInput, run before any ctr call
    view       whether the value shows in the result and the diff
    min_ctr    lowest ctr (containerd client) version with the flag, as a tuple
    requires   function(value) -> ('server', version, why and what to do) when a value needs a containerd
    secret     a dict whose values never show: the view, the diff and the digest carry its keys only,
               and compare reports its differences without values
    derive     function(params) -> the value, where it depends on other options (capabilities and cap_drop
               make one set; cpus sets cpu_quota and cpu_period); runs after check
    omit_unset left out of the digest while unset (None or empty), so that containers made before the
               option existed keep their digest and are not recreated by an upgrade
    edit       function(oci_spec, value) completing the spec ctr made, for what ctr has no flag for: the
               created container's spec is edited and given back to containerd (client.update_spec)
    doc        the option's description (sentences), rendered into the modules' documentation by
               .ci/option_docs.py; sub_docs the same for each suboption
    """

    def __init__(self, name, spec, group='spec', read=None, flags=None, labels=None, compare=ALWAYS,
                 predict=None, normalize=None, check=None, view=True, min_ctr=None, requires=None,
                 secret=False, derive=None, omit_unset=False, edit=None, doc=None, sub_docs=None):
        self.name = name
        self.edit = edit
        self.derive = derive
        self.omit_unset = omit_unset
        self.doc = doc or []
        self.sub_docs = sub_docs or {}
        self.spec = spec
        self.group = group
        self.read = read
        self.flags = flags
        self.labels = labels
        self.compare = compare
        self.predict = predict if predict is not None else (compare if compare in (ALWAYS, WHEN_SET) else None)
        self.normalize = normalize
        self.check = check
        self.view = view
        self.min_ctr = min_ctr
        self.requires = requires
        self.secret = secret

    def __repr__(self):
        return 'Option(%s)' % self.name

    @property
    def flag(self):
        return self.flags if isinstance(self.flags, str) else None

    def desired(self, params):
        if self.derive:
            return self.derive(params)
        value = params.get(self.name, self.spec.get('default'))
        return self.normalize(value) if self.normalize else value

    def create_args(self, value, context):
        if self.flags is None:
            return []
        if self.flag:
            return [self.flag, str(value)] if is_set(value) else []
        return self.flags(value, context)

    def differences(self, wanted, summary):
        if self.compare is None:
            return []
        if self.compare == WHEN_SET and not is_set(wanted):
            return []
        if self.compare in (ALWAYS, WHEN_SET):
            actual = summary[self.name]
            return [] if wanted == actual else [(self.name, wanted, actual)]
        return self.compare(self, wanted, summary)

    def predicted(self, wanted, before):
        if self.predict == ALWAYS or (self.predict == WHEN_SET and is_set(wanted)):
            return wanted
        if callable(self.predict):
            return self.predict(wanted, before)
        return before

    def needs(self, value):
        """('client', version) or ('server', version, reason) this value needs, or None."""
        if self.min_ctr and is_set(value):
            return ('client', self.min_ctr)
        return self.requires(value) if self.requires else None


# -- reading ``ctr containers info`` ------------------------------------------------------

def _spec(info):
    return info.get('Spec') or {}


def _process(info):
    return _spec(info).get('process') or {}


def _resources(info, kind):
    return ((_spec(info).get('linux') or {}).get('resources') or {}).get(kind) or {}


def joined_namespaces(info):
    """{type: path} of the namespaces the spec names (a type without path is a new namespace)."""
    return dict((ns.get('type'), ns.get('path')) for ns in (_spec(info).get('linux') or {}).get('namespaces') or [])


def _runtime_options(info):
    """The runtime options as text (the runc binary path shows in it), or None."""
    value = ((info.get('Runtime') or {}).get('Options') or {}).get('value')
    if not value:
        return None
    try:
        return base64.b64decode(value).decode('utf-8', 'replace')
    except (TypeError, ValueError):
        return str(value)


def _env_dict(items):
    return dict(item.partition('=')[::2] for item in items or [])


def _secret_names(labels):
    return [key for key in (labels.get(SECRET_ENV_LABEL) or '').split(',') if key]


def _read_secret_env(info):
    """The variables of the spec that came from secret_env (named by SECRET_ENV_LABEL), with their values."""
    env = _env_dict(_process(info).get('env'))
    return dict((key, env[key]) for key in _secret_names(info.get('Labels') or {}) if key in env)


def _read_user(info):
    user = _process(info).get('user') or {}
    return '%s:%s' % (user.get('uid', 0), user.get('gid', 0))


def _read_mounts(info):
    return [dict(type=m.get('type'), source=m.get('source'), destination=m.get('destination'),
                 options=list(m.get('options') or [])) for m in _spec(info).get('mounts') or []
            if m.get('source') not in OPTION_MOUNT_SOURCES]  # those of tmpfs and shm_size


def _read_restart_policy(info):
    labels = info.get('Labels') or {}
    return labels.get(RESTART_POLICY) or ('always' if RESTART_STATUS in labels else 'no')


def _namespace_reader(kind):
    def read(info):
        return (info.get('Labels') or {}).get(NS_LABEL_PREFIX + kind) or joined_namespaces(info).get(kind)
    return read


# -- normalising and checking ----------------------------------------------------------

def _str_list(value):
    return [str(item) for item in value] if value is not None else None


def _command(value):
    """A list as it is, a string split the way a shell would (no shell runs it): ``command='sleep 600'``
    is what an operator types in an ad-hoc command, as with community.docker's docker_container."""
    if isinstance(value, str):
        return shlex.split(value)
    return _str_list(value)


def _check_command(value, params):
    if value is not None and not isinstance(value, (str, list)):
        raise InvalidInput('command must be a list of arguments or a string (split as a shell would), not %r.'
                           % (value,))
    if isinstance(value, str):
        try:
            shlex.split(value)
        except ValueError as exc:
            raise InvalidInput('command %r cannot be split into arguments (%s): close its quotes or give a list.'
                               % (value, exc))


def _str_dict(value):
    return dict((str(key), str(item)) for key, item in (value or {}).items())


def _normalize_mounts(value):
    mounts = []
    for mount in value or []:
        kind = mount.get('type') or 'bind'
        options = mount.get('options')
        if options is None:
            options = ['rbind', 'rw'] if kind == 'bind' else []
        mounts.append(dict(type=kind, source=mount.get('source') or kind, destination=mount['destination'],
                           options=[str(option) for option in options]))
    return mounts


def _check_mounts(value, params):
    for mount in value or []:
        destination = mount['destination']
        if not destination.startswith('/'):
            raise InvalidInput('Mount destination %r must be an absolute path.' % destination)
        if (mount.get('type') or 'bind') == 'bind':
            if not mount.get('source'):
                raise InvalidInput('The bind mount at %s needs a source: the host path to mount.' % destination)
            if not os.path.exists(mount['source']) and mount['source'] not in params.get('made_before', ()):
                raise InvalidInput('Mount source %s (for %s) does not exist on the host: create it first, for '
                                   'example with ansible.builtin.file state=directory.'
                                   % (mount['source'], destination))
        for option in mount.get('options') or []:
            if ':' in option or ',' in option:
                raise InvalidInput('Mount option %r contains ":" or ",", which ctr\'s --mount cannot carry.'
                                   % option)


def _check_secret_env(value, params):
    validate.env_names(value)
    for key, item in (value or {}).items():
        if '\n' in str(item):
            raise InvalidInput('secret_env %s: a value with a line break cannot go through ctr\'s --env-file; '
                               'pass it in a mounted file instead.' % key)
        if key in (params.get('env') or {}):
            raise InvalidInput('Variable %s is in both env and secret_env: keep it in one of them.' % key)


def _memory_bytes(value):
    if value is None or isinstance(value, int):
        return value
    try:
        return int(human_to_bytes(value))
    except ValueError as exc:
        raise InvalidInput('Invalid memory_limit %r: %s' % (value, exc))


def _check_memory(value, params):
    _memory_bytes(value)


def _check_labels(value, params):
    validate.label_keys(value)
    for key in value or {}:
        if key in OWN_LABELS or key.startswith(NS_LABEL_PREFIX):
            raise InvalidInput('Label %s is managed by this module: use the matching option '
                               '(restart_policy, network_from, ...) instead.' % key)


def _namespace_checker(option):
    def check(value, params):
        if option == 'network_from' and value is not None and params.get('net_host'):
            raise InvalidInput('net_host and network_from exclude each other: choose one network namespace.')
        if value is None:
            return
        if value.startswith('/'):
            # A pinned namespace is made just before the container (not in check mode): container_networks.
            if not os.path.exists(value) and value not in params.get('made_before', ()):
                raise InvalidInput('%s: namespace path %s does not exist.' % (option, value))
            return
        problem = validate.identifier_error(value, '%s container name' % option)
        if problem:
            raise InvalidInput('Invalid %s: %s (or give an absolute namespace path).' % (option, problem))
        if value == params.get('name'):
            raise InvalidInput('%s names the container itself.' % option)
    return check


def _check_signal(value, params):
    validate.signal(value)


# -- create arguments --------------------------------------------------------------------

def _switch(flag):
    def flags(value, context):
        return [flag] if value else []
    return flags


def _env_flags(value, context):
    args = []
    for key, item in sorted(value.items()):
        args += ['--env', '%s=%s' % (key, item)]
    return args


def _secret_env_flags(value, context):
    return ['--env-file', context.get('env_file') or '<env-file>'] if value else []


def _mount_flags(value, context):
    args = []
    for mount in value:
        text = 'type=%s,src=%s,dst=%s' % (mount['type'], mount['source'], mount['destination'])
        if mount['options']:
            text += ',options=' + ':'.join(mount['options'])
        args += ['--mount', text]
    return args


def _namespace_flags(kind):
    def flags(value, context):
        path = (context.get('ns_paths') or {}).get(kind)  # resolved at create time (a task's /proc/PID/ns)
        return ['--with-ns', '%s:%s' % (kind, path)] if path else []
    return flags


def _runtime_flags(value, context):
    return ['--runtime', value] if value != DEFAULT_RUNTIME else []


def _memory_flags(value, context):
    return ['--memory-limit', str(value)] if value else []


def _namespace_labels(kind):
    def labels(value):
        return {NS_LABEL_PREFIX + kind: value} if value else {}
    return labels


def _secret_env_labels(value):
    return {SECRET_ENV_LABEL: ','.join(sorted(value))} if value else {}


def _restart_labels(value):
    return {RESTART_STATUS: 'stopped', RESTART_POLICY: value} if value != 'no' else {}


# -- comparing ----------------------------------------------------------------------------

def _compare_env(option, wanted, summary):
    return [('env.' + key, value, summary['env'].get(key)) for key, value in sorted(wanted.items())
            if summary['env'].get(key) != value]


def _compare_secret_env(option, wanted, summary):
    """Values compared with the spec's, reported without them (``(hidden)``)."""
    actual = summary['secret_env']
    return [('secret_env.' + key, _hidden(key in wanted), _hidden(key in actual))
            for key in sorted(set(wanted) | set(actual)) if wanted.get(key) != actual.get(key)]


def _hidden(present):
    return '(hidden)' if present else None


def _compare_user(option, wanted, summary):
    """A numeric ``uid[:gid]`` is compared with the spec; names cannot be resolved here (digest only)."""
    if not wanted:
        return []
    uid, _sep, gid = wanted.partition(':')
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return []
    actual_uid, _sep, actual_gid = summary['user'].partition(':')
    if actual_uid == str(int(uid)) and (not gid or actual_gid == str(int(gid))):
        return []
    return [('user', wanted, summary['user'])]


def _compare_mounts(option, wanted, summary):
    diffs = []
    actual = dict((m['destination'], m) for m in summary['mounts'])
    for mount in wanted:
        if mount != actual.get(mount['destination']):
            diffs.append(('mounts.' + mount['destination'], mount, actual.get(mount['destination'])))
    wanted_destinations = set(m['destination'] for m in wanted)
    for destination, mount in sorted(actual.items()):
        if destination not in wanted_destinations and destination not in DEFAULT_MOUNTS:
            diffs.append(('mounts.' + destination, None, mount))
    return diffs


def _namespace_comparer(kind):
    def compare(option, wanted, summary):
        joined = summary['namespaces'].get(kind)
        if not wanted:
            return [(option.name, None, joined)] if joined else []
        named = summary['labels'].get(NS_LABEL_PREFIX + kind)
        return [(option.name, wanted, named or joined)] if not joined or named != wanted else []
    return compare


def _compare_runtime_binary(option, wanted, summary):
    if wanted and wanted not in (summary['runtime_binary'] or ''):
        return [('runtime_binary', wanted, None)]
    return []


def _compare_memory(option, wanted, summary):
    wanted, actual = wanted or None, summary['memory_limit']
    return [] if wanted == actual else [('memory_limit', wanted, actual)]


def _compare_cpu_quota(option, wanted, summary):
    actual = summary['cpu_quota']
    if (wanted is not None or actual not in (None, -1)) and wanted != actual:
        return [('cpu_quota', wanted, actual)]
    return []


def _predict_items(wanted, before):
    """The keys set, over what the container has; for a new container without them, containerd's default (unknown
    here: None)."""
    if before is None and not wanted:
        return None
    return _predict_env(wanted, before)


def _predict_env(wanted, before):
    env = dict(before or {})
    env.update(wanted)
    return env


def _policy_requires(value):
    if value in ('on-failure', 'unless-stopped'):
        return ('server', (1, 7), 'whose restart monitor knows no policy): use always or no')
    return None


# -- security, tmpfs and CPU options carried by ctr's flags ------------------------------

# capabilities(7), as the kernel names them.
CAPABILITIES = tuple('CAP_' + name for name in (
    'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
    'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
    'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
    'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
    'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
    'CHECKPOINT_RESTORE'))
# What ctr's default spec gives a container, on containerd 1.6 as on 2.x (Docker's default set).
DEFAULT_CAPABILITIES = ('CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
                        'CAP_MKNOD', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID',
                        'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT')
# Mount sources that mark the mounts of the tmpfs and shm_size options (not of mounts).
TMPFS_SOURCE = 'ctrops-tmpfs'
SHM_SOURCE = 'ctrops-shm'
OPTION_MOUNT_SOURCES = (TMPFS_SOURCE, SHM_SOURCE)
CPU_PERIOD = 100000  # what Docker's --cpus uses


def _cap_name(value):
    name = str(value).strip().upper()
    return name if name.startswith('CAP_') or name == 'ALL' else 'CAP_' + name


def _capability_checker(option):
    def check(value, params):
        for item in value or []:
            name = _cap_name(item)
            if name == 'ALL' and option == 'capabilities':
                raise InvalidInput('capabilities: ALL is what privileged=true gives; name the capabilities to add.')
            if name != 'ALL' and name not in CAPABILITIES:
                raise InvalidInput('%s: unknown capability %r; name it as capabilities(7) does, for example '
                                   'NET_ADMIN or CAP_NET_ADMIN.' % (option, item))
        if value and params.get('privileged'):
            raise InvalidInput('%s and privileged exclude each other: a privileged container has every capability.'
                               % option)
    return check


def _capability_set(params):
    """The container's capabilities as Docker computes them: a drop of ALL leaves the added ones only."""
    added = set(_cap_name(item) for item in params.get('capabilities') or [])
    dropped = set(_cap_name(item) for item in params.get('cap_drop') or [])
    if 'ALL' in dropped:
        return added
    return (set(DEFAULT_CAPABILITIES) | added) - (dropped - added)


def _bounding(info):
    return set((_process(info).get('capabilities') or {}).get('bounding') or [])


def _read_added(info):
    # A privileged container has every capability: privileged shows (and is compared) instead.
    return [] if _read_privileged(info) else sorted(_bounding(info) - set(DEFAULT_CAPABILITIES))


def _read_dropped(info):
    return [] if _read_privileged(info) else sorted(set(DEFAULT_CAPABILITIES) - _bounding(info))


def _capability_flags(flag):
    def flags(value, context):
        args = []
        for name in value:
            args += [flag, name]
        return args
    return flags


def _read_privileged(info):
    # ctr's --privileged clears the masked paths (it also gives every capability, which capabilities can too).
    return not (_spec(info).get('linux') or {}).get('maskedPaths')


def _new_privs_flags(value, context):
    return ['--allow-new-privs'] if value is False else []


def _check_seccomp(value, params):
    if value in (None, 'default', 'unconfined'):
        return
    if not value.startswith('/'):
        raise InvalidInput('seccomp_profile %r must be default, unconfined or the absolute path of a profile file '
                           '(an OCI LinuxSeccomp JSON document).' % value)
    _seccomp_file(value)


def _without_empty(value):
    """A JSON value without empty members: containerd stores a profile without the zero values Go omits."""
    if isinstance(value, dict):
        value = dict((key, _without_empty(item)) for key, item in value.items())
        return dict((key, item) for key, item in value.items() if item not in (None, '', [], {}, 0, False))
    if isinstance(value, list):
        return [_without_empty(item) for item in value]
    return value


def _seccomp_of(info):
    seccomp = (_spec(info).get('linux') or {}).get('seccomp')
    return _without_empty(seccomp) if seccomp else None


def _seccomp_file(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (IOError, OSError) as exc:
        raise InvalidInput('seccomp_profile %s cannot be read (%s): give an existing profile file.'
                           % (path, exc.strerror or exc))
    except ValueError as exc:
        raise InvalidInput('seccomp_profile %s is not JSON (%s): give an OCI LinuxSeccomp document.' % (path, exc))


def _seccomp_flags(value, context):
    if value in (None, 'unconfined'):
        return []
    return ['--seccomp'] + (['--seccomp-profile', value] if value != 'default' else [])


def _compare_seccomp(option, wanted, summary):
    """Compared with the spec's seccomp section: a profile file's content (as containerd loads it)."""
    actual = summary['seccomp_profile']
    if wanted is None:
        return []
    if wanted == 'unconfined':
        same = actual is None
    elif wanted == 'default':
        same = actual is not None
    else:
        same = actual == _without_empty(_seccomp_file(wanted))
    return [] if same else [('seccomp_profile', wanted, 'unconfined' if actual is None else 'another profile')]


def _check_apparmor(value, params):
    if value and not os.path.isdir('/sys/kernel/security/apparmor'):
        raise InvalidInput('apparmor_profile %s: AppArmor is not enabled on this host '
                           '(/sys/kernel/security/apparmor is missing); leave the option out here.' % value)


def _read_annotations(info):
    # ctr copies the container's labels into the spec's annotations: those are not annotations of the user.
    labels = info.get('Labels') or {}
    return dict((key, value) for key, value in (_spec(info).get('annotations') or {}).items()
                if labels.get(key) != value)


def _compare_annotations(option, wanted, summary):
    return [('annotations.' + key, value, summary['annotations'].get(key)) for key, value in sorted(wanted.items())
            if summary['annotations'].get(key) != value]


def _annotation_flags(value, context):
    args = []
    for key, item in sorted(value.items()):
        args += ['--annotation', '%s=%s' % (key, item)]
    return args


def _check_annotations(value, params):
    for key in value or {}:
        if not key or '=' in key:
            raise InvalidInput('annotations: key %r must be non-empty and without "=".' % key)


def _tmpfs_options(text):
    """The mount options of a tmpfs entry: the user's, then noexec, nosuid and nodev unless given otherwise."""
    items = [item.strip() for item in str(text or '').split(',') if item.strip()]
    for default, opposite in (('noexec', 'exec'), ('nosuid', 'suid'), ('nodev', 'dev')):
        if default not in items and opposite not in items:
            items.append(default)
    return items


def _normalize_tmpfs(value):
    return dict((str(path), ','.join(_tmpfs_options(options))) for path, options in (value or {}).items())


def _check_tmpfs(value, params):
    for path, options in (value or {}).items():
        if not str(path).startswith('/'):
            raise InvalidInput('tmpfs: %r must be an absolute path inside the container.' % path)
        if ':' in str(options or ''):
            raise InvalidInput('tmpfs %s: options %r contain ":", which ctr\'s --mount cannot carry; separate '
                               'options with ",".' % (path, options))


def _tmpfs_flags(value, context):
    args = []
    for path, options in sorted((value or {}).items()):
        args += ['--mount', 'type=tmpfs,src=%s,dst=%s,options=%s' % (TMPFS_SOURCE, path, options.replace(',', ':'))]
    return args


def _read_tmpfs(info):
    return dict((m.get('destination'), ','.join(m.get('options') or [])) for m in _spec(info).get('mounts') or []
                if m.get('source') == TMPFS_SOURCE)


def _shm_bytes(value):
    if value is None or isinstance(value, int):
        return value
    try:
        return int(human_to_bytes(value))
    except ValueError as exc:
        raise InvalidInput('Invalid shm_size %r: %s' % (value, exc))


def _check_shm(value, params):
    size = _shm_bytes(value)
    if size is not None and size < 4096:
        raise InvalidInput('shm_size %r is less than one page (4k): give a size such as 64m.' % (value,))


def _shm_flags(value, context):
    if not value:
        return []
    return ['--mount', 'type=tmpfs,src=%s,dst=/dev/shm,options=nosuid:noexec:nodev:mode=1777:size=%d'
            % (SHM_SOURCE, value)]


def _read_shm(info):
    for mount in reversed(_spec(info).get('mounts') or []):
        if mount.get('source') == SHM_SOURCE:
            for option in mount.get('options') or []:
                if option.startswith('size='):
                    return int(option[len('size='):])
    return None


def _check_cpus(value, params):
    if value is None:
        return
    if value <= 0:
        raise InvalidInput('cpus must be more than 0 (for example 0.5 or 2), not %s.' % value)
    if params.get('cpu_quota') is not None or params.get('cpu_period') is not None:
        raise InvalidInput('cpus and cpu_quota/cpu_period set the same limit: give either cpus or the other two.')
    if value > (os.cpu_count() or 1):
        raise InvalidInput('cpus %s is more than the %d CPUs this host has.' % (value, os.cpu_count() or 1))


def _read_cpus(info):
    cpu = _resources(info, 'cpu')
    if cpu.get('quota') and cpu['quota'] > 0 and cpu.get('period'):
        return round(float(cpu['quota']) / cpu['period'], 3)
    return None


def _derive_cpu(field):
    def derive(params):
        cpus = params.get('cpus')
        if params.get(field) is not None or not cpus:
            return params.get(field)
        return int(round(cpus * CPU_PERIOD)) if field == 'cpu_quota' else CPU_PERIOD
    return derive


# -- options ctr has no flag for: completed in the created container's spec (client.update_spec) --------

RLIMITS = ('as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss',
           'rtprio', 'rttime', 'sigpending', 'stack')
RLIM_INFINITY = 2 ** 64 - 1
# Sysctls the kernel keeps per namespace (runc refuses the others): prefixes and whole names.
NAMESPACED_SYSCTLS = ('net.', 'fs.mqueue.', 'kernel.shm', 'kernel.msg')
NAMESPACED_SYSCTL_NAMES = ('kernel.sem', 'kernel.domainname', 'kernel.hostname')


def _linux(oci):
    return oci.setdefault('linux', {})


def _oci_resources(oci, kind):
    return _linux(oci).setdefault('resources', {}).setdefault(kind, {})


def _rlimit_value(value, name):
    if value in ('unlimited', -1):
        return RLIM_INFINITY
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -2
    if number < 0:
        raise InvalidInput('ulimits %s: %r is not a number of 0 or more (or unlimited).' % (name, value))
    return number


def _normalize_ulimits(value):
    """{name: {soft, hard}} from ``nofile: 65536``, ``nofile: "1024:4096"`` or ``nofile: {soft: 1024, hard: 4096}``."""
    limits = {}
    for name, limit in (value or {}).items():
        if isinstance(limit, dict):
            soft, hard = limit.get('soft', limit.get('hard')), limit.get('hard', limit.get('soft'))
        elif isinstance(limit, str) and ':' in limit:
            soft, hard = limit.split(':', 1)
        else:
            soft = hard = limit
        limits[str(name).lower()] = dict(soft=_rlimit_value(soft, name), hard=_rlimit_value(hard, name))
    return limits


def _check_ulimits(value, params):
    for name in value or {}:
        if str(name).lower() not in RLIMITS:
            raise InvalidInput('ulimits: unknown limit %r; the names are those of ulimit and setrlimit(2): %s.'
                               % (name, ', '.join(RLIMITS)))
    for name, limit in _normalize_ulimits(value).items():
        if limit['soft'] > limit['hard']:
            raise InvalidInput('ulimits %s: the soft limit %d is above the hard limit %d.'
                               % (name, limit['soft'], limit['hard']))


def _read_ulimits(info):
    return dict((item['type'][len('RLIMIT_'):].lower(), dict(soft=item.get('soft', 0), hard=item.get('hard', 0)))
                for item in _process(info).get('rlimits') or [] if item.get('type', '').startswith('RLIMIT_'))


def _edit_ulimits(oci, value):
    process = oci.setdefault('process', {})
    wanted = set('RLIMIT_' + name.upper() for name in value)
    rlimits = [item for item in process.get('rlimits') or [] if item.get('type') not in wanted]
    for name, limit in sorted(value.items()):
        rlimits.append(dict(type='RLIMIT_' + name.upper(), hard=limit['hard'], soft=limit['soft']))
    process['rlimits'] = rlimits


def _compare_items(option, wanted, summary):
    """The wanted keys only (a key removed from the task is noticed by the options digest)."""
    actual = summary[option.name] or {}
    return [('%s.%s' % (option.name, key), value, actual.get(key)) for key, value in sorted(wanted.items())
            if actual.get(key) != value]


def _check_sysctls(value, params):
    for name in value or {}:
        if not (name.startswith(NAMESPACED_SYSCTLS) or name in NAMESPACED_SYSCTL_NAMES):
            raise InvalidInput('sysctls: %s is not kept per container by the kernel (only net.*, kernel.shm*, '
                               'kernel.msg*, kernel.sem and fs.mqueue.* are); set it on the host.' % name)
        if name.startswith('net.') and params.get('net_host'):
            raise InvalidInput('sysctls: %s would change the host\'s network settings: not with net_host.' % name)


def _edit_sysctls(oci, value):
    _linux(oci).setdefault('sysctl', {}).update(value)


def _check_positive(option, low=1, high=None):
    def check(value, params):
        if value is not None and (value < low or (high is not None and value > high)):
            bounds = 'from %d to %d' % (low, high) if high is not None else '%d or more' % low
            raise InvalidInput('%s must be %s, not %s.' % (option, bounds, value))
    return check


def _edit_resource(kind, field):
    def edit(oci, value):
        _oci_resources(oci, kind)[field] = value
    return edit


def _cpu_list(text):
    """The CPUs (or memory nodes) of a list such as ``0-2,4``, or None when it does not parse."""
    numbers = set()
    for part in str(text).split(','):
        low, _sep, high = part.strip().partition('-')
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        numbers.update(range(int(low), int(high or low) + 1))
    return numbers


def _check_cpuset(option):
    def check(value, params):
        if value is None:
            return
        numbers = _cpu_list(value)
        if numbers is None:
            raise InvalidInput('%s %r is not a list such as 0-2,4.' % (option, value))
        if option == 'cpuset_cpus':
            present = set(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else set(
                range(os.cpu_count() or 1))
            what = 'CPUs'
        else:
            present = set(int(name[4:]) for name in os.listdir('/sys/devices/system/node')
                          if name.startswith('node') and name[4:].isdigit()) \
                if os.path.isdir('/sys/devices/system/node') else {0}
            what = 'memory nodes'
        missing = sorted(numbers - present)
        if missing:
            raise InvalidInput('%s %s names %s this host lacks (it has %s).'
                               % (option, value, what, ','.join(str(n) for n in sorted(present))))
    return check


def _check_groups(value, params):
    for group in value or []:
        if not str(group).isdigit():
            raise InvalidInput('groups: %r is not a numeric GID; give the group IDs (names are not looked up in '
                               'the image).' % (group,))


def _edit_groups(oci, value):
    user = oci.setdefault('process', {}).setdefault('user', {})
    gids = list(user.get('additionalGids') or [])
    user['additionalGids'] = gids + [gid for gid in value if gid not in gids]


def _compare_groups(option, wanted, summary):
    missing = [gid for gid in wanted or [] if gid not in (summary['groups'] or [])]
    return [('groups', wanted, summary['groups'])] if missing else []


def _predict_groups(wanted, before):
    if before is None and not wanted:
        return None  # the image's, unknown before the create
    return list(before or []) + [gid for gid in wanted or [] if gid not in (before or [])]


def _all_digits(value):
    return all(str(item).isdigit() for item in value or [])


def _check_oom(value, params):
    if value is not None and not -1000 <= value <= 1000:
        raise InvalidInput('oom_score_adj must be from -1000 to 1000, not %s.' % value)


def _edit_process(field):
    def edit(oci, value):
        oci.setdefault('process', {})[field] = value
    return edit


def _device(text):
    """A ``HOST[:CONTAINER[:PERMISSIONS]]`` entry as the spec holds it (the host node's type and numbers)."""
    parts = str(text).split(':')
    host = parts[0]
    path = parts[1] if len(parts) > 1 and parts[1] else host
    access = parts[2] if len(parts) > 2 and parts[2] else 'rwm'
    try:
        node = os.stat(host)
    except OSError:
        node = None
    kind = None
    if node is not None and stat.S_ISCHR(node.st_mode):
        kind = 'c'
    elif node is not None and stat.S_ISBLK(node.st_mode):
        kind = 'b'
    return dict(path=path, type=kind, major=os.major(node.st_rdev) if kind else None,
                minor=os.minor(node.st_rdev) if kind else None, access=access,
                mode=stat.S_IMODE(node.st_mode) if kind else None)


def _normalize_devices(value):
    return [_device(text) for text in value or []]


def _check_devices(value, params):
    for text in value or []:
        parts = str(text).split(':')
        if len(parts) > 3 or not parts[0].startswith('/'):
            raise InvalidInput('devices: %r is not HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]], for example '
                               '/dev/fuse or /dev/sda:/dev/xvda:rwm.' % (text,))
        device = _device(text)
        if not os.path.exists(parts[0]):
            raise InvalidInput('devices: %s does not exist on this host.' % parts[0])
        if device['type'] is None:
            raise InvalidInput('devices: %s is not a character or block device.' % parts[0])
        if not device['path'].startswith('/'):
            raise InvalidInput('devices: %r must be an absolute path inside the container.' % device['path'])
        if not device['access'] or set(device['access']) - set('rwm'):
            raise InvalidInput('devices %s: permissions %r must be letters of rwm.' % (text, device['access']))
    if value and params.get('privileged'):
        raise InvalidInput('devices and privileged exclude each other: a privileged container has every host device.')


def _edit_devices(oci, value):
    linux = _linux(oci)
    paths = set(device['path'] for device in value)
    devices = [item for item in linux.get('devices') or [] if item.get('path') not in paths]
    rules = linux.setdefault('resources', {}).setdefault('devices', [])
    for device in value:
        devices.append(dict(path=device['path'], type=device['type'], major=device['major'],
                            minor=device['minor'], fileMode=device['mode'], uid=0, gid=0))
        rules.append(dict(allow=True, type=device['type'], major=device['major'], minor=device['minor'],
                          access=device['access']))
    linux['devices'] = devices


def _read_devices(info):
    if _read_privileged(info):
        return []  # every host device: privileged shows (and is compared) instead
    linux = _spec(info).get('linux') or {}
    rules = (linux.get('resources') or {}).get('devices') or []
    devices = []
    for item in linux.get('devices') or []:
        # The last rule for the node decides (the default rules allow some nodes already).
        access = ([rule.get('access') or '' for rule in rules if rule.get('allow') and
                   rule.get('type') == item.get('type') and rule.get('major') == item.get('major') and
                   rule.get('minor') == item.get('minor')] or [''])[-1]
        devices.append(dict(path=item.get('path'), type=item.get('type'), major=item.get('major'),
                            minor=item.get('minor'), access=access, mode=item.get('fileMode')))
    return devices


# -- the table ----------------------------------------------------------------------------

NS_DOCS = {
    'network_from': [
        "Join the network namespace of another container's running task (give its name) or of a path such as "
        "C(/proc/PID/ns/net) or C(/var/run/netns/NAME) (ctr's C(--with-ns network:PATH)).",
        "A container name is kept in the label C(ctrops.containerd/ns.network) and compared by name, so it stays "
        "unchanged when the other container's task restarts with another PID. If the path stored in the spec "
        "became stale and this container has no running task, it is recreated with the current path.",
    ],
    'pid_from': ["Join the PID namespace of another container's running task or of a path, as O(network_from)."],
    'ipc_from': ["Join the IPC namespace of another container's running task or of a path, as O(network_from)."],
}

NS_OPTIONS = [
    Option(option, dict(type='str'), read=_namespace_reader(kind), flags=_namespace_flags(kind),
           labels=_namespace_labels(kind), compare=_namespace_comparer(kind), predict=ALWAYS,
           check=_namespace_checker(option), doc=NS_DOCS[option])
    for option, kind, _short in SHARED_NAMESPACES
]

OPTIONS = [
    # image and command are positional: create_args puts them after '--' (image, name, command).
    Option('image', dict(type='str'), read=lambda info: info.get('Image'),
           normalize=lambda value: normalize_image(value) if value else None,
           check=lambda value, params: normalize_image(value, option='image'), doc=[
               'Image to create the container from, as users write it (V(busybox) is '
               'C(docker.io/library/busybox:latest)).',
               'The image must be in containerd already; this module does not pull. Put a '
               'M(ctrops.containerd.containerd_image) task before this one.',
               'Required with O(state=present).']),
    Option('command', dict(type='raw'), read=lambda info: _process(info).get('args') or [],
           normalize=_command, compare=WHEN_SET, check=_check_command, doc=[
               "The process's argument vector (C(args) of the OCI spec). Default is the image's.",
               "A list, or a string split into arguments the way a shell would (no shell runs it), as "
               "community.docker's C(docker_container) takes it; V(sleep 600) is V([sleep, \"600\"])."]),
    Option('env', dict(type='dict'), read=lambda info: _env_dict(_process(info).get('env')),
           flags=_env_flags, normalize=_str_dict, compare=_compare_env, predict=_predict_env,
           check=lambda value, params: validate.env_names(value), doc=[
               "Environment variables added to the image's.",
               "Their values show in C(ctr)'s argv, the result and the diff; use O(secret_env) for secrets."]),
    Option('secret_env', dict(type='dict', no_log=True), read=_read_secret_env, flags=_secret_env_flags,
           labels=_secret_env_labels, normalize=_str_dict, compare=_compare_secret_env, predict=ALWAYS,
           check=_check_secret_env, secret=True, doc=[
               "Environment variables added to the image's whose values are secret (tokens, passwords).",
               "The values reach C(ctr containers create) through C(--env-file), a file of mode 0600 in a private "
               "temporary directory that is removed after the call (also on failure), never through an argv. They "
               "do not show in the result, the diff, the O(recreate=false) failure or the options digest (which "
               "holds the names only). The result's RV(container.env) leaves them out; RV(container.secret_env) "
               "lists their names. Their names are kept in the container label C(ctrops.containerd/secret-env).",
               "A changed value is noticed by comparing the values in the container's OCI spec (without showing "
               "them) and recreates the container.",
               "Not protected, because containerd keeps them there by design; the container's OCI spec (C(ctr "
               "containers info), containerd's metadata database, readable by root and by whoever can use the "
               "containerd socket) and the environment of the container's processes (C(/proc/PID/environ)).",
               "A value must not contain a line break (C(--env-file) reads one variable per line); a name must not "
               "also be in O(env)."]),
    Option('cwd', dict(type='str'), read=lambda info: _process(info).get('cwd'), flags='--cwd', compare=WHEN_SET,
           doc=["Working directory of the process. Default is the image's."]),
    Option('user', dict(type='str'), read=_read_user, flags='--user', compare=_compare_user, predict=WHEN_SET,
           min_ctr=(1, 7), doc=[
               'User (and group) of the process, C(uid[:gid]) or C(name[:group]).',
               "Needs the ctr of containerd 1.7 or later (1.6's ctr has no C(--user)).",
               'Numeric values are also compared with the spec; names only through the options digest.']),
    Option('hostname', dict(type='str'), read=lambda info: _spec(info).get('hostname') or None,
           flags='--hostname', compare=WHEN_SET, min_ctr=(1, 7), doc=[
               'Host name inside the container.',
               "Needs the ctr of containerd 1.7 or later (1.6's ctr has no C(--hostname))."]),
    Option('mounts', dict(type='list', elements='dict', options=dict(
        type=dict(type='str', default='bind'),
        source=dict(type='str'),
        destination=dict(type='str', required=True),
        options=dict(type='list', elements='str'),
    )), read=_read_mounts, flags=_mount_flags, normalize=_normalize_mounts, compare=_compare_mounts,
        predict=ALWAYS, check=_check_mounts, doc=["Extra mounts, as ctr's C(--mount)."], sub_docs=dict(
            type=['Mount type.'],
            source=['Host path for a bind mount (must exist), or the source of another mount type.'],
            destination=['Absolute path inside the container.'],
            options=['Mount options. Default for bind mounts is V([rbind, rw]).'])),
    Option('tmpfs', dict(type='dict'), read=_read_tmpfs, flags=_tmpfs_flags, normalize=_normalize_tmpfs,
           predict=ALWAYS, check=_check_tmpfs, omit_unset=True, doc=[
               'tmpfs file systems to mount, as community.docker\'s C(tmpfs) and C(docker run --tmpfs): the path '
               'inside the container, and its mount options separated by commas (V(size=64m,mode=1777)) or an '
               'empty string.',
               'V(noexec), V(nosuid) and V(nodev) are added unless the options say V(exec), V(suid) or V(dev).']),
    Option('shm_size', dict(type='str'), read=_read_shm, flags=_shm_flags, normalize=_shm_bytes,
           predict=ALWAYS, check=_check_shm, omit_unset=True, doc=[
               'Size of C(/dev/shm), in bytes or with a unit (V(64m), V(1g)). Default is containerd\'s, 64 MiB.',
               'A tmpfs of that size is mounted over the default one.']),
    Option('net_host', dict(type='bool', default=False), read=lambda info: 'network' not in joined_namespaces(info),
           flags=_switch('--net-host'), normalize=bool,
           doc=["Use the host's network namespace (ctr's C(--net-host))."]),
] + NS_OPTIONS + [
    Option('privileged', dict(type='bool', default=False), read=_read_privileged,
           flags=_switch('--privileged'), normalize=bool, doc=[
               'Run privileged (all capabilities, host devices, no masked paths).']),
    Option('capabilities', dict(type='list', elements='str'), read=_read_added,
           flags=_capability_flags('--cap-add'), check=_capability_checker('capabilities'), omit_unset=True,
           derive=lambda params: sorted(_capability_set(params) - set(DEFAULT_CAPABILITIES)), doc=[
               'Capabilities added to the default set (ctr\'s C(--cap-add)), as capabilities(7) names them, with or '
               'without C(CAP_) (V(NET_ADMIN)).',
               'The result shows the capabilities the container has beyond the default set.']),
    Option('cap_drop', dict(type='list', elements='str'), read=_read_dropped,
           flags=_capability_flags('--cap-drop'), check=_capability_checker('cap_drop'), omit_unset=True,
           derive=lambda params: sorted(set(DEFAULT_CAPABILITIES) - _capability_set(params)), doc=[
               'Capabilities removed from the default set (ctr\'s C(--cap-drop)). V(ALL) removes all but those of '
               'O(capabilities), as Docker does.',
               'The result shows the default capabilities the container lacks.']),
    Option('no_new_privileges', dict(type='bool'), read=lambda info: bool(_process(info).get('noNewPrivileges')),
           flags=_new_privs_flags, compare=WHEN_SET, omit_unset=True, doc=[
               'Whether the process and its children may gain privileges (setuid programs, file capabilities): '
               'V(true) forbids it (the OCI spec\'s C(noNewPrivileges), seen as C(NoNewPrivs) in '
               'C(/proc/PID/status)).',
               'Unset is containerd\'s default, which is V(true) for containers made by ctr (unlike Docker); '
               'V(false) gives ctr\'s C(--allow-new-privs).']),
    Option('seccomp_profile', dict(type='str'), read=_seccomp_of, flags=_seccomp_flags,
           compare=_compare_seccomp, check=_check_seccomp, view=False, omit_unset=True, doc=[
               'The seccomp filter of the process: V(unconfined) (none, the default of containers made by ctr), '
               'V(default) (containerd\'s default profile, ctr\'s C(--seccomp)) or the absolute path of a profile '
               'file on the host, an OCI C(LinuxSeccomp) JSON document (ctr\'s C(--seccomp-profile)).',
               'A profile file is compared by content with the container\'s spec: an edited file recreates the '
               'container.']),
    Option('apparmor_profile', dict(type='str'), read=lambda info: _process(info).get('apparmorProfile') or None,
           flags='--apparmor-profile', compare=WHEN_SET, check=_check_apparmor, omit_unset=True, doc=[
               'Name of an AppArmor profile loaded on the host to confine the process in (ctr\'s '
               'C(--apparmor-profile)).',
               'Refused on a host without AppArmor.']),
    Option('annotations', dict(type='dict'), read=_read_annotations, flags=_annotation_flags,
           normalize=_str_dict, compare=_compare_annotations, predict=_predict_items, check=_check_annotations,
           omit_unset=True, doc=[
               'OCI annotations of the container (ctr\'s C(--annotation)), which the runtime and its hooks read '
               '(for example C(runc state)).',
               'Annotations that differ recreate the container; others are left as they are (C(ctr) copies the '
               'container\'s labels into its annotations too).']),
    Option('devices', dict(type='list', elements='str'), read=_read_devices, edit=_edit_devices,
           normalize=_normalize_devices, check=_check_devices,
           omit_unset=True, doc=[
               'Host devices the container may use, as C(docker run --device): C(HOST_PATH[:CONTAINER_PATH'
               '[:PERMISSIONS]]), for example V(/dev/fuse) or V(/dev/sda:/dev/xvda:rwm) (permissions are letters '
               'of V(rwm), the default).',
               'The device node is made in the container with the host node\'s type and numbers, and the device '
               'cgroup allows it; the result shows them.']),
    Option('ulimits', dict(type='dict'), read=_read_ulimits, edit=_edit_ulimits, normalize=_normalize_ulimits,
           compare=_compare_items, predict=_predict_items, check=_check_ulimits, omit_unset=True, doc=[
               'Resource limits of the process (setrlimit(2)), by the name C(ulimit) gives them: V(nofile), '
               'V(nproc), V(memlock), V(core), V(stack) and the others of C(RLIMIT_*).',
               'A number sets the soft and the hard limit (V(nofile: 65536)); V(soft:hard) as a string or a '
               'dict with C(soft) and C(hard) sets them apart; V(unlimited) is no limit.',
               'Limits not given keep containerd\'s defaults (C(nofile) 1024).']),
    Option('sysctls', dict(type='dict'), read=lambda info: (_spec(info).get('linux') or {}).get('sysctl') or {},
           edit=_edit_sysctls, normalize=_str_dict, compare=_compare_items, predict=_predict_items,
           check=_check_sysctls, omit_unset=True, doc=[
               'Kernel parameters of the container\'s own namespaces (C(docker run --sysctl)), for example '
               'V(net.ipv4.ip_unprivileged_port_start: 80) or V(net.core.somaxconn: 1024).',
               'Only those the kernel keeps per namespace: C(net.*) (not with O(net_host)), C(kernel.shm*), '
               'C(kernel.msg*), C(kernel.sem) and C(fs.mqueue.*).']),
    Option('pids_limit', dict(type='int'), read=lambda info: _resources(info, 'pids').get('limit'),
           edit=_edit_resource('pids', 'limit'), check=_check_positive('pids_limit'), omit_unset=True, doc=[
               'Most processes (and threads) the container may have at once: the cgroup\'s C(pids.max).']),
    Option('cpu_shares', dict(type='int'), read=lambda info: _resources(info, 'cpu').get('shares'),
           edit=_edit_resource('cpu', 'shares'), compare=WHEN_SET, check=_check_positive('cpu_shares', 2, 262144),
           omit_unset=True, doc=[
               'Relative CPU weight against other containers when CPUs are busy (the default is 1024); '
               'C(cpu.shares) with cgroup v1, turned into C(cpu.weight) with cgroup v2.']),
    Option('cpuset_cpus', dict(type='str'), read=lambda info: _resources(info, 'cpu').get('cpus') or None,
           edit=_edit_resource('cpu', 'cpus'), compare=WHEN_SET, check=_check_cpuset('cpuset_cpus'),
           omit_unset=True, doc=['CPUs the container may run on, as a list such as V(0-2,4) (C(cpuset.cpus)).']),
    Option('cpuset_mems', dict(type='str'), read=lambda info: _resources(info, 'cpu').get('mems') or None,
           edit=_edit_resource('cpu', 'mems'), compare=WHEN_SET, check=_check_cpuset('cpuset_mems'),
           omit_unset=True, doc=['Memory nodes (NUMA) the container may use, as a list such as V(0) '
                                 '(C(cpuset.mems)).']),
    Option('groups', dict(type='list', elements='str'),
           read=lambda info: list((_process(info).get('user') or {}).get('additionalGids') or []),
           edit=_edit_groups, normalize=lambda value: [int(gid) for gid in value or []] if _all_digits(value) else
           value, compare=_compare_groups, predict=_predict_groups, check=_check_groups, omit_unset=True, doc=[
               'Supplementary group IDs of the process, added to those the image gives its user '
               '(C(docker run --group-add)). Numeric GIDs only.']),
    Option('oom_score_adj', dict(type='int'), read=lambda info: _process(info).get('oomScoreAdj'),
           edit=_edit_process('oomScoreAdj'), compare=WHEN_SET, check=_check_oom, omit_unset=True, doc=[
               'How much more (up to V(1000)) or less (down to V(-1000)) likely the kernel\'s OOM killer picks the '
               'container\'s processes (C(/proc/PID/oom_score_adj)).']),
    Option('read_only', dict(type='bool', default=False),
           read=lambda info: bool((_spec(info).get('root') or {}).get('readonly')),
           flags=_switch('--read-only'), normalize=bool, doc=['Mount the root filesystem read-only.']),
    Option('runtime', dict(type='str', default=DEFAULT_RUNTIME),
           read=lambda info: (info.get('Runtime') or {}).get('Name'), flags=_runtime_flags,
           normalize=lambda value: value or DEFAULT_RUNTIME, doc=["Runtime name (ctr's C(--runtime))."]),
    Option('runtime_binary', dict(type='path'), read=_runtime_options, flags='--runc-binary',
           compare=_compare_runtime_binary, view=False, min_ctr=(1, 7), doc=[
               "The runc-compatible binary of the runtime (ctr's C(--runc-binary)).",
               "Needs the ctr of containerd 1.7 or later (1.6's C(ctr containers create) has no such flag)."]),
    Option('snapshotter', dict(type='str'), read=lambda info: info.get('Snapshotter'), flags='--snapshotter',
           compare=WHEN_SET, doc=["Snapshotter of the container's root filesystem. Default is containerd's."]),
    Option('memory_limit', dict(type='str'), read=lambda info: _resources(info, 'memory').get('limit'),
           flags=_memory_flags, normalize=_memory_bytes, compare=_compare_memory, predict=ALWAYS,
           check=_check_memory, doc=['Memory limit, in bytes or with a unit (V(64m), V(1g)).']),
    Option('cpus', dict(type='float'), read=_read_cpus, compare=WHEN_SET, check=_check_cpus, omit_unset=True, doc=[
        'How many CPUs the container may use, as Docker\'s C(--cpus) (V(0.5), V(2)): a CFS quota of that many '
        'times a period of 100000 microseconds (so RV(container.cpu_quota) and RV(container.cpu_period) show it).',
        'Not with O(cpu_quota) or O(cpu_period).']),
    Option('cpu_quota', dict(type='int'), read=lambda info: _resources(info, 'cpu').get('quota'),
           flags='--cpu-quota', compare=_compare_cpu_quota, predict=WHEN_SET, derive=_derive_cpu('cpu_quota'),
           doc=['CFS CPU quota in microseconds per O(cpu_period).']),
    Option('cpu_period', dict(type='int'), read=lambda info: _resources(info, 'cpu').get('period'),
           flags='--cpu-period', compare=WHEN_SET, derive=_derive_cpu('cpu_period'),
           doc=['CFS CPU period in microseconds.']),
    # -- task: how containerd's restart monitor and this collection treat the container's task.
    Option('restart_policy', dict(type='str', default='no', choices=['no', 'always', 'on-failure', 'unless-stopped']),
           group='task', read=_read_restart_policy, labels=_restart_labels,
           normalize=lambda value: value or 'no', requires=_policy_requires, doc=[
               'Let containerd\'s restart monitor bring the task back (after a containerd restart, or when it '
               'exits), through the labels C(containerd.io/restart.policy) and C(containerd.io/restart.status).',
               'The task is only started by this module\'s O(state=running) or by '
               'M(ctrops.containerd.containerd_task) (which set the status label to C(running)); stopping it '
               '(O(state=stopped), or that module) sets it to C(stopped), so the monitor leaves it down.',
               'containerd 1.6 knows no policy label and treats every policy as V(always); the module refuses '
               'V(on-failure) and V(unless-stopped) there.']),
    Option('stop_signal', dict(type='str', default='SIGTERM'), group='task', compare=None, view=False,
           check=_check_signal, doc=[
               'Signal that stops a running task before a recreate, a forced removal or O(state=stopped) '
               '(V(SIGTERM), V(SIGINT), V(15), ...).']),
    Option('stop_timeout', dict(type='int', default=10), group='task', compare=None, view=False,
           doc=['Seconds to wait after O(stop_signal) before SIGKILL.']),
    # -- labels: set in place, never a reason to recreate.
    Option('labels', dict(type='dict'), group='labels', compare=None, view=False, check=_check_labels, doc=[
        'Labels to set on the container. Labels that differ are set in place (no recreate); other labels are '
        'left as they are.']),
]

BY_NAME = dict((option.name, option) for option in OPTIONS)

# The options that make up the desired spec (hashed into SPEC_LABEL): the spec options and the restart policy.
DESIRED = [option for option in OPTIONS if option.read is not None]
VIEW_FIELDS = tuple(option.name for option in DESIRED if option.view) + ('labels',)


# -- derived ------------------------------------------------------------------------------

def argument_spec(names=None):
    """The argument spec entries of every container option, or of those ``names`` (a fresh copy)."""
    return dict((option.name, json.loads(json.dumps(option.spec))) for option in OPTIONS
                if names is None or option.name in names)


def validate_params(params):
    """Check the options of a present container before any ctr call (InvalidInput)."""
    if not params.get('image'):
        raise InvalidInput('state=%s needs the image option: the image to create container %s from.'
                           % (params.get('state') or 'present', params.get('name')))
    for option in OPTIONS:
        if option.check:
            option.check(params.get(option.name), params)


def desired_spec(params, image=None):
    """The options that make up a container, normalised (stable for hashing and diffs)."""
    spec = dict((option.name, option.desired(params)) for option in DESIRED)
    if image is not None:
        spec['image'] = image
    return spec


def _shown(option, value):
    """What the view, the diff and the digest carry of a value: a secret option's keys only."""
    return sorted(value or {}) if option.secret else value


def spec_digest(spec):
    """A short digest of the desired spec, kept in a label to notice options removed from a playbook.

    A secret option counts with its keys only (left out when empty, so older digests stay): its values
    are compared with the spec instead."""
    spec = dict(spec)
    for option in DESIRED:
        if option.omit_unset and is_unset(spec.get(option.name)):
            spec.pop(option.name, None)
        elif option.secret:
            if spec.get(option.name):
                spec[option.name] = _shown(option, spec[option.name])
            else:
                spec.pop(option.name, None)
    data = json.dumps(spec, sort_keys=True, separators=(',', ':')).encode('utf-8')
    return 'sha256:' + hashlib.sha256(data).hexdigest()[:32]


def parse_container_info(info):
    """``ctr containers info`` JSON read back into the desired spec's form, plus what the comparison needs.

    The same keys for containerd 1.6 and 2.x.
    """
    summary = dict((option.name, option.read(info)) for option in DESIRED)
    summary.update(name=info.get('ID'), labels=info.get('Labels') or {}, created=info.get('CreatedAt'),
                   namespaces=dict((kind, path) for kind, path in joined_namespaces(info).items() if path))
    return summary


def container_view(summary):
    """The managed fields of an existing container, as the diff and the result show them."""
    view = dict((option.name, _shown(option, summary[option.name])) for option in DESIRED if option.view)
    secret = set(_secret_names(summary['labels']))
    view['env'] = dict((key, value) for key, value in summary['env'].items() if key not in secret)
    view['mounts'] = [m for m in summary['mounts'] if m['destination'] not in DEFAULT_MOUNTS]
    view['labels'] = dict((k, v) for k, v in summary['labels'].items()
                          if k not in OWN_LABELS and not k.startswith(NS_LABEL_PREFIX))
    view.update(exists=True, created=summary['created'])
    return view


def wanted_view(spec, user_labels, before):
    """The view as it will be: ``before`` (or nothing) updated with what the options set."""
    exists = before and before.get('exists')
    view = dict(before) if exists else dict((field, None) for field in VIEW_FIELDS)
    for option in DESIRED:
        if option.view:
            view[option.name] = option.predicted(_shown(option, spec[option.name]), view.get(option.name))
    labels = dict(view.get('labels') or {})
    labels.update(_str_dict(user_labels))
    view.update(exists=True, labels=labels, created=None)
    return view


def differences(spec, summary):
    """What differs between the desired ``spec`` and a container's ``summary``: [(field, wanted, actual)].

    Only managed fields count; a field the user left unset (image default) is not compared.
    """
    diffs = []
    for option in DESIRED:
        diffs += option.differences(spec[option.name], summary)
    digest = summary['labels'].get(SPEC_LABEL)
    if not diffs and digest is not None and digest != spec_digest(spec):
        # Nothing the spec shows differs, but the options did: one was removed from the task.
        diffs.append(('options', spec_digest(spec), digest))
    return diffs


def spec_edits(spec):
    """The options of ``spec`` that ctr cannot carry and that are set: (option, value) in table order."""
    return [(option, spec[option.name]) for option in DESIRED if option.edit and not is_unset(spec[option.name])]


def edit_spec(oci_spec, spec):
    """The OCI spec ctr made for ``spec``, completed with what ctr has no flag for (a new dict)."""
    oci_spec = json.loads(json.dumps(oci_spec))
    for option, value in spec_edits(spec):
        option.edit(oci_spec, value)
    return oci_spec


def managed_labels(spec, user_labels):
    """The labels a new container gets: the user's, the spec digest and what the options add."""
    labels = _str_dict(user_labels)
    labels[SPEC_LABEL] = spec_digest(spec)
    for option in DESIRED:
        if option.labels:
            labels.update(option.labels(spec[option.name]))
    return labels


def create_args(name, spec, labels, ns_paths, env_file=None):
    """The ``ctr containers create`` arguments for a spec (labels are the complete label set; ``env_file``
    the file holding the secret variables, see containers.env_file)."""
    context = dict(ns_paths=ns_paths, env_file=env_file)
    args = ['containers', 'create']
    for option in DESIRED:
        args += option.create_args(spec[option.name], context)
    for key, value in sorted(labels.items()):
        args += ['--label', '%s=%s' % (key, value)]
    # '--' ends the flags for both ctr generations: the ctr of 1.6 (urfave/cli v1) would
    # otherwise read a command's own flags (sh -c) as its own; 2.x stops at the image anyway.
    args += ['--', spec['image'], name]
    if spec['command'] is not None:
        args += spec['command']
    return args


def _dotted(version):
    return '.'.join(str(part) for part in version)


def check_versions(spec, versions, executable):
    """Refuse values the probed containerd cannot carry. ``versions`` is called (ctr version) only when
    a set option needs a version, so runs without such options cost no call."""
    needs = [(option, option.needs(spec[option.name])) for option in DESIRED]
    needs = [(option, need) for option, need in needs if need]
    if not needs:
        return
    found = versions()
    for option, need in needs:
        if need[0] == 'server' and found.get('server') and found['server'] < need[1]:
            raise ModuleError('%s=%s needs containerd %s or later (this one is %s, %s.'
                              % (option.name, spec[option.name], _dotted(need[1]), _dotted(found['server']), need[2]))
    client = found.get('client')
    missing = [option.flag for option, need in needs if need[0] == 'client' and client and client < need[1]]
    if missing:
        all_flags = [option.flag for option in DESIRED if option.min_ctr]
        raise ModuleError('The ctr at %s (containerd %s) has no %s for containers create (the ctr of containerd '
                          '1.6 lacks %s and %s): leave that option out or use containerd 1.7 or later.'
                          % (executable, _dotted(client), ', '.join(missing), ', '.join(all_flags[:-1]),
                             all_flags[-1]))
