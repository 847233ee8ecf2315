# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CNI for ctrops.containerd: the network configuration model and its validation,
running a plugin chain as a CNI runtime does, libcni's result cache, and the lock
that serialises attachment changes on one host.

Standard library only. Plugins run with an argument vector, never through a shell;
everything else is pure functions that the unit tests call directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import hashlib
import ipaddress
import json
import os
import re
import shlex
import subprocess
import tempfile

from ansible_collections.ctrops.containerd.plugins.module_utils.parsers import version_tuple
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.races import lock_exclusive

# Versions of the CNI spec (https://github.com/containernetworking/cni/blob/main/SPEC.md).
KNOWN_VERSIONS = ('0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0')
CHECK_MIN_VERSION = (0, 4, 0)
DEFAULT_BIN_DIRS = ['/opt/cni/bin', '/usr/lib/cni']
CONFIG_EXTENSIONS = ('.conflist', '.conf', '.json')
CACHE_KIND = 'cniCacheV1'
# Published ports (the portMappings capability): DNAT rules per attachment; snat lets 127.0.0.1 and hairpin reach them.
PORTMAP_PLUGIN = {'type': 'portmap', 'capabilities': {'portMappings': True}, 'snat': True}
# Our own key in a libcni cache file: Go's JSON decoding ignores unknown keys, so
# libcni, nerdctl and cnitool still read the file; prune uses it to find the container.
CACHE_OWNER_KEY = 'ctropsContainerd'
# libcni's network name rule (pkg/utils ValidateNetworkName).
NETWORK_NAME_RE = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$')
IFNAME_MAX_LENGTH = 15
DEFAULT_IPAM_DATA_DIR = '/var/lib/cni/networks'


class CniError(ModuleError):
    """A CNI problem, with a message meant for the user."""


def supports_check(cni_version):
    return version_tuple(cni_version) >= CHECK_MIN_VERSION


# -- the configuration model --------------------------------------------------------

def build_config(params):
    """The configuration (a conflist dict, or a single-plugin conf dict) the options describe."""
    if params.get('config') is not None:
        config = dict(params['config'])
        config.setdefault('name', params['name'])
        if params.get('format') == 'conflist' and 'plugins' not in config and 'type' in config:
            raise CniError('Option config describes a single plugin (it has "type", no "plugins") but '
                           'format is conflist: set format=conf, or put the plugin in a "plugins" list.')
        if params.get('format') == 'conf' and 'plugins' in config:
            raise CniError('Option config is a plugin list ("plugins") but format is conf: set '
                           'format=conflist, or give a single plugin.')
        return config
    plugin = {'type': params.get('type') or 'bridge'}
    if plugin['type'] == 'bridge':
        plugin['bridge'] = params.get('bridge') or 'cni0'
        plugin['isGateway'] = bool(params.get('is_gateway', True))
        plugin['ipMasq'] = bool(params.get('ip_masq', False))
    if params.get('subnet'):
        rng = {'subnet': params['subnet']}
        if params.get('gateway'):
            rng['gateway'] = params['gateway']
        ipam = {'type': params.get('ipam_type') or 'host-local', 'ranges': [[rng]]}
        if params.get('routes'):
            ipam['routes'] = [dict(dst=route) if isinstance(route, str) else dict(route)
                              for route in params['routes']]
        if params.get('ipam_data_dir'):
            ipam['dataDir'] = params['ipam_data_dir']
        plugin['ipam'] = ipam
    if params.get('dns'):
        plugin['dns'] = dict(params['dns'])
    head = {'cniVersion': params.get('cni_version') or '1.0.0', 'name': params['name']}
    if params.get('format') == 'conf':
        if params.get('port_map'):
            raise CniError('port_map adds the portmap plugin to a plugin list: set format=conflist.')
        head.update(plugin)
        return head
    head['plugins'] = [plugin]
    if params.get('port_map'):
        head['plugins'].append(dict(PORTMAP_PLUGIN))
    return head


def publishes_ports(config):
    """Whether a network has a plugin that takes the portMappings capability (portmap)."""
    return any((plugin.get('capabilities') or {}).get('portMappings') for plugin in plugins_of(config))


def plugins_of(config):
    """The plugin list of a conflist, or [conf] for a single-plugin conf."""
    if 'plugins' in config:
        return list(config.get('plugins') or [])
    return [config]


def config_filename(name, priority, fmt):
    return '%s-%s.%s' % (priority, name, fmt)


def render(config):
    return json.dumps(config, indent=2, sort_keys=False) + '\n'


# -- validation ---------------------------------------------------------------------

def network_name_error(name):
    if not name:
        return 'the network name must not be empty'
    if not NETWORK_NAME_RE.match(name):
        return ('network name %r is not valid: use letters, digits, "_", "." and "-", starting with a '
                'letter or digit' % name)
    return None


def _ip(value, what):
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise CniError('%s %r is not an IP address.' % (what, value))


def _net(value, what):
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        raise CniError('%s %r is not a valid network in CIDR notation (%s).' % (what, value, exc))


def binary_name_error(name):
    """Why a plugin or IPAM ``type`` is not a plain binary name (found only in bin_dirs), or None."""
    if not isinstance(name, str) or not name:
        return 'must be a non-empty string'
    if '/' in name or name in ('.', '..'):
        return 'is a binary name looked up in bin_dirs, not a path'
    return None


def validate_ipam(ipam, where):
    """Check the address arithmetic of an IPAM section (host-local and static style)."""
    if not isinstance(ipam, dict):
        raise CniError('%s: "ipam" must be an object.' % where)
    if not ipam.get('type'):
        raise CniError('%s: "ipam" needs a "type" (for example host-local).' % where)
    problem = binary_name_error(ipam['type'])
    if problem:
        raise CniError('Invalid configuration: %s: ipam "type" %s.' % (where, problem))
    if ipam.get('dataDir') is not None and not (isinstance(ipam['dataDir'], str) and ipam['dataDir'].startswith('/')):
        raise CniError('Invalid configuration: %s: ipam "dataDir" must be an absolute path.' % where)
    ranges = []
    for rangeset in ipam.get('ranges') or []:
        if not isinstance(rangeset, list):
            raise CniError('%s: ipam "ranges" must be a list of lists of ranges.' % where)
        ranges.extend(rangeset)
    if ipam.get('subnet'):
        ranges.append(dict((key, ipam[key]) for key in ('subnet', 'gateway', 'rangeStart', 'rangeEnd')
                           if key in ipam))
    if ipam.get('type') == 'host-local' and not ranges:
        raise CniError('%s: host-local IPAM needs "ranges" (or "subnet"): give the subnet to allocate from.'
                       % where)
    for rng in ranges:
        if not isinstance(rng, dict) or not rng.get('subnet'):
            raise CniError('%s: every IPAM range needs a "subnet".' % where)
        subnet = _net(rng['subnet'], '%s: subnet' % where)
        usable = subnet.num_addresses - (2 if subnet.version == 4 and subnet.prefixlen < 31 else 0)
        if usable < 2:
            raise CniError('%s: subnet %s is too small for a gateway and a container.' % (where, subnet))
        for key in ('gateway', 'rangeStart', 'rangeEnd'):
            if key in rng:
                address = _ip(rng[key], '%s: %s' % (where, key))
                if address not in subnet:
                    raise CniError('%s: %s %s is not inside subnet %s.' % (where, key, address, subnet))
                edges = (subnet.network_address, subnet.broadcast_address)
                if key == 'gateway' and subnet.version == 4 and address in edges:
                    raise CniError('%s: gateway %s is the network or broadcast address of %s.'
                                   % (where, address, subnet))
        if 'rangeStart' in rng and 'rangeEnd' in rng and _ip(rng['rangeStart'], '') > _ip(rng['rangeEnd'], ''):
            raise CniError('%s: rangeStart %s comes after rangeEnd %s.' % (where, rng['rangeStart'], rng['rangeEnd']))
    for route in ipam.get('routes') or []:
        if not isinstance(route, dict) or 'dst' not in route:
            raise CniError('%s: every IPAM route needs a "dst".' % where)
        _net(route['dst'], '%s: route dst' % where)
        if 'gw' in route:
            _ip(route['gw'], '%s: route gw' % where)


def validate_structure(config, name):
    """Required fields and address arithmetic; raises CniError with one clear sentence."""
    if not isinstance(config, dict):
        raise CniError('The network configuration must be a JSON object.')
    problem = network_name_error(config.get('name'))
    if problem:
        raise CniError('Invalid configuration: %s.' % problem)
    if config.get('name') != name:
        raise CniError('The configuration names network %r but option name is %r: they must be equal.'
                       % (config.get('name'), name))
    version = config.get('cniVersion')
    if not version:
        raise CniError('Invalid configuration: "cniVersion" is missing (for example "1.0.0").')
    if version not in KNOWN_VERSIONS:
        raise CniError('Invalid configuration: cniVersion %r is not a CNI spec version (known: %s).'
                       % (version, ', '.join(KNOWN_VERSIONS)))
    if 'plugins' in config:
        if not isinstance(config['plugins'], list) or not config['plugins']:
            raise CniError('Invalid configuration: "plugins" must be a non-empty list.')
    for index, plugin in enumerate(plugins_of(config)):
        where = 'plugin %d' % (index + 1)
        if not isinstance(plugin, dict):
            raise CniError('Invalid configuration: %s must be an object.' % where)
        if not plugin.get('type') or not isinstance(plugin.get('type'), str):
            raise CniError('Invalid configuration: %s has no "type" (the plugin binary, e.g. bridge).' % where)
        where = '%s (%s)' % (where, plugin['type'])
        problem = binary_name_error(plugin['type'])
        if problem:
            raise CniError('Invalid configuration: %s: "type" %s.' % (where, problem))
        if 'ipam' in plugin:
            validate_ipam(plugin['ipam'], where)
        if plugin['type'] == 'bridge' and 'bridge' in plugin:
            bridge = plugin['bridge']
            if not isinstance(bridge, str) or not bridge or len(bridge) > IFNAME_MAX_LENGTH or '/' in bridge:
                raise CniError('Invalid configuration: %s: bridge name %r must be 1 to 15 characters without "/".'
                               % (where, bridge))


def find_plugin(plugin_type, bin_dirs):
    """The path of an executable plugin in bin_dirs (first match, like libcni's FindInPath), or None."""
    for directory in bin_dirs:
        path = os.path.join(directory, plugin_type)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def plugin_types(config):
    """Every binary the chain runs: each plugin type and each IPAM type, in order, once."""
    types = []
    for plugin in plugins_of(config):
        for plugin_type in (plugin.get('type'), (plugin.get('ipam') or {}).get('type')):
            if plugin_type and plugin_type not in types:
                types.append(plugin_type)
    return types


def validate_plugins(runner, config, bin_dirs, missing_ok=False):
    """Every binary is found in bin_dirs and supports the cniVersion (CNI_COMMAND=VERSION).

    With missing_ok (check mode: the plugins may be installed by an earlier task that only predicted its
    change), a plugin not found is returned instead of raised; the ones found are still asked.
    """
    version = config['cniVersion']
    missing = []
    for plugin_type in plugin_types(config):
        path = find_plugin(plugin_type, bin_dirs)
        if path is None and missing_ok:
            missing.append(plugin_type)
            continue
        if path is None:
            raise CniError('CNI plugin %r was not found as an executable in %s: install the CNI plugins '
                           'or set bin_dirs.' % (plugin_type, ', '.join(bin_dirs)))
        info = runner.version(path, version)
        supported = info.get('supportedVersions') or []
        if version not in supported:
            raise CniError('CNI plugin %s does not support cniVersion %s (it supports %s): use one of those '
                           'versions or newer plugins.' % (path, version, ', '.join(supported) or 'none'))
    return missing


def config_files(conf_dir):
    """{path: parsed config or None} of the network files in conf_dir (sorted, like libcni)."""
    found = {}
    try:
        names = sorted(os.listdir(conf_dir))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return found
        raise
    for entry in names:
        path = os.path.join(conf_dir, entry)
        if not entry.endswith(CONFIG_EXTENSIONS) or not os.path.isfile(path):
            continue
        try:
            with open(path) as handle:
                found[path] = json.load(handle)
        except (OSError, ValueError):
            found[path] = None
    return found


def files_of_network(conf_dir, name):
    """The files in conf_dir that define network ``name``."""
    return [path for path, config in config_files(conf_dir).items()
            if isinstance(config, dict) and config.get('name') == name]


def read_network(conf_dir, name):
    """(path, config) of network ``name`` in conf_dir; CniError when absent or ambiguous."""
    paths = files_of_network(conf_dir, name)
    if not paths:
        raise CniError('Network %s is not defined in %s: create it first with state=present.' % (name, conf_dir))
    if len(paths) > 1:
        raise CniError('Network %s is defined by several files (%s): keep one.' % (name, ', '.join(paths)))
    with open(paths[0]) as handle:
        return paths[0], json.load(handle)


# -- atomic file writing ------------------------------------------------------------

def write_atomic(path, text, mode=0o644):
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename."""
    directory = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- running plugins ----------------------------------------------------------------

def _plugin_error(path, command, rc, out, err):
    message = ''
    try:
        data = json.loads(out)
        if isinstance(data, dict) and data.get('msg'):
            message = data['msg'] + (': %s' % data['details'] if data.get('details') else '')
    except ValueError:
        pass
    message = message or (err or out or '').strip() or 'exit status %s' % rc
    return CniError('CNI plugin %s failed on %s: %s' % (os.path.basename(path), command, message),
                    rc=rc, stdout=out, stderr=err)


class PluginRunner:
    """Runs CNI plugins with the environment of the spec (an argument vector, never a shell).

    Not module.run_command: a plugin may exit before reading its stdin (some answer VERSION without
    reading it), and run_command then fails the whole module with EPIPE; communicate() tolerates that.
    """

    def __init__(self, module, bin_dirs, timeout=60):
        self.module = module
        self.bin_dirs = bin_dirs
        self.timeout = timeout or None

    def exec_plugin(self, path, command, stdin_data, env):
        environ = dict(os.environ)
        environ.update(CNI_COMMAND=command, CNI_PATH=':'.join(self.bin_dirs), LC_ALL='C')
        environ.update(env)
        name = os.path.basename(path)
        try:
            # run_command has no timeout, and a hung plugin must not hang the module.
            proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # pylint: disable=ansible-bad-function
                                    stderr=subprocess.PIPE, env=environ, close_fds=True)
        except OSError as exc:
            raise CniError('CNI plugin %s could not be run: %s' % (path, exc))
        try:
            out, err = proc.communicate(stdin_data.encode('utf-8'), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise CniError('CNI plugin %s did not finish %s within %s seconds (option timeout).'
                           % (name, command, self.timeout))
        out = out.decode('utf-8', 'replace')
        err = err.decode('utf-8', 'replace')
        if proc.returncode != 0:
            raise _plugin_error(path, command, proc.returncode, out, err)
        if not out.strip():
            return None
        try:
            return json.loads(out)
        except ValueError:
            raise CniError('CNI plugin %s printed no JSON on %s: %r' % (name, command, out[:200]))

    def version(self, path, cni_version):
        env = dict(CNI_CONTAINERID='', CNI_NETNS='', CNI_IFNAME='', CNI_ARGS='')
        return self.exec_plugin(path, 'VERSION', json.dumps({'cniVersion': cni_version}), env) or {}

    def path_of(self, plugin_type):
        path = find_plugin(plugin_type, self.bin_dirs)
        if path is None:
            raise CniError('CNI plugin %r was not found as an executable in %s.'
                           % (plugin_type, ', '.join(self.bin_dirs)))
        return path


def plugin_stdin(plugin, list_name, cni_version, prev_result, capability_args):
    """One plugin's configuration as libcni's buildOneConfig makes it."""
    conf = dict(plugin)
    conf['name'] = list_name
    conf['cniVersion'] = cni_version
    if prev_result is not None:
        conf['prevResult'] = prev_result
    runtime = {}
    for capability, enabled in (plugin.get('capabilities') or {}).items():
        if enabled and capability in (capability_args or {}):
            runtime[capability] = capability_args[capability]
    if runtime:
        conf['runtimeConfig'] = runtime
    return json.dumps(conf)


def cni_args_string(cni_args):
    return ';'.join('%s=%s' % (key, value) for key, value in sorted((cni_args or {}).items()))


class Attachment:
    """What identifies one attachment: (network, container id, ifname), as libcni keys its cache."""

    def __init__(self, network, container_id, ifname, netns, cni_args=None, capability_args=None):
        self.network = network
        self.container_id = container_id
        self.ifname = ifname
        self.netns = netns
        self.cni_args = cni_args or {}
        self.capability_args = capability_args or {}

    def env(self):
        return dict(CNI_CONTAINERID=self.container_id, CNI_NETNS=self.netns or '', CNI_IFNAME=self.ifname,
                    CNI_ARGS=cni_args_string(self.cni_args))


def run_add(runner, config, attachment):
    """ADD through the chain, each plugin getting the previous result; returns the last result.

    A failing plugin makes the chain DEL what the earlier ones did, so nothing is left half-attached.
    """
    version = config['cniVersion']
    result = None
    for plugin in plugins_of(config):
        path = runner.path_of(plugin['type'])
        stdin = plugin_stdin(plugin, config['name'], version, result, attachment.capability_args)
        try:
            result = runner.exec_plugin(path, 'ADD', stdin, attachment.env())
        except CniError:
            try:
                run_del(runner, config, attachment, result)
            except CniError:
                pass
            raise
    return result


def run_del(runner, config, attachment, cached_result):
    """DEL through the chain in reverse, with the cached result as prevResult (CNI >= 0.4.0)."""
    version = config['cniVersion']
    prev = cached_result if supports_check(version) else None
    errors = []
    for plugin in reversed(plugins_of(config)):
        try:
            path = runner.path_of(plugin['type'])
            stdin = plugin_stdin(plugin, config['name'], version, prev, attachment.capability_args)
            runner.exec_plugin(path, 'DEL', stdin, attachment.env())
        except CniError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def run_check(runner, config, attachment, cached_result):
    """CHECK every plugin with the cached result; raises CniError on the first failure."""
    version = config['cniVersion']
    for plugin in plugins_of(config):
        path = runner.path_of(plugin['type'])
        stdin = plugin_stdin(plugin, config['name'], version, cached_result, attachment.capability_args)
        try:
            runner.exec_plugin(path, 'CHECK', stdin, attachment.env())
        except CniError as exc:
            if not _portmap_ipv6_check_bug(plugin, exc, cached_result):
                raise


def _portmap_ipv6_check_bug(plugin, exc, result):
    """portmap 1.1.x fails CHECK of a container without an IPv6 address on the IPv6 chain it never made
    ("could not check ipv6 dnat"); 1.9.x does not. Its IPv4 rules were checked before that step."""
    return plugin.get('type') == 'portmap' and 'could not check ipv6 dnat' in exc.message \
        and not any(':' in address for address in result_addresses(result))


def release_attachment(module, runner, config, attachment, cached_result):
    """DEL an attachment, then remove the ipMasq rules the bridge plugin may have left behind."""
    try:
        run_del(runner, config, attachment, cached_result)
    finally:
        if masq_in_use(config):
            remove_masq_leftovers(module, config['name'], attachment.container_id)


def check_enabled(config):
    return supports_check(config.get('cniVersion')) and not config.get('disableCheck')


def result_addresses(result):
    """The container's addresses ("10.88.0.2/24") from a CNI result (0.3+ and 0.1/0.2 formats)."""
    if not isinstance(result, dict):
        return []
    addresses = [ip.get('address') for ip in result.get('ips') or [] if ip.get('address')]
    for key in ('ip4', 'ip6'):
        if isinstance(result.get(key), dict) and result[key].get('ip'):
            addresses.append(result[key]['ip'])
    return addresses


# -- libcni's cache -----------------------------------------------------------------

def cache_path(cache_dir, network, container_id, ifname):
    return os.path.join(cache_dir, 'results', '%s-%s-%s' % (network, container_id, ifname))


def cache_entry(attachment, config, result, owner):
    """A cache document as libcni writes it (Config is []byte, so base64 in JSON)."""
    raw = json.dumps(config, separators=(',', ':')).encode('utf-8')
    entry = {
        'kind': CACHE_KIND,
        'containerId': attachment.container_id,
        'config': base64.b64encode(raw).decode('ascii'),
        'ifName': attachment.ifname,
        'networkName': attachment.network,
        'netns': attachment.netns,
    }
    if attachment.cni_args:
        entry['cniArgs'] = [[key, str(value)] for key, value in sorted(attachment.cni_args.items())]
    if attachment.capability_args:
        entry['capabilityArgs'] = attachment.capability_args
    if result is not None:
        entry['result'] = result
    entry[CACHE_OWNER_KEY] = owner
    return entry


def write_cache(cache_dir, attachment, config, result, owner):
    directory = os.path.join(cache_dir, 'results')
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700, exist_ok=True)
    path = cache_path(cache_dir, attachment.network, attachment.container_id, attachment.ifname)
    write_atomic(path, json.dumps(cache_entry(attachment, config, result, owner)), mode=0o600)
    return path


def decode_cache(data):
    """(config dict, result, entry) from a cache document; config is None when unreadable."""
    config = None
    raw = data.get('config')
    if isinstance(raw, str):
        try:
            config = json.loads(base64.b64decode(raw).decode('utf-8'))
        except (ValueError, TypeError):
            config = None
    return config, data.get('result'), data


def read_cache(path):
    try:
        with open(path) as handle:
            return parse_cache(handle.read())
    except OSError:
        return None


def parse_cache(text):
    """(config, result, entry) of a cache document's text, or None when it is not one."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get('kind') != CACHE_KIND:
        return None
    return decode_cache(data)


def cache_entry_error(cached, network, data_dirs=None):
    """Why a cache entry is not one this module may act on for ``network`` (None when it is sound).

    A purge or prune runs DEL with the entry's configuration and removes what it names, so an entry
    is trusted only when its configuration validates as a network of that name and its identifiers
    are plain names.
    """
    config, _result, entry = cached
    if entry.get('networkName') != network:
        return 'it belongs to network %r' % entry.get('networkName')
    container, ifname = entry.get('containerId'), entry.get('ifName')
    if not isinstance(container, str) or not container or '/' in container or container in ('.', '..'):
        return 'its containerId %r is not a plain ID' % (container,)
    if not isinstance(ifname, str) or not ifname or len(ifname) > IFNAME_MAX_LENGTH or '/' in ifname:
        return 'its ifName %r is not an interface name' % (ifname,)
    if config is None:
        return 'its configuration cannot be decoded'
    try:
        validate_structure(config, network)
    except CniError as exc:
        return 'its configuration does not validate (%s)' % exc.message
    # DEL with this configuration lets host-local remove files in its dataDir: only the network's own.
    foreign = [d for d in ipam_data_dirs(config) if data_dirs is not None and d not in data_dirs]
    if foreign:
        return 'its IPAM data directory %s is not one of network %s' % (foreign[0], network)
    return None


def cached_attachments(cache_dir, network, skipped=None, data_dirs=None):
    """{path: (config, result, entry)} of every sound cached attachment of ``network``.

    Entries that do not validate are left alone; ``skipped`` (a list) receives (path, why) for each.
    """
    directory = os.path.join(cache_dir, 'results')
    found = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    for entry in names:
        if not entry.startswith(network + '-'):
            continue
        path = os.path.join(directory, entry)
        cached = read_cache(path)
        if cached is None:
            if skipped is not None:
                skipped.append((path, 'it is not a cache entry this module can read'))
            continue
        problem = cache_entry_error(cached, network, data_dirs)
        if problem is None:
            found[path] = cached
        elif skipped is not None and cached[2].get('networkName') == network:
            skipped.append((path, problem))
    return found


def remove_file(path):
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


# -- netns identity -----------------------------------------------------------------

def netns_inode(path):
    """The inode of a network namespace file, or None when it is gone."""
    if not path:
        return None
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def del_netns(entry):
    """The netns to give DEL for a cached attachment: its path only if it is still the same namespace.

    /proc/<pid>/ns/net of a dead task may name another process' namespace after PID reuse;
    DEL then gets an empty CNI_NETNS (allowed by the spec) and only releases host-side state.
    """
    path = entry.get('netns') or ''
    owner = entry.get(CACHE_OWNER_KEY) or {}
    inode = netns_inode(path)
    if inode is None:
        return ''
    if owner.get('netns_inode') is not None and owner.get('netns_inode') != inode:
        return ''
    return path


# -- host-local IPAM state ----------------------------------------------------------

def ipam_data_dirs(config):
    """The host-local lease directories of a network (dataDir/<network>, default /var/lib/cni/networks)."""
    dirs = []
    for plugin in plugins_of(config):
        ipam = plugin.get('ipam') or {}
        if ipam.get('type') == 'host-local':
            path = os.path.join(ipam.get('dataDir') or DEFAULT_IPAM_DATA_DIR, config['name'])
            if path not in dirs:
                dirs.append(path)
    return dirs


def ipam_leases(directory):
    """{path: (container id, ifname)} of the address files in a host-local lease directory."""
    leases = {}
    try:
        names = os.listdir(directory)
    except OSError:
        return leases
    for entry in names:
        if entry.startswith('last_reserved_ip') or entry == 'lock':
            continue
        path = os.path.join(directory, entry)
        try:
            with open(path) as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        leases[path] = (lines[0].strip() if lines else '', lines[1].strip() if len(lines) > 1 else '')
    return leases


def is_bridge(name):
    """Whether ``name`` is an existing Linux bridge device (never the loopback)."""
    return name != 'lo' and os.path.isdir('/sys/class/net/%s/bridge' % name)


def bridges_of(config):
    return [plugin['bridge'] if plugin.get('bridge') else 'cni0'
            for plugin in plugins_of(config) if plugin.get('type') == 'bridge']


def bridge_ports(bridge):
    """The ports of a bridge device, or None when the device does not exist."""
    path = '/sys/class/net/%s' % bridge
    if not os.path.isdir(path):
        return None
    try:
        return sorted(os.listdir(os.path.join(path, 'brif')))
    except OSError:
        return []


# -- ipMasq leftovers ---------------------------------------------------------------

def masq_chain(network, container_id):
    """The nat chain the bridge plugin makes for ipMasq (its utils.FormatChainName)."""
    return 'CNI-' + hashlib.sha512((network + container_id).encode('utf-8')).hexdigest()[:24]


def masq_in_use(config):
    return any(plugin.get('type') == 'bridge' and plugin.get('ipMasq') for plugin in plugins_of(config))


def remove_masq_leftovers(module, network, container_id):
    """Remove the ipMasq chain and POSTROUTING jumps of one attachment, if DEL left them.

    The bridge plugin (1.1.1 and 1.9.1 alike) tears ipMasq down only with the addresses it finds on the
    interface in the container; once the task's netns is gone, DEL leaves the rules behind. Returns
    the number of rules removed.
    """
    chain = masq_chain(network, container_id)
    removed = 0
    for binary in ('iptables', 'ip6tables'):
        path = module.get_bin_path(binary, opt_dirs=['/usr/sbin', '/sbin'])
        if not path:
            continue
        rc, out, _err = module.run_command([path, '-w', '-t', 'nat', '-S', 'POSTROUTING'])
        if rc != 0:
            continue
        for line in out.splitlines():
            if ('-j %s' % chain) not in line:
                continue
            words = shlex.split(line)
            if words[:1] == ['-A']:
                module.run_command([path, '-w', '-t', 'nat', '-D'] + words[1:], check_rc=True)
                removed += 1
        if module.run_command([path, '-w', '-t', 'nat', '-S', chain])[0] == 0:
            module.run_command([path, '-w', '-t', 'nat', '-F', chain], check_rc=True)
            module.run_command([path, '-w', '-t', 'nat', '-X', chain], check_rc=True)
            removed += 1
    return removed


# -- the lock -----------------------------------------------------------------------

class FileLock:
    """An exclusive flock on <cache_dir>/ctrops-cni.lock, waited for at most ``timeout`` seconds."""

    def __init__(self, cache_dir, timeout=120, create=True):
        self.path = os.path.join(cache_dir, 'ctrops-cni.lock')
        self.timeout = timeout
        self.create = create
        self.handle = None

    def __enter__(self):
        directory = os.path.dirname(self.path)
        if not self.create:
            # Check mode writes nothing: without a lock file there is no run to wait for.
            if not os.path.exists(self.path):
                return self
            self.handle = open(self.path, 'r')
        else:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700, exist_ok=True)
            self.handle = open(self.path, 'a')
        if not lock_exclusive(self.handle, self.timeout):
            self.handle.close()
            raise CniError('Another run holds the CNI lock %s for more than %d seconds: is a CNI task '
                           'stuck on this host?' % (self.path, self.timeout))
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            self.handle.close()  # closing the file releases the lock
        return False


# -- attachments: what cni_network and containerd_stack both do -------------------------

def owner(address, namespace, netns, **extra):
    """Our record in a cache entry: which containerd made the task, and the netns inode (PID reuse)."""
    entry = dict(address=address, namespace=namespace, netns_inode=netns_inode(netns))
    entry.update(extra)
    return entry


def valid_config(text, name):
    """The configuration in a network file, or None when it is not a valid configuration of ``name``."""
    try:
        config = json.loads(text)
        validate_structure(config, name)
    except (ValueError, CniError):
        return None
    return config


def network_configs(conf_dir, name):
    """The valid configurations of the network's own files (none when it has no file)."""
    configs = []
    for path in files_of_network(conf_dir, name):
        with open(path) as handle:
            config = valid_config(handle.read(), name)
        if config is not None:
            configs.append(config)
    return configs


def data_dirs_of(name, configs):
    """The host-local lease directories clean-ups may touch: those of the network's own files, and the default."""
    dirs = [os.path.join(DEFAULT_IPAM_DATA_DIR, name)]
    for config in configs:
        dirs += [d for d in ipam_data_dirs(config) if d not in dirs]
    return dirs


def remove_leases(data_dirs, container, ifname):
    for directory in data_dirs:
        for lease, (lease_owner, lease_ifname) in ipam_leases(directory).items():
            if lease_owner == container and lease_ifname in ('', ifname):
                remove_file(lease)


def _release(module, runner, path, cached, data_dirs):
    config, cached_result, entry = cached
    container, ifname = entry.get('containerId'), entry.get('ifName')
    attachment = Attachment(entry.get('networkName'), container, ifname, del_netns(entry),
                            dict(entry.get('cniArgs') or []), entry.get('capabilityArgs'))
    release_attachment(module, runner, config, attachment, cached_result)
    remove_leases(data_dirs, container, ifname)
    remove_file(path)


def release(run, runner, path, cached, data_dirs, action):
    """Record ``action``; outside check mode DEL one sound cached attachment, remove its cache file and
    any lease it still holds in ``data_dirs``."""
    run.act(action, _release, run.module, runner, path, cached, data_dirs)


def judge(runner, config, attachment, attachment_owner, cached):
    """None when the cached attachment is sound, else why it must be repaired."""
    old_config, old_result, entry = cached
    if entry.get('netns') != attachment.netns or (entry.get(CACHE_OWNER_KEY) or {}).get('netns_inode') \
            != attachment_owner['netns_inode']:
        return 'the task has another network namespace'
    if old_config != config:
        return 'the network configuration changed'
    if dict(entry.get('cniArgs') or []) != dict((k, str(v)) for k, v in attachment.cni_args.items()) \
            or (entry.get('capabilityArgs') or {}) != attachment.capability_args:
        return 'cni_args or capability_args changed'
    if check_enabled(config):
        try:
            run_check(runner, config, attachment, old_result)
        except CniError as exc:
            return 'CHECK failed: %s' % exc.message
    return None


def _release_cached(module, runner, config, attachment, cache_file, cached):
    """DEL the attachment a sound cache entry describes, before it is made again."""
    old_config, old_result, entry = cached
    old = Attachment(attachment.network, attachment.container_id, attachment.ifname, del_netns(entry),
                     dict(entry.get('cniArgs') or []), entry.get('capabilityArgs'))
    release_attachment(module, runner, old_config or config, old, old_result)
    remove_file(cache_file)


def _clear_leftovers(module, runner, config, attachment, cache_file, data_dirs):
    """Before an ADD without a sound cache entry: undo what an interrupted run left.

    A run stopped between ADD and the cache write leaves the interface and its lease behind, and an
    unreadable cache entry says nothing of what it made. DEL with the network's own configuration
    (no prevResult, as the spec allows) removes both, so the ADD that follows holds one lease.
    """
    owned = any(lease_owner == attachment.container_id and lease_ifname in ('', attachment.ifname)
                for directory in data_dirs for lease_owner, lease_ifname in ipam_leases(directory).values())
    if not owned and not os.path.exists(cache_file):
        return
    release_attachment(module, runner, config, attachment, None)
    remove_leases(data_dirs, attachment.container_id, attachment.ifname)
    remove_file(cache_file)


def sound_cache(cache_file, network, data_dirs):
    """The cache entry (config, result, entry) of an attachment, or None when absent or not sound."""
    cached = read_cache(cache_file)
    if cached is not None and cache_entry_error(cached, network, data_dirs):
        return None
    return cached


def converge_attached(run, runner, config, attachment, cache_dir, attachment_owner, data_dirs, label):
    """Make ``attachment`` as ``config`` says (the caller holds the FileLock); returns (cached, result).

    ``cached`` is the sound cache entry found (None without one), ``result`` the CNI result after the
    run (None in check mode for a new or repaired attachment). A sound attachment whose plugins pass
    CHECK is left alone; another is repaired (DEL, then ADD). ``label`` names it in the action texts.
    """
    cache_file = cache_path(cache_dir, attachment.network, attachment.container_id, attachment.ifname)
    cached = sound_cache(cache_file, attachment.network, data_dirs)
    if cached is not None:
        outcome = judge(runner, config, attachment, attachment_owner, cached)
        if outcome is None:
            return cached, cached[1]
        run.act('repair attachment of %s (%s)' % (label, outcome),
                _release_cached, run.module, runner, config, attachment, cache_file, cached)
    else:
        run.act('attach %s' % label, _clear_leftovers, run.module, runner, config, attachment, cache_file,
                data_dirs)
    if run.check_mode:
        return cached, None
    result = run_add(runner, config, attachment)
    write_cache(cache_dir, attachment, config, result, attachment_owner)
    return cached, result


def published_ports(cache_dir):
    """[(container id, network, mapping)] of the port mappings of every cached attachment of the host."""
    directory = os.path.join(cache_dir, 'results')
    found = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    for name in names:
        cached = read_cache(os.path.join(directory, name))
        if cached is None:
            continue
        entry = cached[2]
        for mapping in (entry.get('capabilityArgs') or {}).get('portMappings') or []:
            if isinstance(mapping, dict):
                found.append((entry.get('containerId'), entry.get('networkName'), mapping))
    return found


def attachments_of(cache_dir, container_id, match):
    """{(network, ifname): (path, cached)} of the sound cache entries of ``container_id`` whose owner
    record has every key/value of ``match`` (for example the stack that made them)."""
    directory = os.path.join(cache_dir, 'results')
    found = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    infix = '-%s-' % container_id
    for name in names:
        if infix not in name:
            continue
        path = os.path.join(directory, name)
        cached = read_cache(path)
        if cached is None:
            continue
        entry = cached[2]
        record = entry.get(CACHE_OWNER_KEY) or {}
        if entry.get('containerId') != container_id or any(record.get(k) != v for k, v in match.items()):
            continue
        found[(entry.get('networkName'), entry.get('ifName'))] = (path, cached)
    return found


def converge_networks(run, runner, settings, container, netns, wanted, configs, record):
    """Attach ``container``'s task to each ``wanted`` network and release the attachments this caller made
    (those whose owner record has ``record``'s keys and values) that are no longer wanted.

    ``settings``: conf_dir, cache_dir, lock_timeout; ``netns``: the task's netns path, or None when check
    mode only predicts the task (its attachments are then predicted from the cache alone); ``wanted``:
    dicts with name, ifname, cni_args, capability_args; ``configs``: {network: configuration}.
    Returns (before, after): lists of {name, ifname, addresses}, after as far as it is known in check mode.
    """
    cache_dir = settings['cache_dir']
    owned = attachments_of(cache_dir, container, record)
    before = [dict(name=network, ifname=ifname, addresses=result_addresses(cached[1]))
              for (network, ifname), (_path, cached) in sorted(owned.items())]
    after = []
    if not owned and not wanted:
        return before, after
    if wanted and netns is None and not run.check_mode:
        raise CniError('Container %s has no running task to attach to its networks.' % container)
    keys = set((want['name'], want['ifname']) for want in wanted)
    with FileLock(cache_dir, settings['lock_timeout'], create=not run.check_mode):
        for (network, ifname), (path, cached) in sorted(owned.items()):
            if (network, ifname) in keys:
                continue
            data_dirs = data_dirs_of(network, network_configs(settings['conf_dir'], network))
            problem = cache_entry_error(cached, network, data_dirs)
            if problem:
                run.warn('Cache entry %s is left alone: %s.' % (path, problem))
                continue
            release(run, runner, path, cached, data_dirs, 'detach %s/%s from network %s' % (container, ifname, network))
        for want in wanted:
            network, ifname = want['name'], want['ifname']
            config = configs[network]
            data_dirs = data_dirs_of(network, [config])
            label = '%s/%s to network %s' % (container, ifname, network)
            if netns is None:
                cached = sound_cache(cache_path(cache_dir, network, container, ifname), network, data_dirs)
                run.act('repair attachment of %s (the task has another network namespace)' % label
                        if cached is not None else 'attach %s' % label)
                result = None
            else:
                attachment = Attachment(network, container, ifname, netns, want.get('cni_args'),
                                        want.get('capability_args'))
                attachment_owner = dict(record, netns_inode=netns_inode(netns))
                _cached, result = converge_attached(run, runner, config, attachment, cache_dir, attachment_owner,
                                                    data_dirs, label)
            after.append(dict(name=network, ifname=ifname, addresses=result_addresses(result)))
    return before, after
