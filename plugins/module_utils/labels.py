# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Label semantics shared by the modules: a value of None removes a label;
labels not named are kept unless purge is set."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def wanted_labels(current, labels, purge):
    """The label set an object should end with."""
    result = {} if purge else dict(current)
    for key, value in (labels or {}).items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = str(value)
    return result


def label_changes(current, wanted):
    """The changes that turn ``current`` into ``wanted``: {key: value}, None for a removal."""
    changes = dict((key, value) for key, value in wanted.items() if current.get(key) != value)
    changes.update((key, None) for key in current if key not in wanted)
    return changes


def label_actions(changes):
    """The action texts of label ``changes``: 'set labels a, b' and 'remove labels c'."""
    set_keys = sorted(key for key, value in changes.items() if value is not None)
    removed = sorted(key for key, value in changes.items() if value is None)
    actions = []
    if set_keys:
        actions.append('set labels %s' % ', '.join(set_keys))
    if removed:
        actions.append('remove labels %s' % ', '.join(removed))
    return actions


def label_args(labels):
    """ctr's ``key=value`` arguments; a value of None becomes ``key=``, which removes the label."""
    return ['%s=%s' % (key, '' if value is None else value) for key, value in sorted(labels.items())]


def labels_match(labels, wanted):
    """Whether ``labels`` carry every label of ``wanted``; a wanted value of None matches any value."""
    return all(key in labels and (value is None or labels[key] == str(value))
               for key, value in (wanted or {}).items())


def filter_quote(value):
    """``value`` as a quoted string of a containerd filter (``ctr ... ls FILTER``)."""
    return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')


def label_filter(key, value):
    """A containerd filter term: label ``key`` has ``value``."""
    return 'labels.%s==%s' % (filter_quote(key), filter_quote(value))
