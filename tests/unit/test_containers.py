"""Spec summary and comparison of containerd_container, fed with `ctr containers info` recorded
from containerd 1.6 and 2.1 (tests/support/record_ctr_outputs.py)."""

import copy
import json
import os

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
VERSIONS = ["1.6", "2.1"]


def recorded_info(version):
    with open(os.path.join(FIXTURES, "ctr-" + version, "containers_info.txt")) as handle:
        return json.load(handle)


def params(**extra):
    base = dict(command=["sleep", "600"], env=None, cwd=None, user=None, hostname=None, mounts=None,
                net_host=False, privileged=False, read_only=False, runtime=None, runtime_binary=None,
                snapshotter=None, memory_limit=None, cpu_quota=None, cpu_period=None, restart_policy="no",
                network_from=None, pid_from=None, ipc_from=None)
    base.update(extra)
    return base


def spec(**extra):
    return ctrs.desired_spec(params(**extra), "docker.io/rig/busybox:1")


@pytest.mark.parametrize("version", VERSIONS)
def test_summary_of_recorded_info(version):
    summary = ctrs.parse_container_info(recorded_info(version))
    assert summary["name"] == "sleeper"
    assert summary["image"] == "docker.io/rig/busybox:1"
    assert summary["command"] == ["sleep", "600"]
    assert summary["env"] == ["PATH=/bin"]
    assert summary["cwd"] == "/"
    assert summary["user"] == {"uid": 0, "gid": 0}
    assert summary["runtime"] == "io.containerd.runc.v2" and summary["runtime_options"] is None
    assert summary["snapshotter"] == "overlayfs"
    assert summary["net_host"] is False and summary["namespaces"] == {}
    assert summary["privileged"] is False and summary["read_only"] is False
    assert summary["memory_limit"] is None and summary["cpu_quota"] is None
    assert [m["destination"] for m in summary["mounts"]] == ["/proc", "/dev", "/dev/pts", "/dev/shm",
                                                             "/dev/mqueue", "/sys", "/run"]


@pytest.mark.parametrize("version", VERSIONS)
def test_recorded_container_matches_its_own_spec(version):
    summary = ctrs.parse_container_info(recorded_info(version))
    assert ctrs.differences(spec(), summary) == []
    view = ctrs.container_view(summary)
    assert view["mounts"] == [] and view["labels"] == {"io.containerd.image.config.stop-signal": "SIGTERM"}
    assert view["restart_policy"] == "no" and view["network_from"] is None


@pytest.mark.parametrize("version", VERSIONS)
def test_differences_name_the_fields(version):
    summary = ctrs.parse_container_info(recorded_info(version))
    wanted = spec(command=["sleep", "1"], env={"A": "1"}, cwd="/tmp", read_only=True, memory_limit=1024,
                  net_host=True, restart_policy="always", mounts=[{"source": "/srv", "destination": "/data"}])
    fields = [field for field, _wanted, _actual in ctrs.differences(wanted, summary)]
    assert fields == ["command", "env.A", "cwd", "mounts./data", "net_host", "read_only", "memory_limit",
                      "restart_policy"]


def test_shared_namespace_compares_names_not_pids():
    info = recorded_info("2.1")
    info["Labels"][ctrs.NS_LABEL_PREFIX + "network"] = "web"
    info["Spec"]["linux"]["namespaces"][-1]["path"] = "/proc/100/ns/net"
    summary = ctrs.parse_container_info(info)
    assert ctrs.differences(spec(network_from="web"), summary) == []
    assert [d[0] for d in ctrs.differences(spec(network_from="db"), summary)] == ["network_from"]
    assert [d[0] for d in ctrs.differences(spec(), summary)] == ["network_from"]
    # The web task restarted with PID 200: the stored path is stale.
    assert ctrs.stale_namespaces(spec(network_from="web"), summary, {"web": {"pid": 200, "status": "running"}}) \
        == ["network_from"]
    assert ctrs.stale_namespaces(spec(network_from="web"), summary, {"web": {"pid": 100, "status": "running"}}) == []


def test_removed_option_is_caught_by_the_digest():
    info = recorded_info("2.1")
    info["Labels"][ctrs.SPEC_LABEL] = ctrs.spec_digest(spec(env={"A": "1"}))
    info["Spec"]["process"]["env"].append("A=1")
    summary = ctrs.parse_container_info(info)
    assert ctrs.differences(spec(env={"A": "1"}), summary) == []
    assert [d[0] for d in ctrs.differences(spec(), summary)] == ["options"]


def test_create_args_end_flags_before_the_image():
    wanted = spec(command=["sh", "-c", "echo hi"], env={"B": "2", "A": "1"}, net_host=True, read_only=True,
                  mounts=[{"source": "/srv", "destination": "/data", "options": ["rbind", "ro"]}],
                  memory_limit=1024, restart_policy="always")
    labels = ctrs.managed_labels(wanted, {"team": "web"})
    assert labels[ctrs.RESTART_STATUS] == "stopped" and labels[ctrs.RESTART_POLICY] == "always"
    args = ctrs.create_args("c1", wanted, {"team": "web"}, {"network": "/proc/1/ns/net"})
    assert args == ["containers", "create", "--env", "A=1", "--env", "B=2", "--label", "team=web",
                    "--mount", "type=bind,src=/srv,dst=/data,options=rbind:ro", "--net-host",
                    "--with-ns", "network:/proc/1/ns/net", "--read-only", "--memory-limit", "1024",
                    "--", "docker.io/rig/busybox:1", "c1", "sh", "-c", "echo hi"]


def test_digest_is_stable_and_order_free():
    assert ctrs.spec_digest(spec(env={"A": "1", "B": "2"})) == ctrs.spec_digest(spec(env={"B": "2", "A": "1"}))
    assert ctrs.spec_digest(spec()) != ctrs.spec_digest(spec(cwd="/tmp"))


def test_runtime_options_are_decoded():
    info = copy.deepcopy(recorded_info("2.1"))
    info["Runtime"]["Options"]["value"] = "MgwvdXNyL2Jpbi9ydW5j"  # protobuf field with "/usr/bin/runc"
    summary = ctrs.parse_container_info(info)
    assert "/usr/bin/runc" in summary["runtime_options"]
    assert ctrs.differences(spec(runtime_binary="/usr/bin/runc"), summary) == []
    assert [d[0] for d in ctrs.differences(spec(runtime_binary="/usr/sbin/crun"), summary)] == ["runtime_binary"]


@pytest.mark.parametrize("text, pids", [
    ("PID     INFO\n5645    -\n", [5645]),
    ("PID     INFO\n5645    -\n5700    -\n", [5645, 5700]),
    ("PID     INFO\n", []),
])
def test_task_ps(text, pids):
    assert ctrs.parse_task_ps(text) == pids


@pytest.mark.parametrize("text, status", [
    ('time="2026-11-28T12:05:01Z" level=warning msg="task a exit with non-zero exit code 7"\n', 7),
    ("", 0),
])
def test_exit_status(text, status):
    assert ctrs.parse_exit_status(text) == status
