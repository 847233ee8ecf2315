# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converging one image record: pull (with its policy), import, tag, labels, export, mount.

containerd_image (one image per run) and containerd_stack (the images of a stack, before its
containers) share it, so both pull, import and tag the same way and predict the same in check mode.
``ImageTask`` takes a run (a ModuleRun, or a RunPart of a stack) and the options of one image.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible_collections.ctrops.containerd.plugins.module_utils import reference
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import label_actions, label_changes, wanted_labels
from ansible_collections.ctrops.containerd.plugins.module_utils.images import (
    ArchiveError,
    ImageStore,
    mount_points,
    read_archive,
)
from ansible_collections.ctrops.containerd.plugins.module_utils.races import act_racing
from ansible_collections.ctrops.containerd.plugins.module_utils.registry import (
    RegistryClient, RegistryError, check_hosts_dir_files)

# The options of one image record that come to it (pull, import, tag, labels), shared by containerd_image
# and the images entries of containerd_stack.
SOURCE_OPTIONS = dict(
    name=dict(type='str', required=True),
    source=dict(type='str', default='pull', choices=['pull', 'archive', 'image']),
    pull=dict(type='str', default='missing', choices=['missing', 'always', 'never']),
    platform=dict(type='str'),
    all_platforms=dict(type='bool', default=False),
    plain_http=dict(type='bool', default=False),
    hosts_dir=dict(type='path'),
    validate_certs=dict(type='bool', default=True),
    username=dict(type='str'),
    password=dict(type='str', no_log=True),
    snapshotter=dict(type='str'),
    unpack=dict(type='bool', default=True),
    archive_path=dict(type='path'),
    source_image=dict(type='str'),
    force=dict(type='bool', default=False),
    labels=dict(type='dict'),
    purge_labels=dict(type='bool', default=False),
)
SOURCE_REQUIRED_IF = [('source', 'archive', ['archive_path']), ('source', 'image', ['source_image'])]
SOURCE_REQUIRED_TOGETHER = [('username', 'password')]


def source_argument_spec():
    """A fresh copy of SOURCE_OPTIONS."""
    return dict((key, dict(value)) for key, value in SOURCE_OPTIONS.items())


RECORD_KEYS = ('digest', 'media_type', 'size', 'platforms', 'labels', 'complete', 'unpacked')


def public(name, record):
    """The RETURN shape of a record (or of an absent one)."""
    image = dict(name=name, exists=record is not None)
    for key in RECORD_KEYS:
        image[key] = (record or {}).get(key)
    if record is None:
        image['labels'] = {}
    return image


def diff_view(image):
    return dict((key, image.get(key)) for key in ('name', 'exists', 'digest', 'media_type', 'platforms', 'labels'))


def validate_params(params):
    validate.label_keys(params['labels'], reported_in_list=True)
    validate.username(params['username'])
    if params['platform'] and params['all_platforms']:
        raise InvalidInput('platform and all_platforms=true exclude each other: choose one.')
    if params.get('skip_verify') is not None:
        # The 0.1 name of validate_certs, inverted.
        params['validate_certs'] = not params['skip_verify']


def platform_listed(platform, platforms):
    """Whether os/arch[/variant] ``platform`` is among ``platforms`` (a missing variant matches any)."""
    wanted = platform.lower().split('/')
    for candidate in platforms or []:
        parts = candidate.lower().split('/')
        if parts[:2] == wanted[:2] and (len(wanted) < 3 or parts[2:3] == wanted[2:3]):
            return True
    return False


def transport(params):
    options = dict((key, params[key]) for key in ('plain_http', 'hosts_dir', 'username', 'password'))
    options['skip_verify'] = not params['validate_certs']
    return options


def resolve_remote(params, name):
    """The registry's digest for ``name`` over HTTP, or (None, why not)."""
    ref = reference.parse(name)
    registry = RegistryClient(ref.domain, plain_http=params['plain_http'], validate_certs=params['validate_certs'],
                              username=params['username'], password=params['password'],
                              timeout=params.get('timeout') or 30, hosts_dir=params['hosts_dir'])
    try:
        digest = registry.manifest_digest(ref.path, ref.digest or ref.tag)
    except RegistryError as exc:
        return None, exc.message
    if digest is None:
        return None, 'the registry %s has no manifest for %s' % (ref.domain, name)
    return digest, None


class ImageTask:
    """One run of the module: the current record, the actions, the predicted or real result."""

    def __init__(self, run, params=None):
        self.run = run
        self.params = run.params if params is None else params
        self.client = run.client
        self.store = ImageStore(run.client)
        self.check = run.check_mode
        self.act = run.act
        self.actions = run.actions
        self.extra = run.result

    # -- present -------------------------------------------------------------------

    def present(self, name, current):
        params = self.params
        source = params['source']
        predicted = None
        if source == 'pull':
            predicted = self.from_registry(name, current)
        elif source == 'archive':
            predicted = self.from_archive(name, current)
        else:
            predicted = self.from_image(name, current)
        # A tag another run made first (lost_races) is read back as well.
        changed_record = bool(self.actions) or bool(self.run.lost_races)
        if changed_record and not self.check:
            current = self.store.get(name)
            if current is None:
                raise ModuleError('containerd reported success, but no image %s exists afterwards.' % name)
        elif changed_record:
            unpacked = params['unpack'] if source == 'pull' else (current or {}).get('unpacked', True)
            current = dict(current or {}, complete=True, unpacked=unpacked, **predicted)
            current.setdefault('labels', {})
        if source == 'pull' and params['pull'] == 'always' and not self.check:
            self.extra['remote_digest'] = current['digest']
        if params['labels'] is not None or params['purge_labels']:
            wanted = wanted_labels(current.get('labels') or {}, params['labels'], params['purge_labels'])
            changes = label_changes(current.get('labels') or {}, wanted)
            if changes:
                self.act(label_actions(changes), self.store.label, name, changes)
                current = dict(current, labels=wanted)
        return current

    def from_registry(self, name, current):
        params = self.params
        policy = params['pull']
        pinned = reference.parse(name).digest is not None
        check_hosts_dir_files(reference.parse(name).domain, params['hosts_dir'])
        if policy == 'never':
            if current is None:
                raise ModuleError('Image %s is not present and pull=never: import or pull it first, or use '
                                  'pull=missing.' % name)
            return {}
        if policy == 'missing' or pinned:
            if current is None:
                self.act('pull %s' % name, self.pull, name, existed=False)
            return {'digest': reference.parse(name).digest} if pinned else {}
        # always
        if self.check:
            digest, why = resolve_remote(self.params, name)
            self.extra['remote_digest'] = digest
            if why:
                self.extra['resolve_error'] = why
                self.run.warn('Could not resolve the remote digest of %s in check mode (%s): predicting a '
                              'pull.' % (name, why))
            if digest is None or current is None or current['digest'] != digest:
                self.act('pull %s' % name)
                return {'digest': digest} if digest else {}
            return {}
        before = current['digest'] if current else None
        self.pull(name, existed=current is not None)
        after = self.store.get(name)
        if after is None or after['digest'] != before:
            self.act('pull %s' % name)
        return {}

    def pull(self, name, existed=True):
        """Pull; a failed first pull leaves no record behind (ctr 1.6 creates it before unpacking)."""
        params = self.params
        platform = params['platform']
        try:
            self.store.pull(name, transport(params), platform=platform, all_platforms=params['all_platforms'],
                            snapshotter=params['snapshotter'], unpack=params['unpack'])
            if platform:
                # containerd 2.x pulls an index without a matching platform and reports success.
                record = self.store.get(name)
                if record is not None and not platform_listed(platform, record['platforms']):
                    raise CtrError('Image %s has no manifest for platform %s: choose another platform or set '
                                   'all_platforms=true.' % (name, platform))
        except CtrError:
            if not existed:
                record = self.store.get(name)
                if record is not None and record['complete'] and (record['unpacked'] or not params['unpack']) \
                        and (not platform or platform_listed(platform, record['platforms'])):
                    # Another run pulled it at the same moment: what exists is what was asked; keep it.
                    return
                if record is not None:
                    self.store.remove(name)
            raise

    def from_archive(self, name, current):
        params = self.params
        path = params['archive_path']
        try:
            archive = read_archive(path)
        except ArchiveError as exc:
            raise ModuleError(str(exc))
        entries = archive['images']
        named = [entry for entry in entries if entry['name'] == name]
        if named:
            entry = named[0]
        elif len(entries) == 1:
            entry = entries[0]
        else:
            raise ModuleError('The archive %s does not hold an image named %s (it holds: %s).'
                              % (path, name, ', '.join(sorted(str(e['name']) for e in entries)) or 'nothing'))
        if current is not None and self.matches(current, entry):
            return {}
        self.act('import %s from %s' % (name, path), self.store.import_archive, path, platform=params['platform'],
                 all_platforms=params['all_platforms'], snapshotter=params['snapshotter'])
        imported = entry['name']
        if imported != name:
            if imported is None:
                raise ModuleError('The archive %s does not name its image; containerd cannot import it under a name.'
                                  % path)
            existed = self.check or self.store.get(imported) is not None
            self.act('tag %s as %s' % (imported, name), self.store.tag, imported, name, force=True)
            if not existed:
                self.act('remove %s (the archive\'s own name)' % imported, self.store.remove, imported)
        return {'digest': entry['digest']} if entry['digest'] else {}

    def matches(self, current, entry):
        if entry['digest']:
            return current['digest'] == entry['digest']
        try:
            manifest = self.store.manifest(current['digest'])
        except (CtrError, ValueError):
            return False
        return (manifest.get('config') or {}).get('digest') == entry['config_digest']

    def from_image(self, name, current):
        params = self.params
        source = reference.normalize(params['source_image'], option='source_image')
        found = self.store.get(source)
        if found is None:
            raise ModuleError('The tag source %s does not exist: pull or import it first.' % source)
        if current is not None and current['digest'] == found['digest']:
            return {}
        if current is not None and not params['force']:
            raise ModuleError('Image %s exists and points at %s, not at %s of %s: set force=true to move it.'
                              % (name, current['digest'], found['digest'], source))
        act_racing(self.run, 'tag %s as %s' % (source, name), lambda: self.tagged_by_another_run(name, found),
                   self.store.tag, source, name, force=current is not None)
        return dict((key, found[key]) for key in ('digest', 'media_type', 'size', 'platforms'))

    def tagged_by_another_run(self, name, found):
        """After a tag that found the name taken (ctr 1.6 says "already exists"): another run's tag to the
        same image is what was asked; a tag to another image stands as without force."""
        current = self.store.get(name)
        if current is None:
            return None
        if current['digest'] != found['digest'] and not self.params['force']:
            raise ModuleError('Image %s was tagged at the same moment by another run, at %s, not at %s: set '
                              'force=true to move it.' % (name, current['digest'], found['digest']))
        return current['digest'] == found['digest']

    # -- exported --------------------------------------------------------------------

    def exported(self, name):
        params = self.params
        path = params['archive_path']
        names = [name] + [reference.normalize(extra, option='additional_names entry') for extra in params['additional_names']]
        names = sorted(set(names), key=names.index)
        records = self.store.records()
        missing = [n for n in names if n not in records]
        if missing:
            raise ModuleError('Cannot export %s: no such image in namespace %s.' % (', '.join(missing), self.client.namespace))
        wanted = dict((n, records[n]['digest']) for n in names)
        mode = self.mode()
        current = None
        if os.path.exists(path):
            try:
                current = dict((e['name'], e['digest']) for e in read_archive(path)['images'])
            except ArchiveError:
                current = None
        self.extra['archive'] = dict(path=path, names=names)
        if current != wanted:
            self.act('export %s to %s' % (', '.join(names), path), self.write_archive, path, names, mode, wanted)
        elif mode is not None and (os.stat(path).st_mode & 0o7777) != mode:
            self.act('set mode %04o on %s' % (mode, path), os.chmod, path, mode)
        return records[name]

    def mode(self):
        mode = self.params['mode']
        if mode is None:
            return None
        try:
            return int(str(mode), 8) if not isinstance(mode, int) else mode
        except ValueError:
            raise ModuleError('Invalid mode %r: give an octal string such as "0644".' % mode)

    def write_archive(self, path, names, mode, wanted):
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise ModuleError('The directory %s of archive_path does not exist.' % directory)
        try:
            handle, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
        except OSError as exc:
            raise ModuleError('Cannot write to %s: %s.' % (directory, exc.strerror or exc))
        os.close(handle)
        try:
            params = self.params
            self.store.export(tmp, names, platform=params['platform'], all_platforms=params['all_platforms'])
            # Read back before replacing anything: a truncated or partial archive never lands at path.
            try:
                written = dict((e['name'], e['digest']) for e in read_archive(tmp)['images'])
            except ArchiveError as exc:
                raise ModuleError('ctr wrote an unreadable archive for %s (%s); %s was left as it was.'
                                  % (', '.join(names), exc, path))
            if written != wanted:
                raise ModuleError('ctr wrote an archive holding %s instead of %s; %s was left as it was.'
                                  % (written, wanted, path))
            os.chmod(tmp, mode if mode is not None else 0o644)
            os.rename(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # -- mounted / unmounted ---------------------------------------------------------

    def mounted(self, name):
        params = self.params
        path = os.path.abspath(params['mount_path'])
        if not os.path.isdir(path):
            raise ModuleError('mount_path %s is not a directory: create it first.' % path)
        if path in mount_points():
            if self.store.snapshot_exists(path):
                return
            raise ModuleError('mount_path %s is busy: something other than a containerd image mount is mounted there.'
                              % path)
        if self.store.get(name) is None:
            raise ModuleError('Image %s is not present: pull or import it before mounting it.' % name)
        self.act('mount %s at %s%s' % (name, path, ' (read-write)' if params['rw'] else ''), self.store.mount, name,
                 path, rw=params['rw'], platform=params['platform'], snapshotter=params['snapshotter'])

    def unmounted(self):
        path = os.path.abspath(self.params['mount_path'])
        mounted = path in mount_points()
        if not self.store.snapshot_exists(path):
            if mounted:
                raise ModuleError('mount_path %s is mounted, but not by containerd_image (no snapshot %s): unmount it '
                                  'with the tool that mounted it.' % (path, path))
            return
        what = 'unmount %s' % path if mounted else 'remove the snapshot and lease of %s' % path
        try:
            self.act(what, self.store.unmount, path)
        except CtrError as exc:
            if 'busy' in exc.message.lower():
                raise ModuleError('mount_path %s is busy (a process is using it): stop it and retry. (ctr said: %s)'
                                  % (path, exc.message))
            raise
