"""community.general.json_query (jmespath) over a real containerd_container_info result, with the queries
the module's EXAMPLES use; the filter is community.general's own function, called in-process."""

from ansible_collections.community.general.plugins.filter.json_query import json_query

RUNNING = "containers[?task.status == 'running'].{name: name, pid: task.pid}"
IDLE = "containers[?task == null || task.status != 'running'].[name, image]"


def test_json_query_picks_running_containers(containerd, run_module, busybox, container_name):
    running, idle = container_name("run"), container_name("idle")
    for name in (running, idle):
        containerd.ctr_run("containers", "create", busybox, name, "sleep", "600")
    containerd.ctr_run("tasks", "start", "-d", "--null-io", running)
    info = run_module("containerd_container_info", **containerd.module_args(name=[running, idle]))
    assert info.get("failed") is not True, info
    pid = int(containerd.ctr_run("tasks", "ls").stdout.split(running)[1].split()[0])
    assert json_query(info, RUNNING) == [{"name": running, "pid": pid}]
    assert json_query(info, IDLE) == [[idle, "docker.io/rig/busybox:1"]]
