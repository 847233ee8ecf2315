"""community.general.json_query (jmespath) over a real containerd_container_info result, as the info
modules' EXAMPLES use it, in a playbook run by ansible-playbook."""

import json
import os
import subprocess
import sys

PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def test_json_query_picks_running_containers(containerd, busybox, container_name, tmp_path):
    running, idle = container_name("run"), container_name("idle")
    for name in (running, idle):
        containerd.ctr_run("containers", "create", busybox, name, "sleep", "600")
    containerd.ctr_run("tasks", "start", "-d", "--null-io", running)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"ctrops.containerd.containerd_container_info": {
            "name": [running, idle], "address": containerd.address, "executable": containerd.ctr},
         "register": "all_containers"},
        {"ansible.builtin.set_fact": {
            "running": "{{ all_containers | community.general.json_query(running_query) }}",
            "idle": "{{ all_containers | community.general.json_query(idle_query) }}"},
         "vars": {"running_query": "containers[?task.status == 'running'].{name: name, pid: task.pid}",
                  "idle_query": "containers[?task == null || task.status != 'running'].[name, image]"}},
        {"ansible.builtin.copy": {"content": "{{ {'running': running, 'idle': idle} | to_json }}",
                                  "dest": str(tmp_path / "out.json")}},
    ]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    proc = subprocess.run([PLAYBOOK, "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = json.loads((tmp_path / "out.json").read_text())
    pid = int(containerd.ctr_run("tasks", "ls").stdout.split(running)[1].split()[0])
    assert out["running"] == [{"name": running, "pid": pid}]
    assert out["idle"] == [[idle, "docker.io/rig/busybox:1"]]
