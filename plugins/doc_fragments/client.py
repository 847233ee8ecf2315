# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Options of every module that talks to containerd through ctr."""

    DOCUMENTATION = r'''
options:
  address:
    description:
      - Address of containerd's GRPC socket, as ctr's C(--address) takes it.
      - A path (or C(unix://) URL) is checked before the first call, so a stopped
        containerd is reported at once with this address in the message.
    type: str
    default: /run/containerd/containerd.sock
  timeout:
    description:
      - Seconds each ctr call may take before it is aborted (ctr's C(--timeout)), also to connect
        (ctr's C(--connect-timeout)). A containerd that accepts the connection but does not answer within
        it fails the task with one sentence saying so.
      - Set C(0) for no limit.
    type: int
    default: 60
  executable:
    description:
      - Path of the C(ctr) binary to use.
      - By default C(ctr) is looked up on E(PATH), then in C(/usr/local/bin), C(/usr/bin)
        and C(/run/current-system/sw/bin) (NixOS).
    type: path
requirements:
  - containerd 1.6, 1.7 or 2.x with its C(ctr) client on the managed host.
  - Python 3 on the managed host (standard library only).
notes:
  - The module runs C(ctr) with an argument vector, never through a shell.
  - "In an ad-hoc command (C(ansible HOST -m MODULE -a 'k=v ...')), a mapping option takes C(k=v,k=v)
    (C(labels=team=web,tier=front)) or JSON, a list option comma-separated values (C(name=a,b)), and a list
    of mappings JSON in a JSON C(-a) (C(-a '{\"name\": \"x\", \"mounts\": [...]}')); see each module's EXAMPLES."
  - Talking to containerd usually needs root (C(become=true)) or membership in the
    group that owns the socket.
'''

    NAMESPACE = r'''
options:
  namespace:
    description:
      - containerd namespace the module works in (ctr's C(--namespace)).
    type: str
    default: default
'''

    # The attributes of the read-only *_info modules.
    INFO = r'''
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: N/A
    details: The module changes nothing.
  platform:
    platforms: posix
'''
