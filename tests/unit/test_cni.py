"""The CNI model of cni_network: configuration building and validation, plugin stdin, libcni's cache
format, host-local leases, ipMasq chain names and the lock. Pure functions, no plugin runs here
(the integration tests run the real plugins)."""

import base64
import json
import os

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import cni


def shorthand(**extra):
    params = dict(name="cni0", config=None, format="conflist", type="bridge", bridge="cni0", is_gateway=True,
                  ip_masq=True, subnet="10.66.0.0/16", gateway="10.66.0.1", routes=["0.0.0.0/0"],
                  dns={"nameservers": ["8.8.8.8"]}, ipam_type="host-local", ipam_data_dir=None, cni_version="1.0.0")
    params.update(extra)
    return params


def test_shorthand_builds_the_notes_bridge_network():
    assert cni.build_config(shorthand(format="conf")) == {
        "cniVersion": "1.0.0", "name": "cni0", "type": "bridge", "bridge": "cni0", "isGateway": True,
        "ipMasq": True,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.66.0.0/16", "gateway": "10.66.0.1"}]],
                 "routes": [{"dst": "0.0.0.0/0"}]},
        "dns": {"nameservers": ["8.8.8.8"]},
    }
    listed = cni.build_config(shorthand())
    assert list(listed) == ["cniVersion", "name", "plugins"] and listed["plugins"][0]["type"] == "bridge"


def test_loopback_is_one_line():
    assert cni.build_config(shorthand(type="loopback", subnet=None, dns=None, format="conf")) == {
        "cniVersion": "1.0.0", "name": "cni0", "type": "loopback"}


def test_full_config_takes_the_name_and_must_match_the_format():
    assert cni.build_config(shorthand(config={"cniVersion": "1.0.0", "plugins": [{"type": "loopback"}]}))["name"] \
        == "cni0"
    with pytest.raises(cni.CniError, match="set format=conf"):
        cni.build_config(shorthand(config={"cniVersion": "1.0.0", "type": "loopback"}))
    with pytest.raises(cni.CniError, match="set format=conflist"):
        cni.build_config(shorthand(format="conf", config={"cniVersion": "1.0.0", "plugins": [{"type": "x"}]}))


def test_valid_config_passes():
    cni.validate_structure(cni.build_config(shorthand()), "cni0")


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.update(cniVersion="2.0.0"), "cniVersion '2.0.0' is not a CNI spec version"),
    (lambda c: c.update(name="bad name"), "network name 'bad name' is not valid"),
    (lambda c: c.update(plugins=[]), '"plugins" must be a non-empty list'),
    (lambda c: c["plugins"][0].update(type="/usr/bin/bridge"), '"type" is a binary name looked up in bin_dirs, not a path'),
    (lambda c: c["plugins"][0].update(bridge="a-very-long-bridge-name"), "must be 1 to 15 characters"),
    (lambda c: c["plugins"][0]["ipam"].update(ranges=[[{"subnet": "10.66.0.0/33"}]]), "is not a valid network"),
    (lambda c: c["plugins"][0]["ipam"].update(ranges=[[{"subnet": "10.66.0.0/32"}]]), "is too small"),
    (lambda c: c["plugins"][0]["ipam"].update(ranges=[[{"subnet": "10.66.0.0/24", "gateway": "10.66.0.255"}]]),
     "gateway 10.66.0.255 is the network or broadcast address"),
    (lambda c: c["plugins"][0]["ipam"].update(ranges=[[{"subnet": "10.66.0.0/24", "rangeEnd": "10.67.0.9"}]]),
     "rangeEnd 10.67.0.9 is not inside subnet 10.66.0.0/24"),
    (lambda c: c["plugins"][0]["ipam"].update(routes=[{"dst": "0.0.0.0/0", "gw": "nope"}]),
     "route gw 'nope' is not an IP address"),
    (lambda c: c["plugins"][0]["ipam"].pop("type"), '"ipam" needs a "type"'),
])
def test_invalid_configs(mutate, message):
    config = cni.build_config(shorthand())
    mutate(config)
    with pytest.raises(cni.CniError) as raised:
        cni.validate_structure(config, config.get("name"))
    assert message in raised.value.message


def test_ipv6_ranges_and_old_style_subnet():
    cni.validate_ipam({"type": "host-local", "ranges": [[{"subnet": "fd00:89::/64", "gateway": "fd00:89::1"}]]}, "p")
    with pytest.raises(cni.CniError, match="gateway 10.1.0.1 is not inside subnet 10.66.0.0/16"):
        cni.validate_ipam({"type": "host-local", "subnet": "10.66.0.0/16", "gateway": "10.1.0.1"}, "p")


def test_plugin_types_include_ipam_once():
    config = {"plugins": [{"type": "bridge", "ipam": {"type": "host-local"}}, {"type": "portmap"},
                          {"type": "ptp", "ipam": {"type": "host-local"}}]}
    assert cni.plugin_types(config) == ["bridge", "host-local", "portmap", "ptp"]


def test_plugin_stdin_passes_prev_result_and_only_declared_capabilities():
    plugin = {"type": "portmap", "capabilities": {"portMappings": True, "bandwidth": False}}
    conf = json.loads(cni.plugin_stdin(plugin, "net", "1.0.0", {"ips": []},
                                       {"portMappings": [{"hostPort": 8080}], "bandwidth": {}, "ips": ["x"]}))
    assert conf == {"type": "portmap", "capabilities": {"portMappings": True, "bandwidth": False}, "name": "net",
                    "cniVersion": "1.0.0", "prevResult": {"ips": []},
                    "runtimeConfig": {"portMappings": [{"hostPort": 8080}]}}
    assert "prevResult" not in json.loads(cni.plugin_stdin({"type": "bridge"}, "net", "1.0.0", None, None))


def test_check_support_by_version():
    assert not cni.check_enabled({"cniVersion": "0.3.1"})
    assert cni.check_enabled({"cniVersion": "0.4.0"})
    assert cni.check_enabled({"cniVersion": "1.0.0"})
    assert not cni.check_enabled({"cniVersion": "1.0.0", "disableCheck": True})


def test_addresses_of_current_and_legacy_results():
    assert cni.result_addresses({"ips": [{"address": "10.66.0.2/16"}, {"address": "fd00::2/64"}]}) == [
        "10.66.0.2/16", "fd00::2/64"]
    assert cni.result_addresses({"ip4": {"ip": "10.66.0.3/16"}}) == ["10.66.0.3/16"]
    assert cni.result_addresses(None) == []


def test_cache_is_libcni_format_and_reads_back(tmp_path):
    attachment = cni.Attachment("cni0", "web", "eth0", "/proc/1/ns/net", {"IgnoreUnknown": "1"},
                                {"portMappings": []})
    config = {"cniVersion": "1.0.0", "name": "cni0", "plugins": [{"type": "bridge"}]}
    path = cni.write_cache(str(tmp_path), attachment, config, {"ips": [{"address": "10.66.0.2/16"}]},
                           {"namespace": "default"})
    assert path == str(tmp_path / "results" / "cni0-web-eth0")
    assert os.stat(path).st_mode & 0o777 == 0o600
    with open(path) as handle:
        raw = json.load(handle)
    assert raw["kind"] == "cniCacheV1" and raw["containerId"] == "web" and raw["ifName"] == "eth0"
    assert raw["networkName"] == "cni0" and raw["netns"] == "/proc/1/ns/net"
    assert raw["cniArgs"] == [["IgnoreUnknown", "1"]] and raw["capabilityArgs"] == {"portMappings": []}
    assert json.loads(base64.b64decode(raw["config"])) == config
    read_config, result, entry = cni.read_cache(path)
    assert read_config == config and result == {"ips": [{"address": "10.66.0.2/16"}]}
    assert entry[cni.CACHE_OWNER_KEY] == {"namespace": "default"}
    # Another network whose name starts the same is not ours.
    other = cni.Attachment("cni0-x", "web", "eth0", "")
    cni.write_cache(str(tmp_path), other, dict(config, name="cni0-x"), None, {})
    assert list(cni.cached_attachments(str(tmp_path), "cni0")) == [path]
    assert cni.read_cache(str(tmp_path / "missing")) is None


def test_del_netns_refuses_a_reused_pid(tmp_path):
    ns = tmp_path / "ns"
    ns.write_text("")
    inode = os.stat(str(ns)).st_ino
    assert cni.del_netns({"netns": str(ns), cni.CACHE_OWNER_KEY: {"netns_inode": inode}}) == str(ns)
    assert cni.del_netns({"netns": str(ns), cni.CACHE_OWNER_KEY: {"netns_inode": inode + 1}}) == ""
    assert cni.del_netns({"netns": str(tmp_path / "gone")}) == ""


def test_host_local_leases(tmp_path):
    (tmp_path / "10.66.0.2").write_text("web\r\neth0")
    (tmp_path / "10.66.0.3").write_text("old")
    (tmp_path / "last_reserved_ip.0").write_text("10.66.0.3")
    (tmp_path / "lock").write_text("")
    expected = {str(tmp_path / "10.66.0.2"): ("web", "eth0"), str(tmp_path / "10.66.0.3"): ("old", "")}
    assert cni.ipam_leases(str(tmp_path)) == expected
    config = {"name": "n", "plugins": [{"type": "bridge", "ipam": {"type": "host-local", "dataDir": "/d"}}]}
    assert cni.ipam_data_dirs(config) == ["/d/n"]
    assert cni.ipam_data_dirs({"name": "n", "type": "bridge", "ipam": {"type": "host-local"}}) == [
        "/var/lib/cni/networks/n"]


def test_masq_chain_is_the_bridge_plugins_name():
    # Recorded from the bridge plugin (1.1.1 and 1.9.1): network expnet, container c1.
    assert cni.masq_chain("expnet", "c1") == "CNI-3df33d081738ff882912a4e1"


def test_written_file_is_atomic_and_0644(tmp_path):
    path = str(tmp_path / "10-n.conflist")
    cni.write_atomic(path, cni.render({"a": 1}))
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert json.loads(open(path).read()) == {"a": 1}
    assert os.listdir(str(tmp_path)) == ["10-n.conflist"]


def test_network_files_by_name(tmp_path):
    (tmp_path / "10-a.conflist").write_text(json.dumps({"name": "a"}))
    (tmp_path / "20-b.conf").write_text(json.dumps({"name": "a"}))
    (tmp_path / "30-broken.conf").write_text("{")
    (tmp_path / "notes.txt").write_text(json.dumps({"name": "a"}))
    assert [os.path.basename(p) for p in cni.files_of_network(str(tmp_path), "a")] == ["10-a.conflist", "20-b.conf"]
    with pytest.raises(cni.CniError, match="defined by several files"):
        cni.read_network(str(tmp_path), "a")
    with pytest.raises(cni.CniError, match="Network z is not defined in"):
        cni.read_network(str(tmp_path), "z")


def test_lock_excludes_a_second_holder(tmp_path):
    with cni.FileLock(str(tmp_path), timeout=5):
        with pytest.raises(cni.CniError, match="holds the CNI lock"):
            with cni.FileLock(str(tmp_path), timeout=0.2):
                pass
    with cni.FileLock(str(tmp_path), timeout=1):
        pass
