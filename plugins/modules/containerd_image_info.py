#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_image_info
short_description: List containerd images with their digests, platforms, labels and completeness
version_added: 0.1.0
description:
  - Lists the image records of a namespace, as C(ctr images ls) and C(ctr images check) show them.
  - Read-only.
options:
  name:
    description:
      - Only these images (references as users write them, normalised like docker does).
      - Names that do not exist are left out of RV(images) and listed in RV(missing).
    type: list
    elements: str
    default: []
  labels:
    description:
      - Only images carrying all these labels; a value of V(null) matches any value of that label.
    type: dict
    default: {}
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
  - ctrops.containerd.client.INFO
notes:
  - Costs two ctr calls (C(images ls) and C(images check)), whatever the number of images.
seealso:
  - module: ctrops.containerd.containerd_image
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_image_info -a 'name=nginx:alpine,busybox'

- name: All images of the default namespace
  ctrops.containerd.containerd_image_info:
  register: all_images

- name: One image
  ctrops.containerd.containerd_image_info:
    name: nginx:alpine
  register: nginx

- name: Images of the web team
  ctrops.containerd.containerd_image_info:
    labels:
      team: web

# With community.general.json_query (needs jmespath on the control node): the images that are not
# complete or not unpacked, as name and digest, to pull again.
- name: Images to pull again
  ansible.builtin.debug:
    msg: "{{ all_images | community.general.json_query(broken_query) }}"
  vars:
    broken_query: "images[?!complete || !unpacked].{name: name, digest: digest}"
'''

RETURN = r'''
images:
  description: The matching images, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Full image name.
      type: str
      sample: docker.io/library/nginx:alpine
    digest:
      description: Target digest.
      type: str
    media_type:
      description: Media type of the target.
      type: str
    size:
      description: Size as ctr reports it (human readable).
      type: str
    platforms:
      description: Platforms the target names.
      type: list
      elements: str
    labels:
      description: Labels of the record.
      type: dict
    complete:
      description: Whether all content for the host platform is present.
      type: bool
    unpacked:
      description: Whether the image is unpacked into the snapshotter.
      type: bool
missing:
  description: Names given in O(name) that do not exist.
  returned: always
  type: list
  elements: str
ctr_calls:
  description: Number of ctr invocations of this run (2).
  returned: always
  type: int
'''

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import reference
from ansible_collections.ctrops.containerd.plugins.module_utils.images import ImageStore
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import labels_match
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun

KEYS = ('name', 'digest', 'media_type', 'size', 'platforms', 'labels', 'complete', 'unpacked')


def collect(run):
    names = [reference.normalize(text, option='name') for text in run.params['name']]
    records = ImageStore(run.client).records()
    images = []
    for name in sorted(records):
        record = records[name]
        if names and name not in names:
            continue
        if not labels_match(record['labels'], run.params['labels']):
            continue
        images.append(dict((key, record[key]) for key in KEYS))
    run.result.update(images=images, missing=[n for n in names if n not in records])


def main():
    run = ModuleRun(dict(
        name=dict(type='list', elements='str', default=[]),
        labels=dict(type='dict', default={}),
    ))
    run.execute(collect, run)
    run.exit()


if __name__ == '__main__':
    main()
