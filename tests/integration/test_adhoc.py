"""Modules as operators type them: real `ansible HOST -m MODULE -a 'k=v ...'` ad-hoc commands.

Mappings go in as `k=v,k=v` (Ansible's type='dict'), lists comma-separated, a container's command as a
string split the way a shell would. Each command runs twice: changed, then unchanged.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import remove_container

ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")


@pytest.fixture
def adhoc(containerd, uid):
    """adhoc(module, args, check=False) -> (status word, result): one `ansible localhost` command (its
    output through the json callback); its namespace ("adhoc-<uid>", in {ns}) is removed with what it
    holds at teardown."""
    namespace = "adhoc-%s" % uid
    connection = "address=%s executable=%s" % (containerd.address, containerd.ctr)

    def _run(module, args, check=False):
        cmd = [ANSIBLE, "localhost", "-i", "localhost,", "-c", "local", "-m", "ctrops.containerd." + module,
               "-a", "%s %s" % (args.format(ns=namespace), connection)] + (["--check"] if check else [])
        env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="true")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, env=env)
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        return ("FAILED" if result.get("failed") else "CHANGED" if result.get("changed") else "SUCCESS"), result
    yield _run
    for name in containerd.ctr_run("containers", "ls", "-q", namespace=namespace, check=False).stdout.split():
        remove_container(containerd, name, namespace=namespace)
    for image in containerd.ctr_run("images", "ls", "-q", namespace=namespace, check=False).stdout.split():
        containerd.ctr_run("images", "rm", image, namespace=namespace, check=False)
    containerd.ctr_run("namespaces", "rm", namespace, check=False)


def twice(adhoc, module, args):
    """Run an ad-hoc command twice: the first changes, the second does not; the first result."""
    status, first = adhoc(module, args)
    assert status == "CHANGED", (status, first)
    status, second = adhoc(module, args)
    assert status == "SUCCESS" and second["changed"] is False, (status, second)
    return first


def test_adhoc_commands_converge(adhoc, rig_images, uid):
    image = twice(adhoc, "containerd_image", "name=rig/busybox:1 namespace={ns} source=archive archive_path=%s"
                  % rig_images["busybox"]["path"])
    assert image["image"]["name"] == "docker.io/rig/busybox:1"

    name = "adhoc-%s" % uid
    container_args = ("name=%s namespace={ns} image=rig/busybox:1 command='sleep 600' state=running "
                      "labels=app=shop,tier=web env=MODE=test,TZ=UTC stop_timeout=1" % name)
    status, predicted = adhoc("containerd_container", container_args, check=True)
    assert status == "CHANGED" and predicted["task"]["status"] == "running", predicted
    container = twice(adhoc, "containerd_container", container_args)
    assert container["container"]["command"] == ["sleep", "600"]
    assert container["container"]["env"]["MODE"] == "test" and container["container"]["env"]["TZ"] == "UTC"
    assert container["container"]["labels"]["app"] == "shop"


def test_adhoc_task_info_and_errors(containerd, adhoc, rig_images, uid):
    name = "adhoc-%s" % uid
    namespace = "adhoc-%s" % uid
    containerd.ctr_run("images", "import", rig_images["busybox"]["path"], namespace=namespace)
    containerd.ctr_run("containers", "create", "--label", "app=shop", "--", "docker.io/rig/busybox:1", name,
                       "sleep", "600", namespace=namespace)

    task = twice(adhoc, "containerd_task", "container=%s namespace={ns} state=running stop_signal=SIGKILL" % name)
    assert task["task"]["status"] == "running"

    namespace = twice(adhoc, "containerd_namespace", "name={ns} labels=team=ops,tier=web")
    assert namespace["namespace"]["labels"] == {"team": "ops", "tier": "web"}

    status, found = adhoc("containerd_container_info", "name=%s,missing-%s namespace={ns} labels=app=shop"
                          % (name, uid))
    assert status == "SUCCESS" and found["changed"] is False, found
    assert [c["name"] for c in found["containers"]] == [name], found

    status, failed = adhoc("containerd_container", "name=%s namespace={ns} command='sleep \"600' image=rig/busybox:1"
                           % name)
    assert status == "FAILED", failed
    assert failed["msg"].startswith("command 'sleep \"600' cannot be split into arguments"), failed["msg"]


def test_a_subprocess_after_an_in_process_module_run_has_its_stdin(containerd, run_module):
    """run_module runs Ansible inside the test worker, and ansible-core 2.21 then marks the worker's stdio
    non-inheritable; conftest gives it back, or a later ansible-playbook of that worker starts without fd 0
    and its workers can die ("Could not detach from stdio: [Errno 9] Bad file descriptor")."""
    result = run_module("containerd_namespace_info", **containerd.module_args())
    assert result.get("failed") is not True, result
    assert [os.get_inheritable(fd) for fd in (0, 1, 2)] == [True, True, True]
    child = subprocess.run(["sh", "-c", "test -e /proc/self/fd/0"], capture_output=True, check=False)
    assert child.returncode == 0, "a child started without its own stdin has no fd 0"
