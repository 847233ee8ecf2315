# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Input checks shared by the modules, each message written once.

Each check raises ``InvalidInput`` with one sentence saying what is wrong and
how to fix it; the run loop turns it into the module's failure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput

# containerd's identifier rule (pkg/identifiers): namespaces, containers, tasks.
IDENTIFIER_RE = re.compile(r'^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$')
IDENTIFIER_MAX_LENGTH = 76
SIGNAL_RE = re.compile(r'^(SIG[A-Z0-9+-]+|[0-9]+)$')


def identifier_error(value, what='name'):
    """Why ``value`` is not a valid containerd identifier, or None."""
    if not value:
        return '%s must not be empty' % what
    if len(value) > IDENTIFIER_MAX_LENGTH:
        return '%s %r is longer than %d characters' % (what, value, IDENTIFIER_MAX_LENGTH)
    if not IDENTIFIER_RE.match(value):
        return ('%s %r is not a valid containerd identifier: use letters and digits, '
                'separated by single ".", "_" or "-"' % (what, value))
    return None


def identifier(value, option, what=None):
    """A containerd identifier (namespace, container, exec ID) given in ``option``."""
    problem = identifier_error(value, what or option)
    if problem:
        raise InvalidInput('Invalid %s: %s.' % (option, problem))


def label_keys(labels, reported_in_list=False):
    """Label keys (and, for labels ctr reports comma-joined, values) that ctr can carry and report back."""
    for key, value in (labels or {}).items():
        if reported_in_list:
            if not key or '=' in key or ',' in key:
                raise InvalidInput('Invalid label key %r: keys must be non-empty and contain neither "=" nor ",".'
                                   % key)
            if value is not None and ',' in str(value):
                raise InvalidInput('The value of label %r contains a comma, which ctr cannot report back '
                                   'unambiguously: choose a value without ",".' % key)
        elif not key or '=' in key:
            raise InvalidInput('Invalid label key %r: keys must be non-empty and contain no "=".' % key)


def env_names(env):
    """Environment variable names: non-empty, without '='."""
    for key in env or {}:
        if not key or '=' in key:
            raise InvalidInput('Invalid environment variable name %r: it must be non-empty without "=".' % key)


def username(value):
    """A registry user name: ctr's --user takes ``user:password``, so no ':' in the name."""
    if value and ':' in value:
        raise InvalidInput('Invalid username: it must not contain ":".')


def signal(value):
    """A signal name (SIGTERM) or number (15)."""
    if not SIGNAL_RE.match(value or ''):
        raise InvalidInput('Invalid signal %r: give a name such as SIGTERM or SIGINT, or a number such as 15.'
                           % value)


def non_negative(value, option, unit='seconds'):
    if value is not None and value < 0:
        raise InvalidInput('%s must be 0 or more %s.' % (option, unit))


def absolute_path(value, option):
    if value is not None and not value.startswith('/'):
        raise InvalidInput('%s %r must be an absolute path.' % (option, value))


def existing_parent(path, option):
    """The directory a file will be written to exists."""
    if path and not os.path.isdir(os.path.dirname(path) or '/'):
        raise InvalidInput('The directory of %s %s does not exist: create it first.' % (option, path))


def readable_file(path, option):
    """A file option (a CA, client certificate or key) names a readable file: checked before acting."""
    if not path:
        return
    if not os.path.exists(path):
        raise InvalidInput('The %s file %s does not exist: give the path of an existing PEM file.' % (option, path))
    if os.path.isdir(path):
        raise InvalidInput('The %s path %s is a directory: give the path of a PEM file.' % (option, path))
    try:
        with open(path, 'rb'):
            pass
    except (IOError, OSError) as exc:
        raise InvalidInput('The %s file %s cannot be read (%s): check its permissions.'
                           % (option, path, exc.strerror or exc))
