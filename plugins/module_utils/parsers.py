# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parsers for the output of ``ctr``.

Pure functions (no Ansible, no subprocess) so that unit tests can feed them the
outputs recorded from the ``ctr`` of containerd 1.6 and 2.x.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

# A label list "k=v,k2=v2": a comma starts a new label only when a "key=" follows.
_LABEL_SPLIT_RE = re.compile(r',(?=[^,=]+=)')


def parse_quiet_list(output):
    """Parse the output of a ``-q`` listing: one identifier per line."""
    return [line.strip() for line in output.splitlines() if line.strip()]


def parse_labels(text):
    """Parse ctr's comma-joined label column into a dict."""
    labels = {}
    text = text.strip()
    if not text:
        return labels
    for item in _LABEL_SPLIT_RE.split(text):
        key, sep, value = item.partition('=')
        labels[key] = value if sep else ''
    return labels


def table_rows(output):
    """Return the data lines of a ctr table (header dropped, blank lines skipped)."""
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[1:] if lines else []


def parse_namespaces(output):
    """Parse ``ctr namespaces ls`` (columns NAME LABELS) into {name: labels}."""
    namespaces = {}
    for line in table_rows(output):
        name, _sep, rest = line.strip().partition(' ')
        namespaces[name] = parse_labels(rest)
    return namespaces


def parse_tasks(output):
    """Parse ``ctr tasks ls`` (columns TASK PID STATUS) into {id: {pid, status}}.

    containerd 1.6 and 2.x print the status in capitals (RUNNING, PAUSED,
    STOPPED, CREATED, PAUSING, UNKNOWN); it is lower-cased here so that modules
    compare one spelling.
    """
    tasks = {}
    for line in table_rows(output):
        fields = line.split()
        if len(fields) < 3:
            continue
        task_id, pid, status = fields[0], fields[1], fields[2]
        tasks[task_id] = {'pid': int(pid) if pid.isdigit() else 0, 'status': status.lower()}
    return tasks


def parse_containers(output):
    """Parse ``ctr containers ls`` (columns CONTAINER IMAGE RUNTIME) into {id: {image, runtime}}.

    Same layout in containerd 1.6 and 2.x; the table has no labels (``containers info`` has them).
    A container made without an image shows ``-`` or an empty column: its image is None.
    """
    containers = {}
    for line in table_rows(output):
        fields = line.split()
        if len(fields) < 2:
            continue
        image = fields[1] if len(fields) > 2 else '-'
        containers[fields[0]] = {'image': None if image == '-' else image, 'runtime': fields[-1]}
    return containers


def parse_json(output, what):
    """Parse JSON printed by ctr (``containers info``), naming ``what`` on failure."""
    try:
        return json.loads(output)
    except ValueError as exc:
        raise ValueError('could not parse the JSON that ctr printed for %s: %s' % (what, exc))


def parse_version(output):
    """Parse ``ctr version`` into {'client': '1.6.20', 'server': '2.1.9'} (None when absent)."""
    versions = {'client': None, 'server': None}
    section = None
    for line in output.splitlines():
        stripped = line.strip()
        if stripped in ('Client:', 'Server:'):
            section = stripped[:-1].lower()
        elif section and stripped.startswith('Version:'):
            versions[section] = stripped.split(':', 1)[1].strip()
    return versions


def version_tuple(version):
    """Turn '1.6.20~ds1' or 'v2.1.9+unknown' into (1, 6, 20); () when unparsable."""
    match = re.match(r'v?(\d+)\.(\d+)(?:\.(\d+))?', version or '')
    if not match:
        return ()
    return tuple(int(part or 0) for part in match.groups())


# -- images (containerd_image, containerd_image_info) --------------------------------

def _label_column(text):
    """ctr prints '-' for an image without labels."""
    text = text.strip()
    return {} if text in ('', '-') else parse_labels(text)


def parse_images(output):
    """Parse ``ctr images ls`` into {name: {name, media_type, digest, size, platforms, labels}}.

    Columns: REF TYPE DIGEST SIZE PLATFORMS LABELS, where SIZE is two words
    ("1009.1 KiB"), PLATFORMS a comma list ('-' when unknown) and LABELS the
    comma-joined labels ('-' when none). Same layout in containerd 1.6 and 2.x.
    """
    images = {}
    for line in table_rows(output):
        fields = line.split(None, 6)
        if len(fields) < 6:
            continue
        name, media_type, digest, size_value, size_unit, platforms = fields[:6]
        labels = fields[6] if len(fields) > 6 else ''
        images[name] = {
            'name': name,
            'media_type': media_type,
            'digest': digest,
            'size': '%s %s' % (size_value, size_unit),
            'platforms': [] if platforms == '-' else platforms.split(','),
            'labels': _label_column(labels),
        }
    return images


def parse_image_check(output):
    """Parse ``ctr images check`` into {name: {complete, unpacked, status}}.

    Columns: REF TYPE DIGEST STATUS SIZE UNPACKED; STATUS is 'complete (2/2)',
    'incomplete (1/2)' or another word; SIZE may contain spaces; UNPACKED is the
    last field (true/false).
    """
    checked = {}
    for line in table_rows(output):
        fields = line.split()
        if len(fields) < 5:
            continue
        status = fields[3]
        checked[fields[0]] = {
            'complete': status == 'complete',
            'unpacked': fields[-1] == 'true',
            'status': status,
        }
    return checked


def parse_mountinfo(text):
    """Mount points of /proc/self/mountinfo (octal escapes such as \\040 decoded)."""
    points = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.append(re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points
