"""The boot-time restore's choices (unit): which cache entries name a lost pinned namespace, and when host-local
is asked for the old address. Making the namespaces again runs in the integration tests (a played boot) and on
a rebooted Molecule VM."""

import ast
import os

import pytest
import yaml

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


def test_the_files_the_cni_role_copies_import_only_each_other():
    """The boot unit runs with only the files the role copies (roles/cni/vars/main.yml): their module-level
    imports of this collection and of Ansible must stay among them."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "roles", "cni", "vars", "main.yml")) as handle:
        files = yaml.safe_load(handle)["_cni_restore_files"]
    copied = {name[:-len(".py")] for name in files}
    prefix = "ansible_collections.ctrops.containerd.plugins.module_utils"
    for name in files:
        with open(os.path.join(root, "plugins", "module_utils", name)) as handle:
            tree = ast.parse(handle.read())
        for node in tree.body:  # module level: a function may import lazily
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ansible"):
                imported = node.module[len(prefix) + 1:].split(".")[0] if node.module != prefix else None
                names = [alias.name for alias in node.names] if imported is None else [imported]
                assert node.module.startswith(prefix) and set(names) <= copied, (name, node.module, names)
            elif isinstance(node, ast.Import):
                assert not any(alias.name.startswith("ansible") for alias in node.names), (name, node.names)
