"""The boot-time restore's choices (unit): which cache entries name a lost pinned namespace, and when host-local
is asked for the old address. Making the namespaces again runs in the integration tests (a played boot) and on
a rebooted Molecule VM."""

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import cni, netns_restore

BRIDGE = {"cniVersion": "1.0.0", "name": "web-net", "plugins": [
    {"type": "bridge", "bridge": "web0", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/24"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": True}}]}
RESULT = {"cniVersion": "1.0.0", "ips": [{"address": "10.88.0.7/24"}]}


def cache(tmp_path, container, netns_path, config=None):
    attachment = cni.Attachment("web-net", container, "eth0", netns_path)
    return cni.write_cache(str(tmp_path / "cache"), attachment, config or BRIDGE, RESULT, {"netns_inode": 1})


def test_only_lost_namespaces_of_this_collection_are_restored(tmp_path):
    netns_dir = tmp_path / "netns"
    netns_dir.mkdir()
    lost = cache(tmp_path, "web", str(netns_dir / "ctrops-shop-web-0123abcd"))
    cache(tmp_path, "task", "/proc/4242/ns/net")  # cni_network state=attached on a task's own namespace
    cache(tmp_path, "other", str(netns_dir / "cni-1234"))  # another tool's pinned namespace
    cache(tmp_path, "deep", str(netns_dir / "ctrops-x" / "y"))
    (tmp_path / "cache" / "results" / "web-net-junk-eth0").write_text("not json")
    found = netns_restore.lost_namespaces(str(netns_dir), str(tmp_path / "cache"))
    assert [path for path, _cached in found] == [lost]
    assert netns_restore.lost_namespaces(str(netns_dir), str(tmp_path / "none")) == []


def test_host_local_is_asked_for_the_old_ipv4_address():
    assert netns_restore.same_address_args(BRIDGE, RESULT) == {"IgnoreUnknown": "1", "IP": "10.88.0.7"}
    dhcp = dict(BRIDGE, plugins=[{"type": "macvlan", "ipam": {"type": "dhcp"}}])
    assert netns_restore.same_address_args(dhcp, RESULT) == {}
    dual = {"ips": [{"address": "10.88.0.7/24"}, {"address": "10.88.0.8/24"}, {"address": "fd00::7/64"}]}
    assert netns_restore.same_address_args(BRIDGE, dual) == {}
    assert netns_restore.same_address_args(BRIDGE, None) == {}


def test_bad_arguments_are_argparse_errors(capsys):
    with pytest.raises(SystemExit) as exited:
        netns_restore.main(["--timeout", "soon"])
    assert exited.value.code == 2
    assert "argument --timeout: invalid int value: 'soon'" in capsys.readouterr().err
