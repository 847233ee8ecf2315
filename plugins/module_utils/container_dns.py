# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A networked container's /etc/resolv.conf and /etc/hosts: files on the host, bind-mounted into it.

What ``docker run --dns/--dns-search/--dns-option/--add-host`` and nerdctl give a container on a CNI network.
Without DNS options the container gets the host's resolver configuration with loopback nameservers left
out (they would be the container's own loopback), as Docker does. The files are rewritten in place (a bind
mount holds the inode), so a change reaches a running container without a recreate.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import re

from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput

HOST_RESOLV_CONF = '/etc/resolv.conf'
# systemd-resolved's stub (127.0.0.53) hides the real servers; this file lists them.
RESOLVED_RESOLV_CONF = '/run/systemd/resolve/resolv.conf'
FALLBACK_NAMESERVERS = ('8.8.8.8', '8.8.4.4')  # Docker's, when the host has none the container can reach
DNS_OPTIONS = ('dns_servers', 'dns_search_domains', 'dns_opts', 'etc_hosts')
HOSTNAME_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$')


def argument_spec():
    return dict(
        dns_servers=dict(type='list', elements='str'),
        dns_search_domains=dict(type='list', elements='str'),
        dns_opts=dict(type='list', elements='str'),
        etc_hosts=dict(type='dict'),
    )


def check(params):
    """The DNS options, checked (InvalidInput names the container); they need networks."""
    name = params['name']
    given = [option for option in DNS_OPTIONS if params.get(option)]
    if given and not params.get('networks'):
        raise InvalidInput('Container %s sets %s without networks: these files are written for a container on CNI '
                           'networks (one on the host\'s network uses the host\'s files), so add networks.'
                           % (name, ', '.join(given)))
    for server in params.get('dns_servers') or []:
        _address(server, 'Container %s: dns_servers entry %r is not an IP address.' % (name, server))
    for host, address in (params.get('etc_hosts') or {}).items():
        if not HOSTNAME_RE.match(str(host)):
            raise InvalidInput('Container %s: etc_hosts name %r is not a host name.' % (name, host))
        _address(str(address), 'Container %s: etc_hosts address %r of %s is not an IP address.'
                 % (name, address, host))
    for word in (params.get('dns_search_domains') or []) + (params.get('dns_opts') or []):
        if not word or any(char.isspace() for char in word):
            raise InvalidInput('Container %s: DNS search domains and options are single words: %r is not.'
                               % (name, word))


def _address(text, message):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(message)


def host_resolver(path=HOST_RESOLV_CONF):
    """(nameservers, search domains, options) of the host's resolver configuration."""
    servers, search, options = _parse(_read(path))
    if servers and all(server.startswith('127.0.0.53') for server in servers) and os.path.exists(RESOLVED_RESOLV_CONF):
        servers, search, options = _parse(_read(RESOLVED_RESOLV_CONF))
    return servers, search, options


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return ''


def _parse(text):
    servers, search, options = [], [], []
    for line in text.splitlines():
        words = line.split('#')[0].split()
        if len(words) > 1 and words[0] == 'nameserver':
            servers.append(words[1])
        elif words and words[0] in ('search', 'domain'):
            search = words[1:]  # the last one counts, as for the resolver
        elif words and words[0] == 'options':
            options = words[1:]
    return servers, search, options


def resolv_conf(params, host=None):
    """The container's resolv.conf: its options where given, the host's (without loopback servers) where not."""
    servers, search, options = host if host is not None else host_resolver()
    if params.get('dns_servers'):
        servers = list(params['dns_servers'])
    else:
        servers = [server for server in servers if not _loopback(server)] or list(FALLBACK_NAMESERVERS)
    if params.get('dns_search_domains') is not None:
        search = list(params['dns_search_domains'])
    if params.get('dns_opts') is not None:
        options = list(params['dns_opts'])
    lines = ['# Written by ctrops.containerd for container %s.' % params['name']]
    lines += ['search %s' % ' '.join(search)] if search else []
    lines += ['nameserver %s' % server for server in servers]
    lines += ['options %s' % ' '.join(options)] if options else []
    return '\n'.join(lines) + '\n'


def _loopback(server):
    try:
        return ipaddress.ip_address(server.split('%')[0]).is_loopback
    except ValueError:
        return False


def hosts(params, addresses):
    """The container's hosts file: loopback, its own addresses under its host name, then etc_hosts."""
    hostname = params.get('hostname') or params['name']
    lines = ['# Written by ctrops.containerd for container %s.' % params['name'],
             '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback']
    lines += ['%s\t%s' % (address.split('/')[0], hostname) for address in addresses]
    lines += ['%s\t%s' % (address, name) for name, address in sorted((params.get('etc_hosts') or {}).items())]
    return '\n'.join(lines) + '\n'


def files_dir(etc_dir, pinned):
    """The directory of a container's files: named as its pinned network namespace."""
    return os.path.join(etc_dir, os.path.basename(pinned))


def differs(path, text):
    return _read(path) != text if os.path.exists(path) else True


def write_in_place(path, text):
    """Write ``text`` to ``path`` keeping its inode (a bind mount into a running container holds it), 0644."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, 'w') as handle:
        handle.truncate(0)
        handle.write(text)
        os.fchmod(handle.fileno(), 0o644)
