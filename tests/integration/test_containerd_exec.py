"""containerd_exec against the rig's containerd, for every version of the matrix."""

import hashlib
import json
import uuid

import pytest

from test_containerd_container import task
from test_containerd_image import ProcScanner


@pytest.fixture
def running(containerd, run_module, busybox, container_name):
    name = container_name()
    run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", command=["sleep", "600"]))
    run_module("containerd_task", **containerd.module_args(container=name))
    return name


@pytest.mark.smoke
def test_exec_returns_rc_stdout_stderr(containerd, run_module, running, counting_ctr):
    executable, count = counting_ctr
    result = run_module("containerd_exec", **containerd.module_args(
        container=running, command="sh -c 'echo out; echo err >&2; pwd; id -u; echo $MODE'",
        cwd="/tmp", user="65534", env={"MODE": "x y"}, executable=executable))
    assert result.get("failed") is not True, result
    assert result["changed"] is True and result["rc"] == 0
    assert result["stdout_lines"] == ["out", "/tmp", "65534", "x y"]
    assert result["stderr"] == "err"
    assert result["exec_id"].startswith("ansible-")
    assert count() == 2, "the exec and, for a bare UID, the task listing that finds its /etc/passwd"

    second = run_module("containerd_exec", **containerd.module_args(container=running, argv=["true"]))
    assert second["exec_id"] != result["exec_id"], "every run gets a new exec id"

    fed = run_module("containerd_exec", **containerd.module_args(container=running, argv=["cat"], stdin="hello"))
    assert fed["stdout"] == "hello"


def test_a_named_user_leaves_the_container_writable(containerd, run_module, running, counting_ctr, tmp_path):
    """ctr's own look-up of a name (or bare UID) mounts the snapshot again, and on 1.6 the container then
    refuses new files: the module gives ctr uid:gid from the container's /etc/passwd instead."""
    executable, count = counting_ctr
    as_nobody = run_module("containerd_exec", **containerd.module_args(
        container=running, argv=["sh", "-c", 'test "$(id -u):$(id -g)" = 65534:65534'], user="nobody",
        executable=executable))
    assert as_nobody.get("failed") is not True and as_nobody["rc"] == 0, as_nobody
    calls = (tmp_path / "ctr-calls").read_text()
    assert "tasks exec --exec-id %s --user 65534:65534 --" % as_nobody["exec_id"] in calls, calls
    assert count() == 2
    written = run_module("containerd_exec", **containerd.module_args(
        container=running, argv=["sh", "-c", "echo x > /tmp/after-user && test -s /tmp/after-user"]))
    assert written.get("failed") is not True and written["rc"] == 0, written

    numeric = run_module("containerd_exec", **containerd.module_args(
        container=running, argv=["true"], user="65534:65534", executable=executable))
    assert numeric["rc"] == 0 and count() == 1, "uid:gid needs no look-up"

    unknown = run_module("containerd_exec", **containerd.module_args(container=running, argv=["true"], user="nosuch"))
    assert unknown.get("failed") is True
    assert unknown["msg"] == ("The user nosuch is not in the container's /etc/passwd: give a name it knows or "
                              "a number.")


def test_non_zero_rc_fails_unless_told(containerd, run_module, running):
    args = containerd.module_args(container=running, argv=["sh", "-c", "echo partial; exit 3"])
    failed = run_module("containerd_exec", **args)
    assert failed.get("failed") is True
    assert failed["rc"] == 3 and failed["stdout"] == "partial"
    assert failed["msg"] == ("The command exited with code 3 in container %s (set check_rc=false to accept it)."
                             % running)
    accepted = run_module("containerd_exec", check_rc=False, **args)
    assert accepted.get("failed") is not True and accepted["rc"] == 3


def test_errors_are_clear(containerd, run_module, running, container_name, busybox):
    no_binary = run_module("containerd_exec", **containerd.module_args(container=running, argv=["nosuchcmd"]))
    assert no_binary.get("failed") is True
    assert no_binary["msg"].startswith("Could not run nosuchcmd in container %s: " % running), no_binary["msg"]

    idle = container_name("idle")
    run_module("containerd_container", **containerd.module_args(name=idle, image="rig/busybox:1"))
    no_task = run_module("containerd_exec", **containerd.module_args(container=idle, argv=["true"]))
    assert no_task.get("failed") is True
    assert no_task["msg"].startswith("Container %s has no running task in namespace default" % idle), no_task["msg"]
    assert task(containerd, idle) is None

    both = run_module("containerd_exec", **containerd.module_args(container=running, argv=["true"], command="true"))
    assert both.get("failed") is True and "mutually exclusive" in both["msg"]


def test_secret_env_stays_out_of_argv_and_results(containerd, run_module, running):
    secret = "s3cr3t-" + uuid.uuid4().hex
    with ProcScanner(secret) as scanner:
        # sleep: ctr tasks exec stays alive long enough for the scanner to see it at work.
        result = run_module("containerd_exec", **containerd.module_args(
            container=running, argv=["sh", "-c", 'sleep 1; printf %s "$TOKEN" | md5sum; echo "$MODE"; cat'],
            env={"MODE": "plain"}, secret_env={"TOKEN": secret}, stdin="after"))
    assert scanner.ctr_scans > 0, "the scanner never saw ctr running"
    assert scanner.outside_containers() == [], "the secret appeared in %s" % scanner.found
    assert result.get("failed") is not True, result
    assert result["stdout_lines"] == [hashlib.md5(secret.encode()).hexdigest() + "  -", "plain", "after"]
    text = json.dumps(result)
    assert secret not in text and "********" not in text


def test_secret_env_errors_keep_the_value_out(containerd, run_module, running):
    secret = "s3cr3t-" + uuid.uuid4().hex
    missing = run_module("containerd_exec", **containerd.module_args(
        container=running, argv=["nosuchcmd"], secret_env={"TOKEN": secret}))
    assert missing.get("failed") is True and missing["rc"] == 127 and "nosuchcmd" in missing["stderr"], missing
    no_task = run_module("containerd_exec", **containerd.module_args(
        container="nosuch", argv=["true"], secret_env={"TOKEN": secret}))
    assert no_task.get("failed") is True and no_task["msg"].startswith("Container nosuch has no running task")
    assert "cmd" in no_task, no_task
    for result in (missing, no_task):
        assert secret not in json.dumps(result) and "********" not in json.dumps(result)
    both = run_module("containerd_exec", **containerd.module_args(
        container=running, argv=["true"], env={"A": "1"}, secret_env={"A": secret}))
    assert both.get("failed") is True
    assert both["msg"] == "Variable A is in both env and secret_env: keep it in one of them."
