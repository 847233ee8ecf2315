"""Readiness (containerd_container's ``ready``) and the log's end in results (``log_lines``), against the
rig's containerd: busybox httpd on the host network on a free port of 127.0.0.1, an exec probe that
succeeds after a delay, probes that fail within a short timeout."""

import socket

import pytest

from test_containerd_container import info


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def web(import_image, rig_images):
    return import_image(rig_images["web"])


@pytest.mark.smoke
def test_http_probe_waits_for_the_service(containerd, run_module, web, container_name, tmp_path):
    name, port, log = container_name("web"), free_port(), tmp_path / "web.log"
    # The server starts after a moment, so the first probes are refused.
    command = ["sh", "-c", "echo starting; sleep 0.5; echo serving; exec httpd -f -p 127.0.0.1:%d -h /www" % port]
    args = containerd.module_args(name=name, image=web, command=command, net_host=True, state="running",
                                  log_path=str(log), log_lines=5,
                                  ready=dict(http="/", port=port, interval=0.2, timeout=10))
    predicted = run_module("containerd_container", check=True, **args)
    assert predicted["changed"] is True and info(containerd, name) is None, "check mode changed something"
    target = "http://127.0.0.1:%d/" % port
    assert predicted["ready"] == dict(probe="http", target=target, checked=False, ready=None, attempts=0,
                                      waited=0, last="not probed in check mode")

    first = run_module("containerd_container", **args)
    assert first["changed"] is True and first["actions"][-1] == "start task %s" % name, first
    ready = first["ready"]
    assert ready["checked"] is True and ready["ready"] is True and ready["last"] == "HTTP status 200", ready
    assert ready["attempts"] >= 2 and ready["target"] == target
    assert first["diff"]["before"]["task"] == {"status": None}
    assert first["diff"]["after"]["task"] == {"status": "running"}
    assert first["task"]["log"][:2] == ["starting", "serving"]

    # A no-op confirms readiness only when asked.
    again = run_module("containerd_container", **args)
    assert again["changed"] is False and again["ready"]["checked"] is False, again
    assert "ready.always" in again["ready"]["last"]
    args["ready"]["always"] = True
    confirmed = run_module("containerd_container", **args)
    assert confirmed["changed"] is False and confirmed["ready"]["ready"] is True
    assert confirmed["ready"]["attempts"] == 1

    # A page that is not there: the failure names the status the last probe saw, and the log's end.
    # (2 s: at 0.5 s a loaded machine's only probe could time out before the server answered 404.)
    args["ready"] = dict(http="/nosuch", port=port, interval=0.2, timeout=2, always=True)
    missing = run_module("containerd_container", **args)
    assert missing.get("failed") is True
    assert missing["msg"].startswith("Container %s was not ready within 2 seconds (ready.timeout): the last "
                                     "http probe of http://127.0.0.1:%d/nosuch" % (name, port)), missing["msg"]
    assert "saw HTTP status 404 (expected 200)." in missing["msg"]
    assert missing["msg"].endswith("Its log %s ends: starting | serving" % log)
    assert missing["ready"]["ready"] is False and "Traceback" not in str(missing)


def test_exec_probe_succeeds_after_a_delay(containerd, run_module, busybox, container_name, tmp_path, uid):
    name, log, secret = container_name("exec"), tmp_path / "exec.log", "s3cret-" + uid
    command = ["sh", "-c", "echo one; echo token=$API_TOKEN; sleep 1; touch /tmp/ready; echo three; exec sleep 600"]
    args = containerd.module_args(name=name, image=busybox, command=command, state="running", log_path=str(log),
                                  secret_env={"API_TOKEN": secret}, log_lines=3,
                                  ready=dict(exec=["test", "-f", "/tmp/ready"], interval=0.2, timeout=15))
    first = run_module("containerd_container", **args)
    assert first["changed"] is True, first
    ready = first["ready"]
    assert ready["ready"] is True and ready["last"] == "exit code 0" and ready["target"] == "test -f /tmp/ready"
    assert ready["attempts"] >= 3 and ready["waited"] >= 0.5, ready
    # The secret the task printed is masked in the log lines, as no_log values are everywhere in results.
    assert first["task"]["log"][:2] == ["one", "token=********"] and secret not in str(first), first["task"]
    assert secret in log.read_text()
    del args["log_lines"]
    assert "log" not in run_module("containerd_container", **args)["task"], "log_lines defaults to 0"

    # containerd_task carries the log's end too.
    task = run_module("containerd_task", **containerd.module_args(container=name, log_lines=1))
    assert task["changed"] is False and task["task"]["log"] == ["three"]


def test_failing_probe_names_what_it_saw(containerd, run_module, busybox, container_name, tmp_path):
    name, port, log = container_name("deaf"), free_port(), tmp_path / "deaf.log"
    args = containerd.module_args(name=name, image=busybox, net_host=True, state="running", log_path=str(log),
                                  command=["sh", "-c", "echo no server here; exec sleep 600"],
                                  ready=dict(tcp=port, interval=0.2, timeout=1))
    failed = run_module("containerd_container", **args)
    assert failed.get("failed") is True
    assert failed["msg"] == ("Container %s was not ready within 1 second (ready.timeout): the last tcp probe of "
                             "127.0.0.1:%d (attempt %d) saw connection refused. Its log %s ends: no server here"
                             % (name, port, failed["ready"]["attempts"], log)), failed["msg"]
    assert failed["actions"][-1] == "start task %s" % name and failed["task"]["status"] == "running"

    # An exec probe whose command fails says its exit code and output.
    failed = run_module("containerd_container", **dict(args, ready=dict(
        exec=["sh", "-c", "echo not yet >&2; exit 3"], interval=0.2, timeout=0.5, always=True)))
    assert failed.get("failed") is True and failed["changed"] is False
    assert 'saw exit code 3 with output "not yet".' in failed["msg"], failed["msg"]


def test_bad_ready_input_is_one_sentence_before_any_change(containerd, run_module, busybox, container_name):
    name = container_name("bad")
    base = containerd.module_args(name=name, image=busybox, command=["sleep", "600"], state="running")
    cases = [
        (dict(ready=dict(tcp=80, http="/")),
         "ready takes one probe, not tcp and http: keep one of them."),
        (dict(ready=dict(interval=1)),
         "ready needs one probe: exec (a command), tcp (a port) or http (a path or URL)."),
        (dict(ready=dict(tcp=80)),
         "Container %s has no address to probe from the host: set net_host, join with network_from a container "
         "attached with ctrops.containerd.cni_network, give ready.host, or use an exec probe." % name),
        (dict(ready=dict(exec=["true"]), state="present"),
         "ready waits until a running task answers: it takes state=running or restarted, not state=present."),
        (dict(ready=dict(tcp=70000, host="127.0.0.1")),
         "ready.tcp must be a port number from 1 to 65535, not 70000."),
        (dict(log_lines=-1), "log_lines must be 0 or more lines."),
    ]
    for extra, message in cases:
        result = run_module("containerd_container", **dict(base, **extra))
        assert result.get("failed") is True and result["msg"] == message, result
        assert result["actions"] == [] and "Traceback" not in str(result)
    assert info(containerd, name) is None


def test_stack_entries_wait_too(containerd, run_module, busybox, container_name, uid):
    name = container_name("stacked")
    entry = dict(name=name, image=busybox, state="running",
                 command=["sh", "-c", "sleep 0.5; touch /tmp/up; exec sleep 600"],
                 ready=dict(exec=["test", "-f", "/tmp/up"], interval=0.2, timeout=15))
    result = run_module("containerd_stack", **containerd.module_args(name="ready-" + uid, containers=[entry]))
    assert result["changed"] is True, result
    assert result["containers"][0]["ready"]["ready"] is True and result["containers"][0]["status"] == "running"
