"""The ctr output parsers, fed with outputs recorded from containerd 1.6 and 2.1
(tests/support/record_ctr_outputs.py)."""

import os

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import parsers

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
VERSIONS = sorted(d[len("ctr-"):] for d in os.listdir(FIXTURES) if d.startswith("ctr-"))


def recorded(version, name):
    with open(os.path.join(FIXTURES, "ctr-" + version, name + ".txt")) as handle:
        return handle.read()


def test_both_versions_are_recorded():
    assert VERSIONS == ["1.6", "2.1"]


@pytest.mark.parametrize("version", VERSIONS)
def test_namespaces(version):
    assert parsers.parse_namespaces(recorded(version, "namespaces_ls")) == {
        "empty": {}, "web": {"team": "web", "tier": "front"}}


@pytest.mark.parametrize("version", VERSIONS)
def test_tasks_are_lower_cased(version):
    tasks = parsers.parse_tasks(recorded(version, "tasks_ls"))
    assert sorted(tasks) == ["paused", "sleeper"]
    assert tasks["sleeper"]["status"] == "running"
    assert tasks["paused"]["status"] == "paused"
    assert all(task["pid"] > 1 for task in tasks.values())


@pytest.mark.parametrize("version", VERSIONS)
def test_quiet_lists(version):
    assert parsers.parse_quiet_list(recorded(version, "images_ls_q")) == ["docker.io/rig/busybox:1"]
    assert sorted(parsers.parse_quiet_list(recorded(version, "containers_ls_q"))) == [
        "created-only", "paused", "sleeper"]


@pytest.mark.parametrize("version", VERSIONS)
def test_container_info_json(version):
    info = parsers.parse_json(recorded(version, "containers_info"), "container sleeper")
    assert info["ID"] == "sleeper"
    assert info["Image"] == "docker.io/rig/busybox:1"
    assert info["Spec"]["process"]["args"] == ["sleep", "600"]


def test_container_info_json_error_names_the_object():
    with pytest.raises(ValueError, match="for container x"):
        parsers.parse_json("not json", "container x")


@pytest.mark.parametrize("version, expected", [("1.6", (1, 6, 20)), ("2.1", (2, 1, 9))])
def test_version(version, expected):
    raw = parsers.parse_version(recorded(version, "version"))
    assert parsers.version_tuple(raw["client"]) == expected
    assert parsers.version_tuple(raw["server"]) == expected


@pytest.mark.parametrize("text, expected", [
    ("1.6.20~ds1", (1, 6, 20)), ("v2.1.9+unknown", (2, 1, 9)), ("2.0", (2, 0, 0)), ("", ()), (None, ())])
def test_version_tuple(text, expected):
    assert parsers.version_tuple(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("", {}),
    ("a=1", {"a": "1"}),
    ("a=1,b=x=y", {"a": "1", "b": "x=y"}),
    ("containerd.io/defaults/snapshotter=native,team=web",
     {"containerd.io/defaults/snapshotter": "native", "team": "web"}),
    ("flag=", {"flag": ""}),
])
def test_labels(text, expected):
    assert parsers.parse_labels(text) == expected


@pytest.mark.parametrize("version", VERSIONS)
def test_containers_table(version):
    containers = parsers.parse_containers(recorded(version, "containers_ls"))
    assert sorted(containers) == ["created-only", "paused", "sleeper"]
    assert containers["sleeper"] == {"image": "docker.io/rig/busybox:1", "runtime": "io.containerd.runc.v2"}


def test_containers_table_without_image():
    out = "CONTAINER    IMAGE    RUNTIME\nbare    -    io.containerd.runc.v2\nbare2        io.containerd.runc.v2\n"
    assert parsers.parse_containers(out) == {"bare": {"image": None, "runtime": "io.containerd.runc.v2"},
                                             "bare2": {"image": None, "runtime": "io.containerd.runc.v2"}}
