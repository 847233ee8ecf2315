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
    """

    def __init__(self, name, spec, group='spec', read=None, flags=None, labels=None, compare=ALWAYS,
                 predict=None, normalize=None, check=None, view=True, min_ctr=None, requires=None,
                 secret=False):
        self.name = name
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
                 options=list(m.get('options') or [])) for m in _spec(info).get('mounts') or []]


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


def _predict_env(wanted, before):
    env = dict(before or {})
    env.update(wanted)
    return env


def _policy_requires(value):
    if value in ('on-failure', 'unless-stopped'):
        return ('server', (1, 7), 'whose restart monitor knows no policy): use always or no')
    return None


# -- the table ----------------------------------------------------------------------------

NS_OPTIONS = [
    Option(option, dict(type='str'), read=_namespace_reader(kind), flags=_namespace_flags(kind),
           labels=_namespace_labels(kind), compare=_namespace_comparer(kind), predict=ALWAYS,
           check=_namespace_checker(option))
    for option, kind, _short in SHARED_NAMESPACES
]

OPTIONS = [
    # image and command are positional: create_args puts them after '--' (image, name, command).
    Option('image', dict(type='str'), read=lambda info: info.get('Image'),
           normalize=lambda value: normalize_image(value) if value else None,
           check=lambda value, params: normalize_image(value, option='image')),
    Option('command', dict(type='raw'), read=lambda info: _process(info).get('args') or [],
           normalize=_command, compare=WHEN_SET, check=_check_command),
    Option('env', dict(type='dict'), read=lambda info: _env_dict(_process(info).get('env')),
           flags=_env_flags, normalize=_str_dict, compare=_compare_env, predict=_predict_env,
           check=lambda value, params: validate.env_names(value)),
    Option('secret_env', dict(type='dict', no_log=True), read=_read_secret_env, flags=_secret_env_flags,
           labels=_secret_env_labels, normalize=_str_dict, compare=_compare_secret_env, predict=ALWAYS,
           check=_check_secret_env, secret=True),
    Option('cwd', dict(type='str'), read=lambda info: _process(info).get('cwd'), flags='--cwd', compare=WHEN_SET),
    Option('user', dict(type='str'), read=_read_user, flags='--user', compare=_compare_user, predict=WHEN_SET,
           min_ctr=(1, 7)),
    Option('hostname', dict(type='str'), read=lambda info: _spec(info).get('hostname') or None,
           flags='--hostname', compare=WHEN_SET, min_ctr=(1, 7)),
    Option('mounts', dict(type='list', elements='dict', options=dict(
        type=dict(type='str', default='bind'),
        source=dict(type='str'),
        destination=dict(type='str', required=True),
        options=dict(type='list', elements='str'),
    )), read=_read_mounts, flags=_mount_flags, normalize=_normalize_mounts, compare=_compare_mounts,
        predict=ALWAYS, check=_check_mounts),
    Option('net_host', dict(type='bool', default=False), read=lambda info: 'network' not in joined_namespaces(info),
           flags=_switch('--net-host'), normalize=bool),
] + NS_OPTIONS + [
    Option('privileged', dict(type='bool', default=False),
           read=lambda info: 'CAP_SYS_ADMIN' in ((_process(info).get('capabilities') or {}).get('bounding') or []),
           flags=_switch('--privileged'), normalize=bool),
    Option('read_only', dict(type='bool', default=False),
           read=lambda info: bool((_spec(info).get('root') or {}).get('readonly')),
           flags=_switch('--read-only'), normalize=bool),
    Option('runtime', dict(type='str', default=DEFAULT_RUNTIME),
           read=lambda info: (info.get('Runtime') or {}).get('Name'), flags=_runtime_flags,
           normalize=lambda value: value or DEFAULT_RUNTIME),
    Option('runtime_binary', dict(type='path'), read=_runtime_options, flags='--runc-binary',
           compare=_compare_runtime_binary, view=False, min_ctr=(1, 7)),
    Option('snapshotter', dict(type='str'), read=lambda info: info.get('Snapshotter'), flags='--snapshotter',
           compare=WHEN_SET),
    Option('memory_limit', dict(type='str'), read=lambda info: _resources(info, 'memory').get('limit'),
           flags=_memory_flags, normalize=_memory_bytes, compare=_compare_memory, predict=ALWAYS,
           check=_check_memory),
    Option('cpu_quota', dict(type='int'), read=lambda info: _resources(info, 'cpu').get('quota'),
           flags='--cpu-quota', compare=_compare_cpu_quota, predict=WHEN_SET),
    Option('cpu_period', dict(type='int'), read=lambda info: _resources(info, 'cpu').get('period'),
           flags='--cpu-period', compare=WHEN_SET),
    # -- task: how containerd's restart monitor and this collection treat the container's task.
    Option('restart_policy', dict(type='str', default='no', choices=['no', 'always', 'on-failure', 'unless-stopped']),
           group='task', read=_read_restart_policy, labels=_restart_labels,
           normalize=lambda value: value or 'no', requires=_policy_requires),
    Option('stop_signal', dict(type='str', default='SIGTERM'), group='task', compare=None, view=False,
           check=_check_signal),
    Option('stop_timeout', dict(type='int', default=10), group='task', compare=None, view=False),
    # -- labels: set in place, never a reason to recreate.
    Option('labels', dict(type='dict'), group='labels', compare=None, view=False, check=_check_labels),
]

BY_NAME = dict((option.name, option) for option in OPTIONS)

# The options that make up the desired spec (hashed into SPEC_LABEL): the spec options and the restart policy.
DESIRED = [option for option in OPTIONS if option.read is not None]
VIEW_FIELDS = tuple(option.name for option in DESIRED if option.view) + ('labels',)


# -- derived ------------------------------------------------------------------------------

def argument_spec():
    """The argument spec entries of every container option (a fresh copy)."""
    return dict((option.name, json.loads(json.dumps(option.spec))) for option in OPTIONS)


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
        if option.secret:
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
