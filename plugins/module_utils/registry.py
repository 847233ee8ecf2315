# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small OCI distribution (registry) HTTP client, standard library only.

Used to learn a remote manifest's digest without pulling (check mode of
containerd_image, idempotency of registry_push): HEAD on
``/v2/<repo>/manifests/<reference>`` with every manifest and index media type in
Accept, so an index is reported as the index digest, as containerd resolves it.

Auth: HTTP basic, or the Bearer token flow of the distribution token spec
(``WWW-Authenticate: Bearer realm=…,service=…,scope=…``: GET the realm with
basic credentials, then retry with the token). TLS: a CA file, a client
certificate, verification on by default; or a containerd ``certs.d`` hosts
directory (``<dir>/<host>/hosts.toml``) giving the same settings containerd uses.
Secrets never appear in messages.

Credentials stay with their registry: a redirect to another scheme, host or port
loses the ``Authorization`` header (Basic or Bearer), a redirect from HTTPS to
plain HTTP is refused unless the user allowed plain HTTP, and Basic credentials
go to a token realm only over HTTPS (or when the registry itself is plain HTTP
by the user's choice).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import re
import socket
import ssl

from urllib import error as urllib_error
from urllib import parse as urllib_parse
from urllib import request as urllib_request

from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError

MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
MT_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
MANIFEST_ACCEPT = ', '.join([MT_OCI_INDEX, MT_OCI_MANIFEST, MT_DOCKER_LIST, MT_DOCKER_MANIFEST])

_CHALLENGE_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')


_DEFAULT_PORTS = {'http': 80, 'https': 443}


def origin(url):
    """(scheme, host, port) of a URL, the port made explicit; what credentials are bound to."""
    parts = urllib_parse.urlsplit(url)
    scheme = (parts.scheme or '').lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or '').lower(), port or _DEFAULT_PORTS.get(scheme)


class RegistryError(ModuleError):
    """A registry request that failed, with a message meant for the user (never a secret)."""

    def __init__(self, message, status=None):
        super(RegistryError, self).__init__(message)
        self.status = status


def parse_challenge(header):
    """Parse a WWW-Authenticate header into (scheme, {param: value}); scheme lower-cased."""
    header = (header or '').strip()
    if not header:
        return None, {}
    scheme, _sep, rest = header.partition(' ')
    return scheme.lower(), dict(_CHALLENGE_PARAM_RE.findall(rest))


def _toml_value(text):
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('\\"', '"').replace('\\\\', '\\')
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    if text in ('true', 'false'):
        return text == 'true'
    if text.startswith('['):
        return [_toml_value(item) for item in re.findall(r'"[^"]*"|\'[^\']*\'', text)]
    return text


def parse_hosts_toml(text):
    """Read the subset of containerd's hosts.toml this client needs.

    Returns {'server': url or None, 'hosts': [(url, settings)], 'settings': top-level settings};
    settings hold ca, client, skip_verify, capabilities as written (strings, lists, booleans).
    """
    result = {'server': None, 'hosts': [], 'settings': {}}
    current = result['settings']
    for raw in text.splitlines():
        line = raw.split('#', 1)[0].strip() if not raw.strip().startswith('[') else raw.strip()
        if not line:
            continue
        table = re.match(r'^\[host\.(?:"([^"]+)"|\'([^\']+)\')\]$', line)
        if table:
            current = {}
            result['hosts'].append((table.group(1) or table.group(2), current))
            continue
        if line.startswith('['):
            current = {}
            continue
        key, sep, value = line.partition('=')
        if not sep:
            continue
        key = key.strip().strip('"')
        value = _toml_value(value)
        if key == 'server' and current is result['settings']:
            result['server'] = value
        else:
            current[key] = value
    return result


class _CredentialRedirectHandler(urllib_request.HTTPRedirectHandler):
    """Follows a registry's redirects without handing its credentials to another origin.

    urllib copies every header, ``Authorization`` included, into the redirected request; here it
    survives only when scheme, host and port stay the same. HTTPS to plain HTTP is refused unless
    the user allowed plain HTTP. The method (HEAD) is kept.
    """

    def __init__(self, registry):
        self.registry = registry

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = urllib_request.HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)
        if new is None:
            return None
        old_origin, new_origin = origin(req.full_url), origin(new.full_url)
        if old_origin[0] == 'https' and new_origin[0] != 'https' and not self.registry.plain_http:
            raise RegistryError('registry %s redirected from HTTPS to the plain HTTP address %s, which this module '
                                'refuses: fix the registry, or set plain_http=true if plain HTTP is acceptable.'
                                % (self.registry.host, new.full_url.split('?')[0]))
        if new_origin != old_origin:
            for header in list(new.headers):
                if header.lower() == 'authorization':
                    del new.headers[header]
            new.unredirected_hdrs.pop('Authorization', None)
        method = req.get_method()
        new.get_method = lambda: method
        return new


def _first(value):
    """hosts.toml allows a string or a list for ca and client."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def check_hosts_dir_files(host, hosts_dir):
    """The CA and client certificate files a ``hosts_dir`` names for ``host`` exist and can be read.

    Raises InvalidInput with one sentence naming the hosts.toml and the file; called before ctr
    gets the hosts directory, so a typo there is not reported as a TLS or ctr failure.
    """
    if hosts_dir:
        RegistryClient(host, hosts_dir=hosts_dir)


class RegistryClient:
    """Talks to one registry host (``host[:port]``) with the given transport and credentials."""

    def __init__(self, host, plain_http=False, ca_cert=None, client_cert=None, client_key=None,
                 validate_certs=True, username=None, password=None, timeout=30, hosts_dir=None):
        self.host = host
        self.plain_http = plain_http
        self.scheme = 'http' if plain_http else 'https'
        self.base_url = None
        self.ca_cert = ca_cert
        self.client_cert = client_cert
        self.client_key = client_key
        self.validate_certs = validate_certs
        self.username = username
        self.password = password
        self.timeout = timeout
        self.hosts_file = None
        self._token = None
        validate.readable_file(ca_cert, 'ca_cert')
        validate.readable_file(client_cert, 'client_cert')
        validate.readable_file(client_key, 'client_key')
        if hosts_dir:
            self._apply_hosts_dir(hosts_dir)
        if self.base_url is None:
            # docker.io is a name; its API lives at registry-1.docker.io (as containerd maps it).
            self.base_url = '%s://%s' % (self.scheme, 'registry-1.docker.io' if host == 'docker.io' else host)

    # -- configuration -------------------------------------------------------------

    def _apply_hosts_dir(self, hosts_dir):
        """Take the endpoint and TLS settings from ``<hosts_dir>/<host>/hosts.toml`` when it exists."""
        path = os.path.join(hosts_dir, self.host.replace('[', '').replace(']', ''), 'hosts.toml')
        if not os.path.isfile(path):
            return
        self.hosts_file = path
        with open(path) as handle:
            config = parse_hosts_toml(handle.read())
        if config['hosts']:
            url, settings = config['hosts'][0]
        elif config['server']:
            url, settings = config['server'], config['settings']
        else:
            return
        self.base_url = url.rstrip('/')
        self.scheme = urllib_parse.urlparse(self.base_url).scheme or self.scheme
        if self.base_url.endswith('/v2'):
            self.base_url = self.base_url[:-3]
        if settings.get('ca') and not self.ca_cert:
            self.ca_cert = self._resolve(hosts_dir, _first(settings['ca']))
            validate.readable_file(self.ca_cert, 'ca (in %s)' % path)
        if settings.get('skip_verify'):
            self.validate_certs = False
        client = settings.get('client')
        if client and not self.client_cert:
            pair = client[0] if isinstance(client, list) and client and isinstance(client[0], list) else client
            if isinstance(pair, list):
                self.client_cert = self._resolve(hosts_dir, pair[0])
                self.client_key = self._resolve(hosts_dir, pair[1]) if len(pair) > 1 else None
            else:
                self.client_cert = self._resolve(hosts_dir, pair)
            validate.readable_file(self.client_cert, 'client certificate (in %s)' % path)
            validate.readable_file(self.client_key, 'client key (in %s)' % path)

    def _resolve(self, hosts_dir, path):
        if path and not os.path.isabs(path):
            return os.path.join(hosts_dir, self.host, path)
        return path

    def _context(self):
        if self.scheme != 'https':
            return None
        if not self.validate_certs:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            try:
                context = ssl.create_default_context(cafile=self.ca_cert or None)
            except ssl.SSLError as exc:
                raise RegistryError('The CA file %s for registry %s holds no usable PEM certificate (%s).'
                                    % (self.ca_cert, self.host, exc.reason or exc))
        if self.client_cert:
            try:
                context.load_cert_chain(self.client_cert, self.client_key or None)
            except ssl.SSLError as exc:
                raise RegistryError('The client certificate %s and key %s for registry %s do not load as a PEM pair '
                                    '(%s): check that the key belongs to the certificate.'
                                    % (self.client_cert, self.client_key or '(in the certificate file)', self.host,
                                       exc.reason or exc))
        return context

    # -- requests ------------------------------------------------------------------

    def _basic(self):
        raw = ('%s:%s' % (self.username, self.password or '')).encode('utf-8')
        return 'Basic ' + base64.b64encode(raw).decode('ascii')

    def _open(self, method, url, headers, data=None):
        request = urllib_request.Request(url, data=data, headers=headers)
        request.get_method = lambda: method
        opener = urllib_request.build_opener(urllib_request.HTTPSHandler(context=self._context()),
                                             _CredentialRedirectHandler(self))
        try:
            return opener.open(request, timeout=self.timeout)
        except urllib_error.HTTPError:
            raise
        except ssl.SSLCertVerificationError as exc:
            raise RegistryError('TLS verification of registry %s failed (%s): give its CA with ca_cert, or a '
                                'hosts_dir whose hosts.toml names the CA, or (unsafe) turn verification off.'
                                % (self.host, exc.verify_message or exc.reason))
        except urllib_error.URLError as exc:
            raise self._transport_error(exc.reason)
        except (socket.timeout, OSError) as exc:
            raise self._transport_error(exc)

    def _transport_error(self, reason):
        if isinstance(reason, ssl.SSLCertVerificationError):
            return RegistryError('TLS verification of registry %s failed (%s): give its CA with ca_cert, or a '
                                 'hosts_dir whose hosts.toml names the CA, or (unsafe) turn verification off.'
                                 % (self.host, reason.verify_message or reason.reason))
        if isinstance(reason, ssl.SSLError) and re.search(
                r'CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN', str(reason)):
            if not self.client_cert:
                return RegistryError('registry %s requires a client certificate (mutual TLS): give client_cert and '
                                     'client_key, or a hosts_dir whose hosts.toml names them.' % self.host)
            return RegistryError('registry %s refused the client certificate %s (%s): give one signed by a CA the '
                                 'registry trusts for clients.' % (self.host, self.client_cert, reason.reason or reason))
        if isinstance(reason, ssl.SSLError):
            return RegistryError('TLS connection to registry %s failed (%s): is it an HTTPS endpoint? For a '
                                 'plain HTTP registry set plain_http=true.' % (self.host, reason))
        if isinstance(reason, socket.gaierror):
            return RegistryError('the registry host %s could not be resolved (%s): check DNS, or add a hosts '
                                 'entry (/etc/hosts) for it.' % (self.host.rsplit(':', 1)[0], reason.strerror))
        if isinstance(reason, socket.timeout) or 'timed out' in str(reason):
            return RegistryError('registry %s did not answer within %s seconds.' % (self.host, self.timeout))
        if isinstance(reason, ConnectionRefusedError) or 'refused' in str(reason):
            return RegistryError('registry %s is not reachable at %s: connection refused; is it running, and '
                                 'is the port right?' % (self.host, self.base_url))
        return RegistryError('registry %s is not reachable at %s: %s' % (self.host, self.base_url, reason))

    def _fetch_token(self, params, scope):
        realm = params.get('realm')
        if not realm:
            raise RegistryError('registry %s asked for a Bearer token without naming a realm.' % self.host)
        query = {}
        if params.get('service'):
            query['service'] = params['service']
        if scope or params.get('scope'):
            query['scope'] = scope or params['scope']
        url = realm + ('&' if '?' in realm else '?') + urllib_parse.urlencode(query)
        realm_scheme = origin(realm)[0]
        if realm_scheme not in ('http', 'https'):
            raise RegistryError('registry %s named the token realm %s, which is not an HTTP(S) URL.'
                                % (self.host, realm.split('?')[0]))
        headers = {}
        if self.username:
            if realm_scheme != 'https' and not self.plain_http:
                raise RegistryError('registry %s named the plain HTTP token realm %s, and this module sends no '
                                    'credentials over plain HTTP: serve the token server over HTTPS, or set '
                                    'plain_http=true if plain HTTP is acceptable.' % (self.host, realm.split('?')[0]))
            headers['Authorization'] = self._basic()
        try:
            response = self._open('GET', url, headers)
        except urllib_error.HTTPError as exc:
            if exc.code in (401, 403):
                raise self._auth_error(exc.code, 'the token server %s' % realm.split('?')[0])
            raise self._status_error(exc.code, 'the token server %s of registry %s'
                                     % (realm.split('?')[0], self.host))
        try:
            body = json.loads(response.read().decode('utf-8'))
        except ValueError:
            raise RegistryError('the token server %s of registry %s did not answer with JSON.'
                                % (realm.split('?')[0], self.host))
        token = body.get('token') or body.get('access_token')
        if not token:
            raise RegistryError('the token server %s of registry %s gave no token.' % (realm.split('?')[0], self.host))
        return token

    def _auth_error(self, status, what=None):
        what = what or 'registry %s' % self.host
        if status == 401:
            if self.username:
                return RegistryError('%s refused the credentials of user %s (HTTP 401): check username and password.'
                                     % (what, self.username), status)
            return RegistryError('%s requires authentication (HTTP 401): set username and password.' % what, status)
        return RegistryError('%s denied access (HTTP 403)%s: the account lacks the permission for this repository.'
                             % (what, ' for user %s' % self.username if self.username else ''), status)

    def _status_error(self, status, what=None, request=None):
        """A sentence for an HTTP status that is neither success, 401 nor 403."""
        what = what or 'registry %s' % self.host
        request = ' to %s' % request if request else ''
        if status >= 500:
            return RegistryError('%s failed with HTTP %s (a server error)%s: the registry side has a problem; try '
                                 'again later or look at its logs.' % (what, status, request), status)
        return RegistryError('%s answered HTTP %s%s, which this module does not expect.' % (what, status, request),
                             status)

    def request(self, method, path, headers=None, data=None, scope=None):
        """Send one request, answering a 401 challenge once (basic or Bearer). Returns the response."""
        url = self.base_url + path
        headers = dict(headers or {})
        if self._token:
            headers['Authorization'] = 'Bearer ' + self._token
        try:
            return self._open(method, url, headers, data)
        except urllib_error.HTTPError as exc:
            if exc.code != 401 or 'Authorization' in headers and not self._token:
                raise
            if origin(exc.geturl() or url) != origin(url):
                # A challenge from where a redirect led is not this registry's: its credentials stay here.
                raise
            scheme, params = parse_challenge(exc.headers.get('WWW-Authenticate'))
            if scheme == 'bearer':
                self._token = self._fetch_token(params, scope)
                headers['Authorization'] = 'Bearer ' + self._token
            elif scheme == 'basic' and self.username:
                headers['Authorization'] = self._basic()
            else:
                raise
        return self._open(method, url, headers, data)

    def manifest_digest(self, repository, reference):
        """The digest the registry serves for ``repository:reference``, or None when it has none."""
        path = '/v2/%s/manifests/%s' % (repository, reference)
        try:
            response = self.request('HEAD', path, {'Accept': MANIFEST_ACCEPT},
                                    scope='repository:%s:pull' % repository)
        except urllib_error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code in (401, 403):
                raise self._auth_error(exc.code)
            raise self._status_error(exc.code, request='HEAD %s' % path)
        digest = response.headers.get('Docker-Content-Digest')
        if not digest:
            raise RegistryError('registry %s did not send a Docker-Content-Digest header for %s:%s.'
                                % (self.host, repository, reference))
        return digest
