# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Image references as users write them, normalised the way docker and nerdctl do.

``nginx:alpine`` is ``docker.io/library/nginx:alpine``; ``registry:5000/app`` is
``registry:5000/app:latest``; a digest is kept and a tag beside it too.
The grammar is the distribution/reference one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput

DEFAULT_DOMAIN = 'docker.io'
LEGACY_DOMAINS = ('index.docker.io', 'registry-1.docker.io')
OFFICIAL_PREFIX = 'library/'
DEFAULT_TAG = 'latest'

_COMPONENT = r'[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
_PATH_RE = re.compile(r'^%s(?:/%s)*$' % (_COMPONENT, _COMPONENT))
_DOMAIN_RE = re.compile(r'^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?'
                        r'(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$')
_TAG_RE = re.compile(r'^[\w][\w.-]{0,127}$')
_DIGEST_RE = re.compile(r'^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$')
NAME_MAX_LENGTH = 255


class InvalidReference(InvalidInput, ValueError):
    """A reference that does not follow the image reference grammar."""


class Reference:
    """A parsed, normalised image reference."""

    def __init__(self, domain, path, tag=None, digest=None):
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def repository(self):
        """domain/path, e.g. docker.io/library/nginx."""
        return '%s/%s' % (self.domain, self.path)

    def __str__(self):
        text = self.repository
        if self.tag:
            text += ':' + self.tag
        if self.digest:
            text += '@' + self.digest
        return text

    def __repr__(self):
        return 'Reference(%r)' % str(self)

    def __eq__(self, other):
        return isinstance(other, Reference) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))

    def with_tag(self, tag):
        return Reference(self.domain, self.path, tag=tag)

    def familiar(self):
        """The short form docker prints: nginx:alpine for docker.io/library/nginx:alpine."""
        text = str(self)
        if self.domain == DEFAULT_DOMAIN:
            text = text[len(DEFAULT_DOMAIN) + 1:]
            if text.startswith(OFFICIAL_PREFIX) and '/' not in self.path[len(OFFICIAL_PREFIX):]:
                text = text[len(OFFICIAL_PREFIX):]
        return text


def _split_domain(name):
    """Split 'host:5000/team/app' into ('host:5000', 'team/app'), docker's way."""
    first, sep, rest = name.partition('/')
    if sep and ('.' in first or ':' in first or first == 'localhost' or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain in LEGACY_DOMAINS:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and '/' not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def parse(text, default_tag=True, option=None):
    """Parse and normalise ``text``; raise InvalidReference saying what is wrong (naming ``option`` if given)."""
    try:
        return _parse(text, default_tag)
    except InvalidReference as exc:
        if option is None:
            raise
        raise InvalidReference('Invalid %s: %s.' % (option, exc.message))


def _parse(text, default_tag):
    if not isinstance(text, str) or not text.strip():
        raise InvalidReference('an image reference must not be empty')
    text = text.strip()
    if any(ch.isspace() for ch in text):
        raise InvalidReference('image reference %r contains white space' % text)
    name, digest = text, None
    if '@' in text:
        name, _sep, digest = text.partition('@')
        if not _DIGEST_RE.match(digest):
            raise InvalidReference('image reference %r has an invalid digest %r: expected ALGORITHM:HEX, '
                                   'for example sha256: and 64 hex digits' % (text, digest))
    tag = None
    last_slash = name.rfind('/')
    colon = name.rfind(':')
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG_RE.match(tag):
            raise InvalidReference('image reference %r has an invalid tag %r: use letters, digits, "_", "." '
                                   'and "-" (at most 128, not starting with "." or "-")' % (text, tag))
    domain, path = _split_domain(name)
    if not _DOMAIN_RE.match(domain):
        raise InvalidReference('image reference %r has an invalid registry host %r' % (text, domain))
    if not _PATH_RE.match(path):
        hint = ' (repository names must be lower case)' if path != path.lower() else ''
        raise InvalidReference('image reference %r has an invalid repository name %r%s'
                               % (text, path, hint))
    if len(domain) + 1 + len(path) > NAME_MAX_LENGTH:
        raise InvalidReference('image reference %r is longer than %d characters' % (text, NAME_MAX_LENGTH))
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag=tag, digest=digest)


def normalize(text, option=None):
    """The full reference string containerd stores, e.g. docker.io/library/nginx:alpine."""
    return str(parse(text, option=option))
