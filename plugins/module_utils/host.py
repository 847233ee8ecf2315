# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a containerd host runs (containerd_host_info): versions, the server's plugins, what each
namespace holds, the CNI configuration and the socket. The parsers are pure functions (unit-tested on
recorded outputs); the gatherers take a ContainerdClient or the AnsibleModule."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import pwd
import re
import stat

from ansible_collections.ctrops.containerd.plugins.module_utils import cni
from ansible_collections.ctrops.containerd.plugins.module_utils import parsers

GATHER = ('versions', 'plugins', 'namespaces', 'cni', 'socket')
# Where runc lives when it is not on the PATH of a non-login shell (release binary, distributions, NixOS).
RUNC_SEARCH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/run/current-system/sw/bin']
# Counting what a namespace holds: one listing per kind, the cheapest form ctr has (-q where it exists).
COUNT_LISTINGS = (
    ('containers', ['containers', 'ls', '-q']),
    ('tasks', ['tasks', 'ls']),
    ('images', ['images', 'ls', '-q']),
    ('snapshots', ['snapshots', 'ls']),
)


# -- parsers ---------------------------------------------------------------------------------

def parse_plugins(output):
    """Parse ``ctr plugins ls`` (columns TYPE ID PLATFORMS STATUS) into a list of dicts."""
    found = []
    for line in parsers.table_rows(output):
        fields = line.split()
        if len(fields) < 4:
            continue
        found.append(dict(type=fields[0], id=fields[1], platforms=[] if fields[2] == '-' else fields[2].split(','),
                          status=fields[3]))
    return found


def plugins_of_type(plugins, prefix):
    """{id: status} of the plugins whose type starts with ``prefix`` (io.containerd.snapshotter.)."""
    return dict((p['id'], p['status']) for p in plugins if p['type'].startswith(prefix))


def parse_version_full(output):
    """``ctr version`` into {client, server, server_revision}, the strings as ctr prints them."""
    versions = parsers.parse_version(output)
    revision = None
    section = None
    for line in output.splitlines():
        stripped = line.strip()
        if stripped in ('Client:', 'Server:'):
            section = stripped[:-1]
        elif section == 'Server' and stripped.startswith('Revision:'):
            revision = stripped.split(':', 1)[1].strip() or None
    return dict(client=versions['client'], server=versions['server'], server_revision=revision)


def parse_runc_version(output):
    """``runc --version`` into {version, spec}: 'runc version 1.1.5+ds1' and 'spec: 1.0.2-dev'."""
    found = dict(version=None, spec=None)
    for line in output.splitlines():
        match = re.match(r'runc version (\S+)', line.strip())
        if match:
            found['version'] = match.group(1)
        elif line.startswith('spec:'):
            found['spec'] = line.split(':', 1)[1].strip()
    return found


def parse_cni_plugin_about(output):
    """A CNI plugin run without CNI_COMMAND prints 'CNI loopback plugin v1.9.1' ('version unknown' for
    builds without one) and 'CNI protocol versions supported: 0.1.0, ...': (release or None, [spec versions])."""
    release, supported = None, []
    for line in output.splitlines():
        match = re.match(r'CNI \S+ plugin (\S+)(?: (\S+))?', line.strip())
        if match and 'protocol' not in line:
            value = match.group(1) if match.group(1) != 'version' else match.group(2)
            release = None if value in (None, 'unknown') else value
        elif line.startswith('CNI protocol versions supported:'):
            supported = [v.strip() for v in line.split(':', 1)[1].split(',') if v.strip()]
    return release, supported


def count_rows(kind, output):
    """How many objects a COUNT_LISTINGS output lists (tasks and snapshots print a header)."""
    if kind in ('tasks', 'snapshots'):
        return len(parsers.table_rows(output))
    return len(parsers.parse_quiet_list(output))


# -- gatherers -------------------------------------------------------------------------------

def versions(module, client):
    """containerd (client and server, one ``ctr version``), runc (``runc --version``)."""
    found = parse_version_full(client.output(['version']))
    result = dict(containerd=found['server'], containerd_revision=found['server_revision'], ctr=found['client'],
                  ctr_path=client.executable, runc=None, runc_spec=None, runc_path=None)
    runc = module.get_bin_path('runc', opt_dirs=RUNC_SEARCH_DIRS)
    if runc:
        rc, out, _err = module.run_command([runc, '--version'], environ_update={'LC_ALL': 'C'})
        if rc == 0:
            parsed = parse_runc_version(out)
            result.update(runc=parsed['version'], runc_spec=parsed['spec'], runc_path=runc)
    return result


def server_plugins(client):
    """The server's plugins (one ``ctr plugins ls``), and by kind: snapshotters, runtimes, failed ones."""
    found = parse_plugins(client.output(['plugins', 'ls']))
    return dict(
        plugins=found,
        snapshotters=plugins_of_type(found, 'io.containerd.snapshotter.'),
        runtimes=plugins_of_type(found, 'io.containerd.runtime.'),
        errors=['%s.%s' % (p['type'], p['id']) for p in found if p['status'] == 'error'],
    )


def namespace_counts(client, names):
    """{namespace: {labels, containers, tasks, running, images, snapshots}} for ``names`` (None: all):
    one ``namespaces ls`` plus one listing per kind and namespace, never one call per object."""
    existing = parsers.parse_namespaces(client.output(['namespaces', 'ls']))
    counted = {}
    for name in sorted(existing if names is None else set(names) & set(existing)):
        entry = dict(labels=existing[name])
        for kind, args in COUNT_LISTINGS:
            out = client.output(args, namespace=name)
            entry[kind] = count_rows(kind, out)
            if kind == 'tasks':
                entry['running'] = sum(1 for t in parsers.parse_tasks(out).values() if t['status'] == 'running')
        counted[name] = entry
    missing = sorted(set(names or []) - set(existing))
    return counted, missing


def cni_plugins(module, bin_dirs):
    """The CNI plugin binaries in bin_dirs ({name: path}, the first directory wins as in libcni) and the
    release and spec versions one of them reports (they ship as one set)."""
    found = {}
    for directory in bin_dirs:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            if name not in found and os.path.isfile(path) and os.access(path, os.X_OK):
                found[name] = path
    release, supported = None, []
    probe = found.get('loopback') or (found[sorted(found)[0]] if found else None)
    if probe:
        # Without CNI_COMMAND a plugin prints its "about" text and reads nothing.
        rc, out, err = module.run_command([probe], data='', environ_update={'LC_ALL': 'C', 'CNI_COMMAND': ''})
        release, supported = parse_cni_plugin_about(out + '\n' + err)
    return dict(bin_dirs=list(bin_dirs), plugins=sorted(found), paths=found, version=release,
                spec_versions=supported)


def cni_networks(conf_dir):
    """The networks in conf_dir: name, cniVersion, plugin types and file; unreadable files apart."""
    networks, invalid = [], []
    for path, config in cni.config_files(conf_dir).items():
        if not isinstance(config, dict) or not config.get('name'):
            invalid.append(path)
            continue
        types = [p.get('type') for p in cni.plugins_of(config) if isinstance(p, dict) and p.get('type')]
        networks.append(dict(name=config['name'], cni_version=config.get('cniVersion'), types=types, file=path))
    return networks, invalid


def socket_info(path):
    """The socket's path, owner, group and mode (who may talk to containerd)."""
    result = dict(path=path, exists=False, owner=None, group=None, uid=None, gid=None, mode=None)
    if path is None:
        return result
    try:
        st = os.stat(path)
    except OSError:
        return result
    result.update(exists=stat.S_ISSOCK(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                  mode='%04o' % stat.S_IMODE(st.st_mode))
    try:
        result['owner'] = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        pass
    try:
        result['group'] = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        pass
    return result
