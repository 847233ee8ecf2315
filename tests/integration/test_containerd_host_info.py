"""containerd_host_info against the rig's containerd: versions, plugins, namespace counts, CNI, socket."""

import json
import os
import re
import stat
import subprocess

import pytest

from rig.containerd import RUNC_DIR


@pytest.fixture
def busy_namespace(containerd, uid, rig_images):
    """A namespace holding one image, two containers and one running task (known counts)."""
    name = "hi-" + uid
    containerd.ctr_run("namespaces", "create", name)
    containerd.ctr_run("images", "import", rig_images["busybox"]["path"], namespace=name)
    ref = rig_images["busybox"]["ref"]
    containerd.ctr_run("run", "-d", "--null-io", ref, "hi-run-" + uid, "sleep", "600", namespace=name)
    containerd.ctr_run("containers", "create", ref, "hi-idle-" + uid, "true", namespace=name)
    yield name
    containerd.ctr_run("tasks", "kill", "-a", "-s", "SIGKILL", "hi-run-" + uid, namespace=name, check=False)
    for _attempt in range(50):
        if containerd.ctr_run("tasks", "delete", "-f", "hi-run-" + uid, namespace=name, check=False).returncode == 0:
            break
    for container in ("hi-run-" + uid, "hi-idle-" + uid):
        containerd.ctr_run("containers", "delete", container, namespace=name, check=False)
    containerd.ctr_run("images", "rm", "--sync", ref, namespace=name, check=False)
    for line in reversed(containerd.ctr_run("snapshots", "ls", namespace=name).stdout.splitlines()[1:]):
        containerd.ctr_run("snapshots", "rm", line.split()[0], namespace=name, check=False)
    containerd.ctr_run("namespaces", "rm", name, check=False)


@pytest.mark.smoke
def test_facts_match_the_rig(containerd, run_module, busy_namespace, counting_ctr, tmp_path):
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    (conf_dir / "10-web.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "web",
        "plugins": [{"type": "bridge", "bridge": "cni-hi"}, {"type": "portmap"}]}))
    (conf_dir / "20-broken.conf").write_text("{not json")
    executable, count = counting_ctr
    result = run_module("containerd_host_info", **containerd.module_args(
        executable=executable, namespaces=[busy_namespace, "nosuch"], cni_conf_dir=str(conf_dir),
        cni_bin_dirs=[str(tmp_path / "none"), "/usr/lib/cni"]))
    assert result["changed"] is False and "failed" not in result
    # One call per kind: version, plugins ls, namespaces ls, and four listings for the one namespace.
    assert count() == result["ctr_calls"] == 1 + 1 + 1 + 4

    daemon = subprocess.run([os.path.join(containerd.bin_dir, "containerd"), "--version"], capture_output=True,
                            text=True, check=True).stdout
    versions = result["versions"]
    assert versions["containerd"].startswith(containerd.version + ".") and versions["containerd"] in daemon
    assert versions["ctr"] == versions["containerd"] and versions["ctr_path"] == executable
    runc = subprocess.run([os.path.join(RUNC_DIR, "runc"), "--version"], capture_output=True, text=True,
                          check=True).stdout
    assert re.match(r"runc version (\S+)", runc).group(1) == versions["runc"]
    assert "1.0.0" in versions["cni_spec_versions"]

    plugins = result["plugins"]
    assert plugins["snapshotters"]["overlayfs"] == "ok" and plugins["snapshotters"]["native"] == "ok"
    assert plugins["runtimes"]["task"] == "ok"
    assert {"type": "io.containerd.grpc.v1", "id": "containers", "platforms": [], "status": "ok"} in plugins["all"]
    assert plugins["errors"] == ["%s.%s" % (p["type"], p["id"]) for p in plugins["all"] if p["status"] == "error"]

    counts = result["namespaces"][busy_namespace]
    snapshots = len(containerd.ctr_run("snapshots", "ls", namespace=busy_namespace).stdout.splitlines()) - 1
    assert snapshots >= 3  # the image's layer and each container's own
    assert counts == {"labels": {}, "containers": 2, "tasks": 1, "running": 1, "images": 1, "snapshots": snapshots}
    assert list(result["namespaces"]) == [busy_namespace] and result["missing_namespaces"] == ["nosuch"]

    assert result["cni"]["networks"] == [{"name": "web", "cni_version": "1.0.0", "types": ["bridge", "portmap"],
                                          "file": str(conf_dir / "10-web.conflist")}]
    assert result["cni"]["invalid_files"] == [str(conf_dir / "20-broken.conf")]
    assert "bridge" in result["cni"]["plugins"] and "loopback" in result["cni"]["plugins"]

    st = os.stat(containerd.address)
    assert result["socket"]["path"] == containerd.address and result["socket"]["exists"] is True
    assert result["socket"]["mode"] == "%04o" % stat.S_IMODE(st.st_mode) and result["socket"]["gid"] == st.st_gid
    assert result["socket"]["group"] == "root" and result["socket"]["owner"] == "root"

    # Check mode reads the same and reports no change; a cheap call costs what it gathers.
    checked = run_module("containerd_host_info", check=True, **containerd.module_args(
        executable=executable, gather=["versions"]))
    assert checked["changed"] is False and checked["versions"] == dict(versions, ctr_path=executable)
    assert set(checked) & {"plugins", "namespaces", "cni", "socket"} == set()
    assert count() == checked["ctr_calls"] == 1
    files_only = run_module("containerd_host_info", **containerd.module_args(
        executable=executable, gather=["socket", "cni"], cni_conf_dir=str(conf_dir)))
    assert count() == 0 and files_only["socket"]["exists"] is True and files_only["changed"] is False


def test_bad_input_is_one_sentence(containerd, run_module):
    result = run_module("containerd_host_info", **containerd.module_args(gather=["versions", "disks"]))
    assert result.get("failed") is True
    assert "gather" in result["msg"] and "disks" in result["msg"] and "Traceback" not in str(result)
    result = run_module("containerd_host_info", **containerd.module_args(namespaces=["bad name"]))
    assert result.get("failed") is True
    assert result["msg"].startswith("Invalid namespaces: namespace name 'bad name' is not a valid containerd")
