# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Image operations over the containerd client: records, pull, import, tag, export, mount.

Every ctr call goes through ContainerdClient; this file only chooses the
arguments (the same for containerd 1.6 and 2.x unless noted) and turns ctr's
registry errors into plain sentences.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tarfile

from ansible_collections.ctrops.containerd.plugins.module_utils import parsers, reference
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError, NotFound
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import filter_quote


class ArchiveError(ModuleError):
    """An archive that is missing or is not an image archive."""


def name_filter(name):
    """A containerd filter selecting one image record by its exact name."""
    return 'name==%s' % filter_quote(name)


class ImageStore:
    """The image records of one namespace, read and changed through ``client``."""

    def __init__(self, client):
        self.client = client

    # -- reading -------------------------------------------------------------------

    def records(self, filters=None):
        """{name: record} with ``complete`` and ``unpacked`` (two ctr calls: ls and check)."""
        filters = list(filters or [])
        images = parsers.parse_images(self.client.output(['images', 'ls'] + filters))
        if not images:
            return {}
        rc, out, err = self.client.run(['images', 'check'] + filters, check=False)
        if rc == 0:
            checked = parsers.parse_image_check(out)
        elif len(images) > 1:
            # ctr 1.6 stops the whole check at an image whose content is gone: check one by one.
            checked = {}
            for name in images:
                rc, out, err = self.client.run(['images', 'check', name_filter(name)], check=False)
                checked.update(parsers.parse_image_check(out) if rc == 0 else {})
        else:
            checked = {}
        for name, record in images.items():
            state = checked.get(name, {})
            record['complete'] = state.get('complete', False)
            record['unpacked'] = state.get('unpacked', False)
        return images

    def exists(self, name):
        """Whether a record named ``name`` exists (one call, no content check)."""
        return name in parsers.parse_images(self.client.output(['images', 'ls', name_filter(name)]))

    def get(self, name):
        """The record named ``name``, or None."""
        return self.records([name_filter(name)]).get(name)

    def manifest(self, digest):
        """The JSON of a blob in the content store (a manifest or an index)."""
        return parsers.parse_json(self.client.output(['content', 'get', digest]), 'content %s' % digest)

    # -- registry transfers --------------------------------------------------------

    def pull(self, name, transport, platform=None, all_platforms=False, snapshotter=None, unpack=True):
        """``ctr images pull`` (``ctr content fetch`` without unpacking: it creates the record too, in 1.6
        and 2.x); registry failures become plain messages."""
        args = ['images', 'pull'] if unpack else ['content', 'fetch']
        if all_platforms:
            args.append('--all-platforms')
        elif platform:
            args += ['--platform', platform]
        if snapshotter and unpack:
            args += ['--snapshotter', snapshotter]
        args += transport_args(transport) + [name]
        rc, out, err = self._run_with_transport(args, transport)
        if rc != 0:
            raise registry_error(self.client, name, transport, rc, out, err, platform=platform)

    def _run_with_transport(self, args, transport):
        """Run a registry call; with a username, the password goes in at ctr's TTY prompt, never argv."""
        if transport.get('username'):
            return self.client.run_with_secret(args, transport.get('password') or '', check=False)
        return self.client.run(args, check=False)

    def push(self, name, transport, platform=None):
        """``ctr images push NAME``: everything the record references (or one platform of it)."""
        args = ['images', 'push']
        if platform:
            args += ['--platform', platform]
        args += transport_args(transport) + [name]
        rc, out, err = self._run_with_transport(args, transport)
        if rc != 0:
            raise registry_error(self.client, name, transport, rc, out, err, platform=platform, action='Pushing')

    def find(self, *names):
        """{name: record} of those of ``names`` that exist, from one ``images ls`` (no completeness check)."""
        found = parsers.parse_images(self.client.output(['images', 'ls'] + [name_filter(name) for name in names]))
        return dict((name, found[name]) for name in names if name in found)

    # -- local changes -------------------------------------------------------------

    def import_archive(self, path, platform=None, all_platforms=False, snapshotter=None):
        args = ['images', 'import']
        if all_platforms:
            args.append('--all-platforms')
        elif platform:
            args += ['--platform', platform]
        if snapshotter:
            args += ['--snapshotter', snapshotter]
        self.client.run(args + [path])

    def tag(self, source, target, force=False):
        self.client.run(['images', 'tag'] + (['--force'] if force else []) + [source, target])

    def remove(self, name):
        self.client.run(['images', 'remove', name])

    def label(self, name, changes):
        """Set labels; a value of None removes the label."""
        self.client.run(['images', 'label', name] +
                        ['%s=%s' % (key, '' if value is None else value) for key, value in sorted(changes.items())])

    def export(self, path, names, platform=None, all_platforms=False):
        """``ctr images export``; with ctr 2.x ``--local``: measured with 2.1.9, the transfer-service export
        exits 0 with a truncated archive about one time in ten, the local export never did (40 of 40)."""
        args = ['images', 'export']
        if self.client.versions().get('client', ()) >= (2, 0):
            args.append('--local')
        if all_platforms:
            args.append('--all-platforms')
        elif platform:
            args += ['--platform', platform]
        self.client.run(args + [path] + list(names))

    def mount(self, name, path, rw=False, platform=None, snapshotter=None):
        args = ['images', 'mount']
        if rw:
            args.append('--rw')
        if platform:
            args += ['--platform', platform]
        if snapshotter:
            args += ['--snapshotter', snapshotter]
        self.client.run(args + [name, path])

    def unmount(self, path):
        """Unmount and remove the snapshot (and so the lease) that ``ctr images mount`` made."""
        self.client.run(['images', 'unmount', '--rm', path])

    def snapshot_exists(self, key):
        """Whether a snapshot named ``key`` exists (ctr images mount names its snapshot after the path)."""
        rc, _out, err = self.client.run(['snapshots', 'info', key], check=False)
        if rc == 0:
            return True
        error = self.client.error([], rc, '', err)
        if isinstance(error, NotFound):
            return False
        raise error


def _toml_string(value):
    return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')


def write_hosts_dir(directory, host, ca_cert=None, client_cert=None, client_key=None, skip_verify=False):
    """Write ``<directory>/<host>/hosts.toml`` for an https registry with these TLS settings.

    ctr's own ``--tlscacert``/``--tlscert`` need ``--local`` in containerd 2.x, and containerd 1.x
    talks plain HTTP to registries on localhost unless a hosts file says https: a hosts
    directory works the same in both. Settings are repeated at the top level because
    containerd 1.6 also tries ``server`` as a host of its own.
    """
    settings = ['capabilities = ["pull", "resolve", "push"]']
    if ca_cert:
        settings.append('ca = %s' % _toml_string(ca_cert))
    if client_cert:
        pair = [client_cert] + ([client_key] if client_key else [])
        settings.append('client = [[%s]]' % ', '.join(_toml_string(item) for item in pair))
    if skip_verify:
        settings.append('skip_verify = true')
    url = 'https://%s' % host
    lines = ['server = %s' % _toml_string(url)] + settings + ['', '[host.%s]' % _toml_string(url)]
    lines += ['  ' + line for line in settings]
    path = os.path.join(directory, host)
    os.makedirs(path)
    with open(os.path.join(path, 'hosts.toml'), 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return directory


def transport_args(transport):
    """ctr's registry options (identical in 1.6 and 2.x); the password is never one of them."""
    args = []
    if transport.get('plain_http'):
        args.append('--plain-http')
    if transport.get('hosts_dir'):
        args += ['--hosts-dir', transport['hosts_dir']]
    if transport.get('skip_verify'):
        args.append('--skip-verify')
    if transport.get('username'):
        args += ['--user', transport['username']]
    return args


def _reason(out, err):
    lines = [line.strip() for line in ((err or '') + '\n' + (out or '')).splitlines() if line.strip()]
    for line in lines:
        if line.startswith('ctr: '):
            return line[len('ctr: '):]
    return lines[-1] if lines else ''


def registry_error(client, name, transport, rc, out, err, platform=None, action='Pulling'):
    """Turn a failed pull or push into one sentence naming the registry (and never a secret)."""
    ref = reference.parse(name)
    host = ref.domain
    reason = _reason(out, err)
    lowered = reason.lower()
    kwargs = dict(rc=rc, stdout=out, stderr=err)
    password = transport.get('password')
    if password:
        reason = reason.replace(password, '********')
    if action == 'Pushing' and ('insufficient_scope' in lowered or 'push access denied' in lowered):
        return CtrError('Registry %s rejected the push of %s: the account may not push to this repository, or the '
                        'repository (project) does not exist. (ctr said: %s)' % (host, name, reason), **kwargs)
    if 'no match for platform' in lowered:
        return CtrError('Image %s has no manifest for platform %s: choose another platform or set all_platforms=true.'
                        % (name, platform or 'of this host'), **kwargs)
    if '401 unauthorized' in lowered or 'no basic auth credentials' in lowered or 'may require authorization' in lowered:
        if transport.get('username'):
            return CtrError('Registry %s refused the credentials of user %s (HTTP 401): check username and password.'
                            % (host, transport['username']), **kwargs)
        return CtrError('Registry %s requires authentication (HTTP 401): set username and password.' % host, **kwargs)
    if '403 forbidden' in lowered or 'denied' in lowered:
        return CtrError('Registry %s denied access to %s (HTTP 403): the account lacks %s permission.'
                        % (host, ref.path, 'push' if action == 'Pushing' else 'pull'), **kwargs)
    if 'x509' in lowered or 'certificate' in lowered:
        return CtrError('TLS verification of registry %s failed (%s): give a hosts_dir whose hosts.toml names the '
                        'registry\'s CA, or (unsafe) validate_certs=false.' % (host, reason), **kwargs)
    if 'no such host' in lowered or 'server misbehaving' in lowered:
        return CtrError('The registry host %s could not be resolved: check DNS, or add a hosts entry (/etc/hosts) '
                        'for it. (ctr said: %s)' % (host.rsplit(':', 1)[0], reason), **kwargs)
    if 'connection refused' in lowered or 'dial tcp' in lowered or 'i/o timeout' in lowered:
        return CtrError('Registry %s is not reachable: is it running and is the address right? Use plain_http=true '
                        'for an HTTP registry. (ctr said: %s)' % (host, reason), **kwargs)
    if '400 bad request' in lowered and not transport.get('plain_http'):
        return CtrError('Registry %s answered "400 Bad Request" to plain HTTP: containerd 1.x talks plain HTTP to '
                        'registries on localhost unless told otherwise; for a TLS registry give a hosts_dir whose '
                        'hosts.toml names its https endpoint and CA. (ctr said: %s)' % (host, reason), **kwargs)
    if action == 'Pushing' and 'content digest' in lowered and 'not found' in lowered:
        return CtrError('Not all content of %s is present locally (ctr said: %s): pull it with all_platforms=true, or '
                        'push one platform with platform.' % (name, reason), **kwargs)
    if action == 'Pushing' and ('not found' in lowered or 'name unknown' in lowered or 'unexpected status' in lowered
                                or 'unsupported' in lowered):
        return CtrError('Registry %s rejected the push of %s: does the repository (or project) exist, and may this '
                        'account push to it? (ctr said: %s)' % (host, name, reason), **kwargs)
    if ': not found' in lowered or 'manifest unknown' in lowered:
        return NotFound('Image %s was not found on registry %s (manifest unknown): check the repository and tag.'
                        % (name, host), **kwargs)
    error = client.error([], rc, out, err)
    if isinstance(error, CtrError) and error.__class__ is not CtrError:
        return error
    return CtrError('%s %s failed: %s' % (action, name, reason), **kwargs)


# -- archives ------------------------------------------------------------------------

ANNOTATION_IMAGE_NAME = 'io.containerd.image.name'
ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name'


def _full_name(text):
    """A normalised reference when ``text`` is a full reference, else None (a bare tag)."""
    if not text or ('/' not in text and ':' not in text):
        return None
    try:
        return reference.normalize(text)
    except reference.InvalidReference:
        return None


def read_archive(path):
    """What an image archive holds: {'format': 'oci'|'docker', 'images': [{name, digest, config_digest}]}.

    For an OCI layout, ``digest`` is the target each name points at. A docker
    archive (``docker save``) has no manifest: the importer writes one, so only
    the config digest (the docker image ID) is known.
    """
    if not os.path.exists(path):
        raise ArchiveError('The archive %s does not exist.' % path)
    if not os.path.isfile(path):
        raise ArchiveError('The archive %s is not a file.' % path)
    try:
        with tarfile.open(path) as tar:
            entries = tar.getmembers()
            size = os.path.getsize(path)
            short = [m.name for m in entries if m.isfile() and m.offset_data + m.size > size]
            if short:
                raise ArchiveError('%s is truncated (%s ends beyond the end of the file).' % (path, short[0]))
            members = set(m.name for m in entries)
            if 'index.json' in members:
                index = json.load(tar.extractfile('index.json'))
                images = []
                for entry in index.get('manifests', []):
                    annotations = entry.get('annotations') or {}
                    name = _full_name(annotations.get(ANNOTATION_IMAGE_NAME)) or \
                        _full_name(annotations.get(ANNOTATION_REF_NAME))
                    images.append({'name': name, 'digest': entry.get('digest'), 'config_digest': None})
                return {'format': 'oci', 'images': images}
            if 'manifest.json' in members:
                manifest = json.load(tar.extractfile('manifest.json'))
                images = []
                for entry in manifest:
                    config = entry.get('Config', '')
                    config_digest = 'sha256:' + os.path.basename(config).split('.')[0] if config else None
                    for tag in entry.get('RepoTags') or [None]:
                        images.append({'name': _full_name(tag) if tag else None, 'digest': None,
                                       'config_digest': config_digest})
                return {'format': 'docker', 'images': images}
    except ArchiveError:
        raise
    except (tarfile.TarError, ValueError, KeyError, OSError, TypeError, AttributeError) as exc:
        raise ArchiveError('%s is not an image archive (%s): expected an OCI image layout or a docker-archive '
                           'tarball.' % (path, exc))
    raise ArchiveError('%s is not an image archive: it has neither index.json (OCI image layout) nor manifest.json '
                       '(docker-archive).' % path)


def mount_points():
    with open('/proc/self/mountinfo') as handle:
        return parsers.parse_mountinfo(handle.read())
