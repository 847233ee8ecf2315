"""The containerd role's argument specs (roles/containerd/meta/argument_specs.yml) as a user meets them:
a wrong type stops the role before its first task, in one message that names the variable. Runs on
localhost: the check happens before anything could touch the machine."""

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "playbooks", "demo"))

from demo import REPO, ansible_env, task_results  # noqa: E402

PLAYBOOK = """\
- name: The containerd role with a wrong value
  hosts: all
  gather_facts: false
  roles:
    - role: ctrops.containerd.containerd
"""


@pytest.mark.parametrize("variable, value, words", [
    ("containerd_wait_timeout", "soon", "containerd_wait_timeout"),
    ("containerd_install_method", "snap", "containerd_install_method"),
    ("containerd_users", {"alice": 1}, "containerd_users"),
])
def test_wrong_values_stop_the_role_before_any_task(tmp_path, variable, value, words):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps({variable: value}))
    env = ansible_env()
    env["ANSIBLE_STDOUT_CALLBACK"] = "json"
    proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "@%s" % vars_file, str(playbook)],
                          env=env, capture_output=True, text=True, check=False, cwd=REPO)
    assert proc.returncode != 0, proc.stdout[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    ran = [(name, res) for _play, name, res in task_results(result)]
    # Only the argument spec check ran, and it failed naming the variable.
    assert len(ran) == 1, [name for name, _res in ran]
    name, res = ran[0]
    assert res.get("failed") and "argument" in name.lower(), (name, res)
    assert words in res["msg"], res["msg"]
