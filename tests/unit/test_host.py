"""containerd_host_info's parsers, fed with outputs recorded from containerd 1.6 and 2.1."""

import os

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import host

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def recorded(version, name):
    with open(os.path.join(FIXTURES, "ctr-" + version, name + ".txt")) as handle:
        return handle.read()


@pytest.mark.parametrize("version", ["1.6", "2.1"])
def test_plugins(version):
    plugins = host.parse_plugins(recorded(version, "plugins_ls"))
    assert {"type": "io.containerd.snapshotter.v1", "id": "overlayfs", "platforms": ["linux/amd64"],
            "status": "ok"} in plugins
    assert {"type": "io.containerd.content.v1", "id": "content", "platforms": [], "status": "ok"} in plugins
    snapshotters = host.plugins_of_type(plugins, "io.containerd.snapshotter.")
    assert snapshotters["native"] == "ok" and snapshotters["btrfs"] == "skip"
    assert host.plugins_of_type(plugins, "io.containerd.runtime.")["task"] == "ok"
    assert all(p["status"] in ("ok", "skip", "error") for p in plugins)


def test_plugin_status_error_is_kept():
    assert host.plugins_of_type(host.parse_plugins(recorded("1.6", "plugins_ls")),
                                "io.containerd.snapshotter.")["devmapper"] == "error"


def test_version_with_revision():
    text = ("Client:\n  Version:  1.6.20~ds1\n  Revision: 1.6.20~ds1-1+deb12u3\n  Go version: go1.19.8\n\n"
            "Server:\n  Version:  1.6.20~ds1\n  Revision: 1.6.20~ds1-1+deb12u3\n  UUID: 3765\n")
    assert host.parse_version_full(text) == {"client": "1.6.20~ds1", "server": "1.6.20~ds1",
                                             "server_revision": "1.6.20~ds1-1+deb12u3"}
    empty_revision = text.replace("Revision: 1.6.20~ds1-1+deb12u3\n  UUID", "Revision: \n  UUID")
    assert host.parse_version_full(empty_revision)["server_revision"] is None


def test_runc_version():
    text = "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\n"
    assert host.parse_runc_version(text) == {"version": "1.1.5+ds1", "spec": "1.0.2-dev"}
    assert host.parse_runc_version("") == {"version": None, "spec": None}


@pytest.mark.parametrize("text, release", [
    ("CNI loopback plugin version unknown\nCNI protocol versions supported: 0.1.0, 1.0.0\n", None),
    ("CNI loopback plugin v1.9.1\nCNI protocol versions supported: 0.1.0, 1.0.0, 1.1.0\n", "v1.9.1"),
])
def test_cni_plugin_about(text, release):
    found, supported = host.parse_cni_plugin_about(text)
    assert found == release and supported[:2] == ["0.1.0", "1.0.0"]


def test_count_rows():
    assert host.count_rows("tasks", "TASK PID STATUS\nweb 42 RUNNING\ndb 43 STOPPED\n") == 2
    assert host.count_rows("snapshots", "KEY PARENT KIND \n") == 0
    assert host.count_rows("images", "a\nb\n\n") == 2
