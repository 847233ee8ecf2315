#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_image
short_description: Pull, import, tag, label, export, mount and remove containerd images
version_added: 0.1.0
description:
  - Manage one image record of containerd (a name pointing at a target digest), as
    C(ctr images pull|import|tag|label|remove|export|mount|unmount) do, idempotently.
  - Names are normalised the way docker and nerdctl do it, so V(nginx:alpine) means
    C(docker.io/library/nginx:alpine).
  - Runs that pull or tag the same image at the same moment all succeed when they ask for the same
    thing; a run whose tag or first pull fails because another run got there first compares what that
    run made instead of failing (or removing it).
options:
  name:
    description:
      - The image reference, as users write it (V(nginx:alpine), V(registry.example:5000/team/app:1.2),
        V(registry.example:5000/team/app@sha256:...)).
    type: str
    required: true
  state:
    description:
      - V(present) makes the image record exist, from O(source).
      - V(absent) removes the record (content other records use stays).
      - V(exported) writes O(archive_path), an OCI archive holding O(name) and O(additional_names).
      - V(mounted) mounts the image's root filesystem at O(mount_path), read-only unless O(rw=true).
      - V(unmounted) unmounts O(mount_path) and removes the snapshot and lease the mount made.
    type: str
    choices: [present, absent, exported, mounted, unmounted]
    default: present
  source:
    description:
      - Where a V(present) image comes from.
      - V(pull) pulls it from its registry, following O(pull).
      - V(archive) imports O(archive_path) (an OCI image layout or docker-archive tarball).
      - V(image) tags O(source_image) as O(name) (the same target digest).
    type: str
    choices: [pull, archive, image]
    default: pull
  pull:
    description:
      - With O(source=pull), when to pull.
      - V(missing) pulls only when no record named O(name) exists.
      - V(always) asks the registry each time and reports a change only when the record's target digest changed.
        In check mode the remote digest is resolved over the registry's HTTP API, without pulling.
      - V(never) fails when the image is not present.
    type: str
    choices: [missing, always, never]
    default: missing
  platform:
    description:
      - Platform (V(linux/arm64)) to pull, import, export or mount. Default is the host's platform.
    type: str
  all_platforms:
    description:
      - Pull, import or export the content of every platform.
    type: bool
    default: false
  plain_http:
    description:
      - Talk to the registry over plain HTTP.
    type: bool
    default: false
  hosts_dir:
    description:
      - A registry hosts directory in containerd's C(certs.d) layout (C(<dir>/<host:port>/hosts.toml)),
        with the CA, client certificates and endpoints of registries (ctr's C(--hosts-dir)).
      - The CA and client certificate files the image's registry entry names must exist and be readable;
        they are checked before pulling.
    type: path
  validate_certs:
    description:
      - Verify the registry's TLS certificate. V(false) is unsafe; use it only for a registry you reach
        over a network you trust.
      - The same option as M(ctrops.containerd.registry_push)'s.
    type: bool
    default: true
  skip_verify:
    description:
      - The former, inverted name of O(validate_certs) (V(true) is O(validate_certs=false)).
        Deprecated; it will be removed in 1.0.0.
    type: bool
  username:
    description:
      - User name for the registry.
    type: str
  password:
    description:
      - Password for the registry. It is typed on a pseudo-terminal at ctr's prompt, so it never
        appears in any process's argument list or environment.
    type: str
  snapshotter:
    description:
      - Snapshotter to unpack into (or mount from). Default is containerd's.
    type: str
  unpack:
    description:
      - Unpack the pulled image into the snapshotter (C(ctr images pull)). V(false) only fetches the content
        and creates the record (C(ctr content fetch)); see RV(image.unpacked).
    type: bool
    default: true
  archive_path:
    description:
      - The archive to import (O(source=archive)) or to write (O(state=exported)).
    type: path
  additional_names:
    description:
      - With O(state=exported), more image names to put into the archive.
    type: list
    elements: str
    default: []
  mode:
    description:
      - File mode of the archive that O(state=exported) writes.
    type: raw
    default: '0644'
  source_image:
    description:
      - With O(source=image), the image whose target O(name) should point at.
    type: str
  force:
    description:
      - With O(source=image), move O(name) when it exists and points at another digest.
        Without it the module fails rather than retag silently.
    type: bool
    default: false
  labels:
    description:
      - Labels to set on the image record; a label whose value is V(null) is removed.
      - Labels not listed are kept unless O(purge_labels=true). Values must not contain commas.
    type: dict
  purge_labels:
    description:
      - Remove labels not in O(labels).
    type: bool
    default: false
  mount_path:
    description:
      - The directory to mount at (O(state=mounted)) or to unmount (O(state=unmounted)).
    type: path
  rw:
    description:
      - Mount read-write (changes go to a snapshot that O(state=unmounted) removes).
    type: bool
    default: false
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: With O(pull=always) the remote digest is resolved over HTTP to predict the change; see RV(resolve_error).
  diff_mode:
    support: full
    details: Shows the image record (target digest, media type, platforms, labels) before and after.
  platform:
    platforms: posix
notes:
  - A no-op O(state=present) run costs two ctr calls (C(images ls) and C(images check), filtered by name);
    RV(ctr_calls) reports the number of every run.
  - Registries on C(localhost)/C(127.0.0.1) differ between versions, as measured with the test rig.
    containerd 1.6 talks plain HTTP to them unless a O(hosts_dir) entry says https (a TLS registry then
    answers C(400 Bad Request)); containerd 2.1 reached a TLS registry there without its CA.
seealso:
  - module: ctrops.containerd.containerd_image_info
  - module: ctrops.containerd.registry_push
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_image -a 'name=nginx:alpine pull=always'

- name: Pull an image when it is missing
  ctrops.containerd.containerd_image:
    name: nginx:alpine

- name: Follow a moving tag from a private registry
  ctrops.containerd.containerd_image:
    name: registry.example:5000/team/app:stable
    pull: always
    hosts_dir: /etc/containerd/certs.d
    username: deploy
    password: "{{ vault_registry_password }}"

- name: Import an archive (no change when the image already has the archive's digest)
  ctrops.containerd.containerd_image:
    name: docker.io/team/app:1.2
    source: archive
    archive_path: /srv/images/app-1.2.tar

- name: Tag (ctr images tag old new)
  ctrops.containerd.containerd_image:
    name: registry.example:5000/library/app:1.2
    source: image
    source_image: docker.io/team/app:1.2

- name: Export to an OCI archive
  ctrops.containerd.containerd_image:
    name: docker.io/team/app:1.2
    state: exported
    archive_path: /srv/images/app-1.2.tar

- name: Look into an image's filesystem
  ctrops.containerd.containerd_image:
    name: docker.io/team/app:1.2
    state: mounted
    mount_path: /mnt/app

- name: Remove the image
  ctrops.containerd.containerd_image:
    name: docker.io/team/app:1.2
    state: absent
'''

RETURN = r'''
image:
  description: The image record after the task (in check mode, as predicted).
  returned: always
  type: dict
  contains:
    name:
      description: Normalised name.
      type: str
      sample: docker.io/library/nginx:alpine
    exists:
      description: Whether the record exists.
      type: bool
    digest:
      description: Target digest (an index digest for multi-platform images).
      type: str
      sample: sha256:1ca6680fffaea3ab5bb1ac905e5723b36c8c5114ddfeb4086d2015a2305c28ca
    media_type:
      description: Media type of the target.
      type: str
      sample: application/vnd.oci.image.index.v1+json
    size:
      description: Size as ctr reports it (human readable).
      type: str
      sample: 1009.1 KiB
    platforms:
      description: Platforms the target names.
      type: list
      elements: str
      sample: [linux/amd64, linux/arm64]
    labels:
      description: Labels of the record.
      type: dict
    complete:
      description: Whether all content for the host platform is present (C(ctr images check)).
      type: bool
    unpacked:
      description: Whether the image is unpacked into the snapshotter (C(ctr images check)).
      type: bool
remote_digest:
  description: The digest the registry serves for O(name) (resolved over HTTP in check mode with O(pull=always)).
  returned: when O(pull=always)
  type: str
resolve_error:
  description: Why the remote digest could not be resolved in check mode; the prediction then assumes a change.
  returned: when O(pull=always) in check mode and the registry could not be asked
  type: str
archive:
  description: Path and names of the archive written (O(state=exported)).
  returned: when O(state=exported)
  type: dict
actions:
  description: The operations performed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["pull docker.io/library/nginx:alpine", "set labels team"]
ctr_calls:
  description: Number of ctr invocations of this run (a no-op O(state=present) makes 2).
  returned: always
  type: int
'''

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import reference
from ansible_collections.ctrops.containerd.plugins.module_utils.image_state import (
    SOURCE_REQUIRED_IF,
    SOURCE_REQUIRED_TOGETHER,
    ImageTask,
    diff_view,
    public,
    source_argument_spec,
    validate_params,
)
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun


def converge(run):
    validate_params(run.params)
    name = reference.normalize(run.params['name'], option='name')
    state = run.params['state']
    task = ImageTask(run)
    if state in ('present', 'absent'):
        current = task.store.get(name)
        before = public(name, current)
        if state == 'present':
            after = public(name, task.present(name, current))
        else:
            if current is not None:
                run.act('remove %s' % name, task.store.remove, name)
            after = public(name, None)
        run.set_diff(diff_view(before), diff_view(after), 'image %s' % name)
    elif state == 'exported':
        after = public(name, task.exported(name))
    elif state == 'mounted':
        task.mounted(name)
        after = public(name, task.store.get(name))
    else:
        task.unmounted()
        after = dict(name=name)
    run.result['image'] = after


def main():
    argument_spec = source_argument_spec()
    argument_spec.update(
        state=dict(type='str', default='present', choices=['present', 'absent', 'exported', 'mounted', 'unmounted']),
        skip_verify=dict(type='bool', removed_in_version='1.0.0', removed_from_collection='ctrops.containerd'),
        additional_names=dict(type='list', elements='str', default=[]),
        mode=dict(type='raw', default='0644'),
        mount_path=dict(type='path'),
        rw=dict(type='bool', default=False),
    )
    run = ModuleRun(
        argument_spec,
        required_together=SOURCE_REQUIRED_TOGETHER,
        mutually_exclusive=[('validate_certs', 'skip_verify')],
        required_if=[
            ('state', 'exported', ['archive_path']),
            ('state', 'mounted', ['mount_path']),
            ('state', 'unmounted', ['mount_path']),
        ] + SOURCE_REQUIRED_IF,
    )
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
