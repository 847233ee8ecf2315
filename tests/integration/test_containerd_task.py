"""containerd_task against the rig's containerd, for every version of the matrix."""

import os
import time

import pytest

from test_containerd_container import exec_in, info, task

# PID 1 of a container ignores SIGTERM unless it handles it: this one does, and exits at once.
TRAPS_TERM = ["sh", "-c", "trap 'exit 0' TERM; echo started; while true; do sleep 0.2; done"]


@pytest.fixture
def make_container(containerd, run_module, busybox, container_name):
    def _make(command=("sleep", "600"), suffix="main", **extra):
        name = container_name(suffix)
        result = run_module("containerd_container", **containerd.module_args(
            name=name, image="rig/busybox:1", command=list(command), **extra))
        assert result["changed"] is True, result
        return name
    return _make


def wait_task_status(containerd, name, status, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = task(containerd, name)
        if current and current[1] == status:
            return current
        time.sleep(0.1)
    pytest.fail("task %s did not reach %s: %s" % (name, status, task(containerd, name)))


@pytest.mark.smoke
def test_running_is_predicted_applied_and_idempotent(containerd, run_module, make_container, tmp_path, counting_ctr):
    name = make_container(TRAPS_TERM)
    log = tmp_path / "task.log"
    args = containerd.module_args(container=name, log_path=str(log))

    predicted = run_module("containerd_task", check=True, **args)
    assert predicted["changed"] is True, predicted
    assert predicted["actions"] == ["set labels ctrops.containerd/log-uri", "start task %s" % name]
    assert task(containerd, name) is None, "check mode started the task"

    started = run_module("containerd_task", **args)
    assert started["changed"] is True, started
    assert started["actions"] == predicted["actions"]
    pid, status = task(containerd, name)
    assert status == "RUNNING"
    assert started["task"]["pid"] == pid and started["task"]["status"] == "running"
    assert started["task"]["netns"] == "/proc/%d/ns/net" % pid
    assert started["task"]["processes"][0] == pid
    assert started["task"]["log_path"] == str(log)
    assert started["diff"] == {"before": {"status": None}, "after": {"status": "running"},
                               "before_header": "task %s" % name, "after_header": "task %s" % name}

    executable, count = counting_ctr
    again = run_module("containerd_task", **dict(args, executable=executable))
    assert again["changed"] is False, again
    assert again["task"]["pid"] == pid and again["task"]["log_path"] == str(log)
    assert count() == 3, "a no-op run should cost tasks ls + containers info + tasks ps"
    assert run_module("containerd_task", check=True, **args)["changed"] is False

    deadline = time.monotonic() + 5
    while "started" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log.read_text().startswith("started\n")


def test_pause_and_resume_keep_the_pid(containerd, run_module, make_container):
    name = make_container()
    pid = run_module("containerd_task", **containerd.module_args(container=name))["task"]["pid"]
    before = exec_in(containerd, name, "sh", "-c", "echo $PPID").stdout  # a process of the task answers

    paused = run_module("containerd_task", **containerd.module_args(container=name, state="paused"))
    assert paused["changed"] is True and paused["actions"] == ["pause task %s" % name]
    assert task(containerd, name) == (pid, "PAUSED")
    assert paused["task"]["pid"] == pid and paused["task"]["processes"] == [pid]
    assert run_module("containerd_task", **containerd.module_args(container=name, state="paused"))["changed"] is False

    resumed = run_module("containerd_task", **containerd.module_args(container=name))
    assert resumed["actions"] == ["resume task %s" % name]
    assert task(containerd, name) == (pid, "RUNNING"), "resume must keep the PID"
    assert exec_in(containerd, name, "sh", "-c", "echo $PPID").stdout == before


def test_paused_starts_a_task_first_from_any_state(containerd, run_module, make_container):
    name = make_container()
    args = containerd.module_args(container=name, state="paused")

    predicted = run_module("containerd_task", check=True, **args)
    assert predicted["changed"] is True
    assert predicted["actions"] == ["start task %s" % name, "pause task %s" % name]
    assert predicted["task"]["status"] == "paused"
    assert task(containerd, name) is None, "check mode started a task"

    paused = run_module("containerd_task", **args)
    assert paused["changed"] is True and paused["actions"] == predicted["actions"]
    pid = paused["task"]["pid"]
    assert task(containerd, name) == (pid, "PAUSED")
    assert paused["diff"]["before"] == {"status": None} and paused["diff"]["after"] == {"status": "paused"}
    again = run_module("containerd_task", **args)
    assert again["changed"] is False and again["task"]["pid"] == pid

    # A task that was stopped is deleted and started anew, then paused.
    run_module("containerd_task", **containerd.module_args(container=name, state="stopped", signal="SIGKILL"))
    restarted = run_module("containerd_task", **args)
    assert restarted["actions"] == ["delete task %s" % name, "start task %s" % name, "pause task %s" % name]
    assert task(containerd, name)[1] == "PAUSED" and restarted["task"]["pid"] != pid
    # sleep as PID 1 ignores SIGTERM: no timeout to wait for (10 s a version of the test budget).
    gone = run_module("containerd_task", **containerd.module_args(container=name, state="absent", stop_timeout=0))
    assert gone["changed"] is True and task(containerd, name) is None, gone


def test_stop_by_signal_and_by_sigkill_after_timeout(containerd, run_module, make_container):
    polite = make_container(TRAPS_TERM, suffix="polite")
    stubborn = make_container(("sleep", "600"), suffix="stubborn")
    for name in (polite, stubborn):
        run_module("containerd_task", **containerd.module_args(container=name))

    stopped = run_module("containerd_task", **containerd.module_args(container=polite, state="stopped",
                                                                     stop_timeout=20))
    assert stopped["changed"] is True, stopped
    assert stopped["task"]["stopped_by"] == "signal" and stopped["task"]["status"] == "stopped"
    assert task(containerd, polite)[1] == "STOPPED"

    began = time.monotonic()
    killed = run_module("containerd_task", **containerd.module_args(container=stubborn, state="stopped",
                                                                    stop_timeout=1))
    assert killed["task"]["stopped_by"] == "killed", killed
    assert time.monotonic() - began >= 1
    assert task(containerd, stubborn)[1] == "STOPPED"
    again = run_module("containerd_task", **containerd.module_args(container=stubborn, state="stopped"))
    assert again["changed"] is False

    # An exited task is deleted and started afresh by state=running.
    restarted = run_module("containerd_task", **containerd.module_args(container=stubborn))
    assert restarted["actions"] == ["delete task %s" % stubborn, "start task %s" % stubborn]
    assert task(containerd, stubborn)[1] == "RUNNING"


def test_absent_deletes_and_reports_the_exit_status(containerd, run_module, make_container):
    name = make_container(["sh", "-c", "exit 3"])
    run_module("containerd_task", **containerd.module_args(container=name))
    wait_task_status(containerd, name, "STOPPED")
    args = containerd.module_args(container=name, state="absent")

    predicted = run_module("containerd_task", check=True, **args)
    assert predicted["actions"] == ["delete task %s" % name]
    assert task(containerd, name) is not None

    deleted = run_module("containerd_task", **args)
    assert deleted["changed"] is True and deleted["task"]["exit_status"] == 3, deleted
    assert deleted["task"]["status"] is None and task(containerd, name) is None
    assert run_module("containerd_task", **args)["changed"] is False

    # A running task is stopped, then deleted.
    run_module("containerd_task", **containerd.module_args(container=name))  # exits again at once
    other = make_container(TRAPS_TERM, suffix="live")
    run_module("containerd_task", **containerd.module_args(container=other))
    gone = run_module("containerd_task", **containerd.module_args(container=other, state="absent"))
    assert gone["actions"][0].startswith("stop task %s" % other) and gone["actions"][1] == "delete task %s" % other
    assert gone["task"]["exit_status"] == 0 and task(containerd, other) is None


def wait_for_restart_monitor(containerd, name, timeout=15):
    """Kill the task behind the restart monitor's back and wait until the monitor starts it again: its next
    pass is then a full interval (10 s) away."""
    # A monitor pass during the start may have replaced the task: the one to kill is the one running now.
    old_pid = wait_task_status(containerd, name, "RUNNING")[0]
    containerd.ctr_run("tasks", "kill", "--signal", "SIGKILL", name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = task(containerd, name)
        if current and current[1] == "RUNNING" and current[0] != old_pid:
            return
        time.sleep(0.1)
    pytest.fail("the restart monitor did not start task %s again: %s" % (name, task(containerd, name)))


def test_restart_monitor_labels_follow_the_task(containerd, run_module, make_container):
    name = make_container(restart_policy="always")
    run_module("containerd_task", **containerd.module_args(container=name))
    assert info(containerd, name)["Labels"]["containerd.io/restart.status"] == "running"
    # The monitor deletes a task it finds with the wanted status "stopped" that is not stopped yet: stop
    # right after one of its passes, so that none comes between the label and the signal.
    wait_for_restart_monitor(containerd, name)
    stopped = run_module("containerd_task", **containerd.module_args(container=name, state="stopped",
                                                                     stop_timeout=0))
    assert stopped["actions"][0] == "set label containerd.io/restart.status=stopped"
    assert info(containerd, name)["Labels"]["containerd.io/restart.status"] == "stopped"
    assert task(containerd, name)[1] == "STOPPED"
    again = run_module("containerd_task", **containerd.module_args(container=name, state="stopped"))
    assert again["changed"] is False, again


def test_restarted_acts_on_every_run_with_a_new_pid(containerd, run_module, make_container):
    name = make_container(TRAPS_TERM, restart_policy="always")
    args = containerd.module_args(container=name, state="restarted", stop_timeout=5)
    first = run_module("containerd_task", **args)  # no task yet: one is started
    assert first["changed"] is True and first["actions"][-1] == "start task %s" % name, first
    pid, status = task(containerd, name)
    assert status == "RUNNING" and first["task"]["pid"] == pid

    label = "containerd.io/restart.status"
    actions = ["set label %s=stopped" % label, "stop task %s (SIGTERM, SIGKILL after 5s)" % name,
               "delete task %s" % name, "set labels %s" % label, "start task %s" % name]
    predicted = run_module("containerd_task", check=True, **args)
    assert predicted["changed"] is True and predicted["actions"] == actions, predicted
    assert predicted["task"]["status"] == "running" and predicted["task"]["pid"] is None
    assert task(containerd, name) == (pid, "RUNNING"), "check mode restarted the task"

    for _round in range(2):  # a restart is asked for again on every run
        applied = run_module("containerd_task", **args)
        assert applied["changed"] is True and applied["actions"] == actions, applied
        new_pid, status = task(containerd, name)
        assert new_pid != pid and status == "RUNNING" and applied["task"]["pid"] == new_pid
        assert applied["diff"]["before"] == {"status": "running"} and applied["diff"]["after"] == {"status": "running"}
        assert info(containerd, name)["Labels"][label] == "running"
        pid = new_pid

    gone = run_module("containerd_task", **containerd.module_args(container="nosuch", state="restarted"))
    assert gone.get("failed") is True and gone["msg"].startswith("Container nosuch does not exist"), gone


def test_errors_are_clear(containerd, run_module, make_container, tmp_path):
    missing = run_module("containerd_task", **containerd.module_args(container="nosuch"))
    assert missing.get("failed") is True
    assert missing["msg"] == ("Container nosuch does not exist in namespace default: create it first with "
                              "ctrops.containerd.containerd_container.")
    for state in ("stopped", "absent"):  # what a clean-up asks of a container that is gone already
        gone = run_module("containerd_task", **containerd.module_args(container="nosuch", state=state))
        assert gone.get("failed") is not True and gone["changed"] is False, gone
        assert gone["task"]["status"] is None

    name = make_container(["true"])
    gone = run_module("containerd_task", **containerd.module_args(container="nosuch", state="paused"))
    assert gone.get("failed") is True and gone["msg"].startswith("Container nosuch does not exist")

    bad_signal = run_module("containerd_task", **containerd.module_args(container=name, signal="KILLME"))
    assert bad_signal.get("failed") is True and bad_signal["msg"].startswith("Invalid signal 'KILLME'")

    no_dir = run_module("containerd_task", **containerd.module_args(
        container=name, log_path=str(tmp_path / "nope" / "x.log")))
    assert no_dir.get("failed") is True and no_dir["msg"].startswith("The directory of log_path")
    assert not os.path.exists(tmp_path / "nope")
