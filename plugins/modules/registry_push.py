#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: registry_push
short_description: Push a containerd image to a registry only when the remote differs
version_added: 0.1.0
description:
  - Tags a local image with its destination and pushes it (C(ctr images tag) then C(ctr images push)),
    as the field notes do for a self-hosted registry.
  - Before pushing, asks the registry for the destination's digest (HTTP C(HEAD) with the OCI and Docker
    manifest and index media types in C(Accept)) and pushes only when it differs from the local image's
    target digest, or when O(force=true).
options:
  name:
    description:
      - The local image to push, as users write it (normalised like docker does).
    type: str
    required: true
  destination:
    description:
      - Where to push, C(host[:port]/repository[:tag]); the tag defaults to the local image's tag.
      - When omitted, O(registry), O(repository) and O(tag) compose it.
    type: str
  registry:
    description:
      - Registry host (C(host[:port])) when O(destination) is not given.
    type: str
  repository:
    description:
      - Repository path on O(registry); defaults to the local image's path (V(library/nginx) for V(nginx:alpine)).
    type: str
  tag:
    description:
      - Tag on O(registry); defaults to the local image's tag.
    type: str
  keep_tag:
    description:
      - Keep the local tag named after the destination once pushed. V(false) removes it
        (unless it is O(name) itself), also when nothing had to be pushed.
    type: bool
    default: true
  force:
    description:
      - Push even when the registry already serves the local digest.
    type: bool
    default: false
  platform:
    description:
      - Push only this platform's content (ctr's C(--platform)). By default everything the image references is
        pushed, which needs all of it present locally (pull with C(all_platforms) for multi-platform images).
    type: str
  plain_http:
    description:
      - Talk to the registry over plain HTTP.
      - Only then are credentials sent to a plain HTTP token realm, and a redirect from HTTPS to plain HTTP
        followed.
    type: bool
    default: false
  ca_cert:
    description:
      - CA certificate (PEM) to verify the registry's TLS certificate with.
      - O(ca_cert), O(client_cert) and O(client_key) must name readable files; they are checked before anything
        is done.
      - O(ca_cert), O(client_cert) and O(validate_certs=false) reach ctr as a temporary hosts directory
        (ctr's C(--tlscacert) needs C(--local) in containerd 2.x, and containerd 1.x talks plain HTTP to
        registries on localhost unless a hosts file says https). Not together with O(hosts_dir).
    type: path
  client_cert:
    description:
      - Client certificate (PEM) for registries that require one.
    type: path
  client_key:
    description:
      - Key of O(client_cert).
    type: path
  validate_certs:
    description:
      - Verify the registry's TLS certificate. V(false) is unsafe.
    type: bool
    default: true
  hosts_dir:
    description:
      - A registry hosts directory in containerd's C(certs.d) layout (C(<dir>/<host:port>/hosts.toml)); its
        endpoint, CA and client certificate are used, as containerd uses them for pulls.
    type: path
  username:
    description:
      - User name for the registry (basic auth, or the credentials sent to a Bearer token server).
    type: str
  password:
    description:
      - Password for the registry. ctr receives it on a pseudo-terminal at its prompt and the registry check
        sends it over HTTP from the module itself, so it never appears in any process's argument list or
        environment, in results or in logs.
    type: str
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The registry is asked for the destination's digest, so the prediction is that of a real run.
  diff_mode:
    support: full
    details: Shows the destination's remote digest before and after.
  platform:
    platforms: posix
notes:
  - Registries answering with a Bearer challenge (C(WWW-Authenticate Bearer realm=...,service=...,scope=...),
    Harbor, distribution with token auth) and with basic auth are both supported.
  - Credentials stay with their registry. A redirect to another scheme, host or port is followed without the
    C(Authorization) header; a redirect from HTTPS to plain HTTP, and a plain HTTP token realm behind an HTTPS
    registry, are refused unless O(plain_http=true). Basic credentials go only to the registry and to its token
    realm.
  - A registry that requires a client certificate (mutual TLS) is reached with O(client_cert) and O(client_key),
    or with a O(hosts_dir) whose C(hosts.toml) names them.
  - A no-op run costs one ctr call (C(images ls) of the image and of the destination tag) and one
    HTTP C(HEAD) (plus the challenge round trip and a token request with authentication).
seealso:
  - module: ctrops.containerd.containerd_image
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.registry_push \
#     -a 'name=team/app:1 destination=registry.example:5000/team/app:1'

- name: Push to a self-hosted registry, as in the field notes
  ctrops.containerd.registry_push:
    name: nginx:alpine
    registry: registry.example:5000
    username: deploy
    password: "{{ vault_registry_password }}"
    hosts_dir: /etc/containerd/certs.d

- name: Push under another name, without keeping the extra local tag
  ctrops.containerd.registry_push:
    name: docker.io/team/app:1.2
    destination: 10.0.0.5:5000/team/app:stable
    plain_http: true
    keep_tag: false
'''

RETURN = r'''
destination:
  description: The normalised destination reference.
  returned: always
  type: str
  sample: registry.example:5000/library/nginx:alpine
local_digest:
  description: Target digest of the local image.
  returned: always
  type: str
remote_digest_before:
  description: Digest the registry served for the destination before the task (null when it had none).
  returned: always
  type: str
remote_digest_after:
  description: Digest the registry serves after the task (in check mode, the predicted one).
  returned: always
  type: str
pushed:
  description: Whether the image was pushed (in check mode, whether it would be).
  returned: always
  type: bool
actions:
  description: The operations performed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["tag docker.io/library/nginx:alpine as registry.example:5000/library/nginx:alpine",
           "push registry.example:5000/library/nginx:alpine"]
ctr_calls:
  description: Number of ctr invocations of this run.
  returned: always
  type: int
'''

import atexit
import re
import shutil
import tempfile

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import reference
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.client import CtrError
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.images import ImageStore, write_hosts_dir
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun
from ansible_collections.ctrops.containerd.plugins.module_utils.registry import RegistryClient, RegistryError

_HOST_RE = re.compile(r'^(?:localhost|[^/]*[.:][^/]*|\[[0-9a-fA-F:]+\](?::[0-9]+)?)$')


def compose_destination(params, local):
    """The destination reference: O(destination) or registry/repository:tag, with defaults from the local image."""
    text = params['destination']
    if text is None:
        registry = params['registry'].strip().rstrip('/')
        if '/' in registry or not registry:
            raise InvalidInput('Invalid registry %r: give host[:port] only; put the path in repository.' % registry)
        text = '%s/%s:%s' % (registry, (params['repository'] or local.path).strip('/'), params['tag'] or local.tag or 'latest')
    first = text.split('/', 1)[0]
    if '/' not in text or not _HOST_RE.match(first):
        raise InvalidInput('Invalid destination %r: it names no registry host; write host[:port]/repository[:tag].'
                           % text)
    dest = reference.parse(text, default_tag=False, option='destination')
    if dest.digest:
        raise InvalidInput('Invalid destination %r: push to a tag, not to a digest.' % text)
    if dest.tag is None:
        dest = dest.with_tag(local.tag or 'latest')
    return dest


def push_transport(params, dest):
    """How ctr reaches the registry; TLS files go into a hosts directory written for this run only."""
    transport = dict(plain_http=params['plain_http'], hosts_dir=params['hosts_dir'],
                     username=params['username'], password=params['password'])
    tls_options = params['ca_cert'] or params['client_cert'] or not params['validate_certs']
    if tls_options and not params['plain_http'] and not params['hosts_dir']:
        temporary = tempfile.mkdtemp(prefix='ctrops-push-hosts-')
        atexit.register(shutil.rmtree, temporary, True)
        transport['hosts_dir'] = write_hosts_dir(temporary, dest.domain, ca_cert=params['ca_cert'],
                                                 client_cert=params['client_cert'], client_key=params['client_key'],
                                                 skip_verify=not params['validate_certs'])
    return transport


def remote_digest(registry, dest):
    try:
        return registry.manifest_digest(dest.path, dest.tag)
    except RegistryError as exc:
        raise ModuleError(exc.message, destination=str(dest))


class Push:
    """One push: tag the local image as the destination, push it, read the registry's digest back."""

    def __init__(self, run, store, registry, dest):
        self.run = run
        self.store = store
        self.registry = registry
        self.dest = dest
        self.destination = str(dest)

    def tag_and_push(self, name, record, tagged, transport):
        """Returns the destination's record and the registry's digest afterwards."""
        run, destination = self.run, self.destination
        created = False
        if tagged is None or tagged['digest'] != record['digest']:
            run.act('tag %s as %s' % (name, destination), self.store.tag, name, destination,
                    force=tagged is not None)
            created = tagged is None
            tagged = dict(record, name=destination)
        try:
            run.act('push %s' % destination, self.store.push, destination, transport,
                    platform=run.params['platform'])
        except CtrError:
            if created:
                # Leave the host as it was: no tag of a push that did not happen.
                run.act('remove local tag %s (the push failed)' % destination, self.store.remove, destination)
            raise
        if run.check_mode:
            return tagged, record['digest']
        return tagged, self.digest_after(record['digest'])

    def digest_after(self, local_digest):
        try:
            after = self.registry.manifest_digest(self.dest.path, self.dest.tag)
        except RegistryError as exc:
            self.run.warn('Pushed, but could not read the digest back: %s' % exc.message)
            return None
        if after != local_digest and not self.run.params['platform']:
            self.run.warn('The registry serves %s for %s after the push, not the local digest %s.'
                          % (after, self.destination, local_digest))
        return after


def converge(run):
    params = run.params
    validate.username(params['username'])
    local = reference.parse(params['name'], option='name')
    name = str(local)
    dest = compose_destination(params, local)
    destination = str(dest)
    run.result.update(destination=destination, pushed=False)
    store = ImageStore(run.client)
    registry = RegistryClient(dest.domain, plain_http=params['plain_http'], ca_cert=params['ca_cert'],
                              client_cert=params['client_cert'], client_key=params['client_key'],
                              validate_certs=params['validate_certs'], username=params['username'],
                              password=params['password'], timeout=params['timeout'] or 30,
                              hosts_dir=params['hosts_dir'])
    transport = push_transport(params, dest)
    found = store.find(name, destination)
    record = found.get(name)
    if record is None:
        raise ModuleError('Unknown local image %s in namespace %s: pull or import it first.'
                          % (name, run.client.namespace))
    local_digest = record['digest']
    run.result['local_digest'] = local_digest
    before = remote_digest(registry, dest)
    push = params['force'] or before != local_digest
    tagged = found.get(destination)
    after = before
    if push:
        tagged, after = Push(run, store, registry, dest).tag_and_push(name, record, tagged, transport)
    if not params['keep_tag'] and destination != name and tagged is not None:
        run.act('remove local tag %s' % destination, store.remove, destination)
    run.result.update(remote_digest_before=before, remote_digest_after=after, pushed=push)
    run.set_diff(dict(destination=destination, remote_digest=before),
                 dict(destination=destination, remote_digest=after), 'registry %s' % destination)


def main():
    run = ModuleRun(
        dict(
            name=dict(type='str', required=True),
            destination=dict(type='str'),
            registry=dict(type='str'),
            repository=dict(type='str'),
            tag=dict(type='str'),
            keep_tag=dict(type='bool', default=True),
            force=dict(type='bool', default=False),
            platform=dict(type='str'),
            plain_http=dict(type='bool', default=False),
            ca_cert=dict(type='path'),
            client_cert=dict(type='path'),
            client_key=dict(type='path'),
            validate_certs=dict(type='bool', default=True),
            hosts_dir=dict(type='path'),
            username=dict(type='str'),
            password=dict(type='str', no_log=True),
        ),
        mutually_exclusive=[('destination', 'registry'), ('destination', 'repository'), ('destination', 'tag'),
                            ('hosts_dir', 'ca_cert'), ('hosts_dir', 'client_cert')],
        required_one_of=[('destination', 'registry')],
        required_together=[('username', 'password'), ('client_cert', 'client_key')],
    )
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
