"""containerd_container against the rig's containerd, for every version of the matrix."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import netns
from conftest import remove_container
from test_cni_network import http_get, net_1_1  # noqa: F401  # pylint: disable=unused-import
from test_containerd_image import ProcScanner


def info(containerd, name):
    result = containerd.ctr_run("containers", "info", name, check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def task(containerd, name):
    """(pid, status) of a container's task as the tests' own ctr sees it, or None."""
    for line in containerd.ctr_run("tasks", "ls").stdout.splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == name:
            return int(fields[1]), fields[2]
    return None


def file_in(containerd, name, path):
    """A file as the running task of ``name`` sees it, read through its /proc root: ``ctr tasks exec`` of 2.1 can
    drop a short command's output."""
    with open("/proc/%d/root%s" % (task(containerd, name)[0], path)) as handle:
        return handle.read()


def start(containerd, name):
    containerd.ctr_run("tasks", "start", "--detach", "--null-io", name)
    return task(containerd, name)[0]


def exec_in(containerd, name, *argv, check=True):
    """``argv`` run in the task of ``name``. A checked run that printed nothing runs again (twice at most): ctr 2.1's
    ``tasks exec`` can drop a short command's output (containerd PR 13931); every checked caller's command is safe
    to run again."""
    for _attempt in range(3):
        result = containerd.ctr_run("tasks", "exec", "--exec-id", "t%d" % time.monotonic_ns(), "--", name, *argv,
                                    check=check)
        if not check or result.stdout:
            return result
    return result


def task_mode_is(containerd, name, mode):
    """Whether the running task of ``name`` has MODE=``mode`` in its environment. Answered by the exit code:
    ctr 2.1's ``tasks exec`` can drop a short command's output (containerd PR 13931 fixed it later)."""
    return exec_in(containerd, name, "sh", "-c", 'test "$MODE" = "%s"' % mode, check=False).returncode == 0


@pytest.mark.smoke
def test_create_is_predicted_applied_and_idempotent(containerd, run_module, busybox, container_name, counting_ctr):
    name = container_name()
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"],
                                  env={"MODE": "test"}, cwd="/tmp", labels={"team": "web"})

    predicted = run_module("containerd_container", check=True, **args)
    assert predicted["changed"] is True, predicted
    assert predicted["actions"] == ["create container %s" % name]
    assert info(containerd, name) is None, "check mode created the container"

    created = run_module("containerd_container", **args)
    assert created["changed"] is True, created
    container = created["container"]
    assert container["image"] == "docker.io/rig/busybox:1"
    assert container["command"] == ["sleep", "600"]
    assert container["env"] == {"PATH": "/bin", "MODE": "test"}
    assert container["cwd"] == "/tmp"
    assert container["labels"]["team"] == "web"
    assert container["task"] is None
    assert created["diff"]["before"] == {"exists": False}
    assert created["diff"]["after"]["command"] == ["sleep", "600"]
    spec = info(containerd, name)["Spec"]
    assert spec["process"]["args"] == ["sleep", "600"] and "MODE=test" in spec["process"]["env"]

    executable, count = counting_ctr
    again = run_module("containerd_container", **dict(args, executable=executable))
    assert again["changed"] is False, again
    assert again["actions"] == []
    assert again["diff"]["after"] == dict((key, value) for key, value in created["container"].items()
                                          if key not in ("name", "task")), "the no-op reads what was created"
    assert again["diff"]["before"] == again["diff"]["after"]
    assert count() == 2, "a no-op run should cost containers info + tasks ls"
    assert run_module("containerd_container", check=True, **args)["changed"] is False


def test_each_managed_field_change_recreates(containerd, run_module, busybox, import_image, rig_images,
                                             container_name, tmp_path):
    import_image(rig_images["web"])
    name = container_name()
    base = dict(name=name, image="rig/busybox:1", command=["sleep", "600"])
    steps = [
        ("command", dict(command=["sleep", "700"])),
        ("env.MODE", dict(env={"MODE": "a"})),
        ("cwd", dict(cwd="/tmp")),
        ("mounts./data", dict(mounts=[{"source": str(tmp_path), "destination": "/data"}])),
        ("read_only", dict(read_only=True)),
        ("memory_limit", dict(memory_limit="64m")),
        ("cpu_quota", dict(cpu_quota=50000, cpu_period=100000)),
        ("net_host", dict(net_host=True)),
        ("privileged", dict(privileged=True)),
        ("restart_policy", dict(restart_policy="always")),
        ("image", dict(image="rig/web:1")),
    ]
    run_module("containerd_container", **containerd.module_args(**base))
    for step, (field, change) in enumerate(steps):
        args = containerd.module_args(**dict(base, **change))
        if step < 2:
            predicted = run_module("containerd_container", check=True, **args)
            assert predicted["changed"] is True and field in predicted["differences"], (field, predicted)
        changed = run_module("containerd_container", **args)
        assert changed["changed"] is True, (field, changed)
        assert field in changed["differences"], (field, changed["differences"])
        assert changed["actions"] == ["delete container %s" % name, "create container %s" % name]
        base = dict(base, **change)
    last = run_module("containerd_container", **containerd.module_args(**base))
    assert last["changed"] is False, last
    spec = info(containerd, name)["Spec"]
    assert spec["root"].get("readonly") is True
    assert spec["linux"]["resources"]["memory"]["limit"] == 64 * 1024 * 1024
    assert "network" not in [ns["type"] for ns in spec["linux"]["namespaces"]]
    # Removing an option is a change as well (the options digest notices what the spec cannot show).
    removed = run_module("containerd_container", **containerd.module_args(**dict(base, env=None)))
    assert removed["changed"] is True and "options" in removed["differences"]


def test_labels_change_in_place(containerd, run_module, busybox, container_name):
    name = container_name()
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"])
    created = run_module("containerd_container", **dict(args, labels={"a": "1"}))["container"]["created"]
    relabelled = run_module("containerd_container", **dict(args, labels={"a": "2", "b": "x"}))
    assert relabelled["changed"] is True
    assert relabelled["actions"] == ["set labels a, b"]
    assert relabelled["container"]["created"] == created, "a label change must not recreate"
    assert info(containerd, name)["Labels"]["a"] == "2"


def test_change_outside_ansible_is_detected(containerd, run_module, busybox, container_name):
    name = container_name()
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"], env={"MODE": "a"})
    run_module("containerd_container", **args)
    # Someone recreates it by hand with another environment (and without this collection's labels).
    containerd.ctr_run("containers", "delete", name)
    containerd.ctr_run("containers", "create", "--env", "MODE=b", "--", busybox, name, "sleep", "600")
    detected = run_module("containerd_container", **args)
    assert detected["changed"] is True
    assert detected["differences"] == ["env.MODE"]
    assert "MODE=a" in info(containerd, name)["Spec"]["process"]["env"]

    # A container made by hand exactly as asked is adopted as it is.
    other = container_name("hand")
    containerd.ctr_run("containers", "create", "--", busybox, other, "sleep", "600")
    adopted = run_module("containerd_container",
                         **containerd.module_args(name=other, image="rig/busybox:1", command=["sleep", "600"]))
    assert adopted["changed"] is False, adopted


def test_running_task_survives_noop_and_is_restarted_by_recreate(containerd, run_module, busybox, container_name):
    name = container_name()
    # sleep as PID 1 ignores SIGTERM: the recreate ends it with SIGKILL after stop_timeout.
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"], stop_timeout=1)
    run_module("containerd_container", **args)
    pid = start(containerd, name)

    noop = run_module("containerd_container", **args)
    assert noop["changed"] is False
    assert noop["container"]["task"] == {"pid": pid, "status": "running"}
    assert task(containerd, name) == (pid, "RUNNING")

    predicted = run_module("containerd_container", check=True, **dict(args, env={"MODE": "new"}))
    assert predicted["actions"] == ["stop task %s" % name, "delete task %s" % name, "delete container %s" % name,
                                    "create container %s" % name, "start task %s" % name]
    assert task(containerd, name) == (pid, "RUNNING"), "check mode touched the task"

    recreated = run_module("containerd_container", **dict(args, env={"MODE": "new"}))
    assert recreated["changed"] is True, recreated
    assert recreated["actions"] == predicted["actions"]
    new_pid, status = task(containerd, name)
    assert status == "RUNNING" and new_pid != pid
    assert recreated["container"]["task"] == {"pid": new_pid, "status": "running"}
    assert task_mode_is(containerd, name, "new")


def test_absent_with_running_task_needs_force(containerd, run_module, busybox, container_name):
    name = container_name()
    run_module("containerd_container",
               **containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"]))
    pid = start(containerd, name)
    args = containerd.module_args(name=name, state="absent", stop_timeout=1)

    refused = run_module("containerd_container", **args)
    assert refused.get("failed") is True
    assert refused["msg"] == ("Container %s has a running task (pid %d): stop it first (ctrops.containerd."
                              "containerd_task state=absent) or set force=true to stop and delete it with the "
                              "container." % (name, pid))
    assert task(containerd, name) == (pid, "RUNNING")

    predicted = run_module("containerd_container", check=True, force=True, **args)
    assert predicted["actions"] == ["stop task %s" % name, "delete task %s" % name, "delete container %s" % name]
    forced = run_module("containerd_container", force=True, **args)
    assert forced["changed"] is True, forced
    assert forced["actions"] == predicted["actions"]
    assert forced["diff"]["after"] == {"exists": False}
    assert info(containerd, name) is None and task(containerd, name) is None
    assert not os.path.exists("/proc/%d" % pid)
    assert run_module("containerd_container", **args)["changed"] is False


def test_shared_network_and_pid_namespaces(containerd, run_module, import_image, rig_images, container_name):
    """The notes' example: a web server and a client in its network namespace talk over localhost."""
    import_image(rig_images["web"])
    import_image(rig_images["busybox"])
    web, client, peer = container_name("web"), container_name("client"), container_name("peer")
    run_module("containerd_container", **containerd.module_args(name=web, image="rig/web:1"))
    refused = run_module("containerd_container", **containerd.module_args(
        name=client, image="rig/busybox:1", command=["sleep", "600"], network_from=web))
    assert refused.get("failed") is True
    assert refused["msg"].startswith("Container %s has no running task whose network namespace could be shared"
                                     % web), refused["msg"]
    web_pid = start(containerd, web)

    net_args = containerd.module_args(name=client, image="rig/busybox:1", command=["sleep", "600"],
                                      network_from=web)
    pid_args = containerd.module_args(name=peer, image="rig/busybox:1", command=["sleep", "600"], pid_from=web)
    created = run_module("containerd_container", **net_args)
    assert created["changed"] is True, created
    assert created["container"]["network_from"] == web
    assert run_module("containerd_container", **pid_args)["container"]["pid_from"] == web
    start(containerd, client)
    start(containerd, peer)
    page = exec_in(containerd, client, "wget", "-q", "-O", "-", "http://127.0.0.1/").stdout
    assert "ctrops rig web" in page
    assert "httpd" in exec_in(containerd, peer, "ps").stdout
    assert "httpd" not in exec_in(containerd, client, "ps").stdout
    assert run_module("containerd_container", **net_args)["changed"] is False
    assert run_module("containerd_container", **pid_args)["changed"] is False

    # The web task starts again with another PID. The client still runs in the namespace it joined:
    # compared by name, it is unchanged. The peer's task died with web's PID namespace: its stale
    # namespace path is refreshed by a recreate.
    containerd.ctr_run("tasks", "kill", "--signal", "SIGKILL", web)
    remove_container(containerd, web)
    run_module("containerd_container", **containerd.module_args(name=web, image="rig/web:1"))
    assert start(containerd, web) != web_pid
    assert run_module("containerd_container", **net_args)["changed"] is False
    refreshed = run_module("containerd_container", **pid_args)
    assert refreshed["changed"] is True and refreshed["differences"] == ["pid_from"], refreshed
    start(containerd, peer)
    assert "httpd" in exec_in(containerd, peer, "ps").stdout


def test_bind_mount_rw_and_net_host(containerd, run_module, busybox, container_name, tmp_path):
    name = container_name()
    run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", command=["sleep", "600"], net_host=True,
        mounts=[{"source": str(tmp_path), "destination": "/data"}]))
    start(containerd, name)
    exec_in(containerd, name, "sh", "-c", "echo from-container > /data/out")
    assert (tmp_path / "out").read_text() == "from-container\n"
    host_links = sorted(os.listdir("/sys/class/net"))
    seen = exec_in(containerd, name, "ls", "/sys/class/net").stdout.split()
    assert sorted(seen) == host_links


def test_restart_policy_brings_the_task_back(containerd, run_module, busybox, container_name):
    """containerd's restart monitor starts the task again when containerd comes back and finds it gone."""
    name = container_name()
    run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", command=["sleep", "600"], restart_policy="always"))
    labels = info(containerd, name)["Labels"]
    assert labels["containerd.io/restart.status"] == "stopped", "not started before containerd_task says so"
    pid = start(containerd, name)
    containerd.ctr_run("containers", "label", name, "containerd.io/restart.status=running")
    containerd.kill_daemon()
    try:
        os.kill(pid, 9)
    finally:
        containerd.restart()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        current = task(containerd, name)
        if current and current[1] == "RUNNING" and current[0] != pid:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the restart monitor did not start the task again: %s" % (task(containerd, name),))

    # A recreate tells the monitor first, so it does not start the old task again while it goes.
    recreated = run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", command=["sleep", "600"], restart_policy="always", env={"A": "1"},
        stop_timeout=1))
    label = "containerd.io/restart.status"
    assert recreated["actions"] == ["set label %s=stopped" % label, "stop task %s" % name, "delete task %s" % name,
                                    "delete container %s" % name, "create container %s" % name,
                                    "set label %s=running" % label, "start task %s" % name], recreated
    assert task(containerd, name)[1] == "RUNNING"
    assert info(containerd, name)["Labels"][label] == "running"


def test_restart_policy_needs_containerd_17_for_policies(containerd, run_module, busybox, container_name):
    name = container_name()
    result = run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", command=["sleep", "600"], restart_policy="on-failure"))
    if containerd.version == "1.6":
        assert result.get("failed") is True
        assert result["msg"].startswith("restart_policy=on-failure needs containerd 1.7 or later"), result["msg"]
        assert info(containerd, name) is None
    else:
        assert result["changed"] is True, result
        assert info(containerd, name)["Labels"]["containerd.io/restart.policy"] == "on-failure"


def test_user_and_hostname(containerd, run_module, busybox, container_name):
    name = container_name()
    result = run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", command=["sleep", "600"], user="65534:65534", hostname="box"))
    if containerd.version == "1.6":
        assert result.get("failed") is True
        assert "has no --user, --hostname for containers create" in result["msg"] and "containerd 1.6 lacks --user, --hostname" in result["msg"], result
        return
    assert result["changed"] is True, result
    assert result["container"]["user"] == "65534:65534" and result["container"]["hostname"] == "box"
    again = run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", command=["sleep", "600"], user="65534:65534", hostname="box"))
    assert again["changed"] is False


def test_errors_are_clear(containerd, run_module, busybox, container_name, tmp_path):
    name = container_name()
    missing = run_module("containerd_container", **containerd.module_args(name=name, image="rig/nope:1"))
    assert missing.get("failed") is True
    assert missing["msg"] == ("Image docker.io/rig/nope:1 is not in containerd (namespace default): pull or import "
                              "it first, for example with a ctrops.containerd.containerd_image task (name: "
                              "docker.io/rig/nope:1) before this one.")
    # A dry run of a play whose image task would pull first: the create is predicted, with a warning.
    dry = run_module("containerd_container", check=True, **containerd.module_args(
        name=name, image="rig/nope:1", state="running"))
    assert dry.get("failed") is not True and dry["changed"] is True, dry
    assert dry["actions"] == ["create container %s" % name, "start task %s" % name], dry
    assert any("is not in containerd" in w and "check mode" in w for w in dry.get("warnings", [])), dry
    assert containerd.ctr_run("containers", "ls", "-q").stdout.split().count(name) == 0

    no_source = run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", mounts=[{"source": str(tmp_path / "nope"), "destination": "/x"}]))
    assert no_source.get("failed") is True
    assert no_source["msg"].startswith("Mount source %s (for /x) does not exist on the host" % (tmp_path / "nope"))

    bad_signal = run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", stop_signal="TERMINATE"))
    assert bad_signal.get("failed") is True and bad_signal["msg"].startswith("Invalid signal 'TERMINATE'")

    assert info(containerd, name) is None
    run_module("containerd_container", **containerd.module_args(name=name, image="rig/busybox:1"))
    locked = run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", command=["true"], recreate=False))
    assert locked.get("failed") is True
    assert locked["msg"].startswith("Container %s exists with another spec (command: wanted ['true']" % name)
    assert locked["differences"] == ["command"]
    other_image = run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/other:1", recreate=False))
    assert other_image.get("failed") is True
    assert other_image["msg"].startswith("Container %s exists with another spec (image: wanted "
                                         "'docker.io/rig/other:1', found 'docker.io/rig/busybox:1')" % name)

    down = run_module("containerd_container", **containerd.module_args(
        name=name, image="rig/busybox:1", address=str(tmp_path / "missing.sock")))
    assert down.get("failed") is True and "the socket does not exist" in down["msg"]


def test_every_option_reads_back_as_created(containerd, run_module, busybox, container_name, tmp_path,
                                            counting_ctr):
    """A container made with every spec option the version has reads back equal: the check-mode
    prediction matches the result, and the next run is a no-op of two ctr calls."""
    import shutil
    name = container_name()
    args = dict(name=name, image="rig/busybox:1", command=["sleep", "600"], env={"MODE": "all"},
                secret_env={"TOKEN": "all-secret"}, cwd="/tmp",
                mounts=[{"source": str(tmp_path), "destination": "/data", "options": ["rbind", "ro"]}],
                privileged=True, read_only=True, snapshotter="overlayfs", memory_limit="64m",
                cpu_quota=50000, cpu_period=100000, restart_policy="always", labels={"team": "all"})
    if containerd.version != "1.6":
        args.update(user="65534:65534", hostname="all", runtime_binary=shutil.which("runc"))
    args = containerd.module_args(**args)
    predicted = run_module("containerd_container", check=True, **args)["container"]
    created = run_module("containerd_container", **args)
    assert created["changed"] is True, created
    for field, value in predicted.items():
        if field not in ("created", "env", "labels") and value is not None:  # None: the image's default
            assert created["container"][field] == value, field
    assert created["container"]["env"]["MODE"] == "all" and created["container"]["labels"]["team"] == "all"
    executable, count = counting_ctr
    again = run_module("containerd_container", **dict(args, executable=executable))
    assert again["changed"] is False, again
    assert count() == 2


# -- secrets ---------------------------------------------------------------------------------------------

def env_dirs():
    import glob
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "ctrops-env-*")))


def test_secret_env_stays_out_of_argv_results_and_failures(containerd, run_module, busybox, container_name):
    name = container_name()
    secret, other = "s3cr3t-" + uuid.uuid4().hex, "0th3r-" + uuid.uuid4().hex
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"],
                                  env={"MODE": "plain"}, secret_env={"TOKEN": secret})
    dirs = env_dirs()
    with ProcScanner(secret) as scanner:
        created = run_module("containerd_container", **args)
        again = run_module("containerd_container", **args)
    assert created["changed"] is True and again["changed"] is False, (created, again)
    assert scanner.ctr_scans > 0, "the scanner never saw ctr running"
    assert scanner.outside_containers() == [], "the secret appeared in %s" % scanner.found
    spec_env = info(containerd, name)["Spec"]["process"]["env"]
    assert "TOKEN=" + secret in spec_env and "MODE=plain" in spec_env
    for result in (created, again):
        text = json.dumps(result)
        assert secret not in text and "********" not in text, "values are left out, not masked"
        assert result["container"]["secret_env"] == ["TOKEN"] and "TOKEN" not in result["container"]["env"]
    assert env_dirs() <= dirs, "the env file's directory was left behind"

    changed = dict(args, secret_env={"TOKEN": other})
    refused = run_module("containerd_container", **dict(changed, recreate=False))
    assert refused.get("failed") is True
    assert refused["msg"] == ("Container %s exists with another spec (secret_env.TOKEN: wanted '(hidden)', "
                              "found '(hidden)') and recreate=false: remove it first or set recreate=true." % name)
    with ProcScanner(other) as scanner:
        recreated = run_module("containerd_container", **changed)
    assert scanner.ctr_scans > 0 and scanner.outside_containers() == [], scanner.found
    assert recreated["changed"] is True and recreated["differences"] == ["secret_env.TOKEN"], recreated
    assert "TOKEN=" + other in info(containerd, name)["Spec"]["process"]["env"]
    for text in (json.dumps(refused), json.dumps(recreated)):
        assert secret not in text and other not in text and "********" not in text

    # A create that fails (an unknown snapshotter) shows neither the values nor the file in its output.
    broken = run_module("containerd_container", **dict(args, name=container_name("broken"),
                                                       snapshotter="nosuch"))
    assert broken.get("failed") is True and broken["msg"], broken
    assert secret not in json.dumps(broken) and "--env-file" in broken["cmd"], broken
    assert env_dirs() <= dirs, "the env file's directory was left behind after a failure"
    bad = run_module("containerd_container", **dict(args, secret_env={"TOKEN": "a\nb"}))
    assert bad.get("failed") is True and "a value with a line break" in bad["msg"]


# -- daemon faults -------------------------------------------------------------------------------------

class SilentDaemon(threading.Thread):
    """A unix socket that accepts connections and never answers (a hung containerd)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        self.server.listen(16)
        self.server.settimeout(0.1)  # so that run() sees stop() at once
        self.held = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                self.held.append(self.server.accept()[0])
            except socket.timeout:
                pass

    def stop(self):
        self.stopped.set()
        self.join(5)
        self.server.close()
        for conn in self.held:
            conn.close()


def test_a_daemon_that_never_answers_fails_within_timeout(containerd, run_module, tmp_path):
    path = str(tmp_path / "silent.sock")
    daemon = SilentDaemon(path)
    daemon.start()
    try:
        began = time.monotonic()
        result = run_module("containerd_container", **dict(containerd.module_args(
            name="c-silent", image="rig/busybox:1"), address=path, timeout=3))
        took = time.monotonic() - began
    finally:
        daemon.stop()
    assert result.get("failed") is True, result
    assert result["msg"] == ("containerd at %s accepted the connection but did not answer within 3 seconds "
                             "(option timeout): check that the daemon is healthy (its log, a restart of the "
                             "service) or raise timeout." % path)
    assert took < 9, "took %.1f s: ctr 1.6 waits 10 s to dial unless told" % took


def test_a_daemon_restarted_between_tasks_serves_the_next_one(containerd, run_module, busybox, container_name):
    name = container_name()
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"])
    assert run_module("containerd_container", **args)["changed"] is True
    assert run_module("containerd_task", **containerd.module_args(container=name))["changed"] is True
    pid = task(containerd, name)[0]
    containerd.restart()
    again = run_module("containerd_container", **args)
    assert again.get("failed") is not True and again["changed"] is False, again
    task_again = run_module("containerd_task", **containerd.module_args(container=name))
    assert task_again.get("failed") is not True and task_again["changed"] is False, task_again
    assert task(containerd, name) == (pid, "RUNNING")


# -- interrupted work -----------------------------------------------------------------------------------

def interrupting_ctr(containerd, tmp_path, when, how):
    """A ctr that ends the module run when it is called for ``when`` (a subcommand): ``fail`` makes ctr
    fail, ``kill`` kills the module (ctr's parent) as a lost connection or a killed play would."""
    wrapper = tmp_path / ("ctr-%s" % how)
    action = ('echo "ctr: simulated interruption" >&2; exit 1' if how == "fail" else "kill -KILL $PPID; exit 1")
    wrapper.write_text('#!/bin/sh\ncase "$*" in *"%s"*) %s;; esac\nexec %s "$@"\n' % (when, action, containerd.ctr))
    wrapper.chmod(0o755)
    return str(wrapper)


def test_an_interrupted_recreate_is_repaired_by_the_next_run(containerd, run_module, busybox, container_name,
                                                             tmp_path, monkeypatch):
    name = container_name()
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"], stop_timeout=0)
    run_module("containerd_container", **args)
    start(containerd, name)

    # Interrupted between the delete of the old container and the create of the new one.
    first = dict(args, env={"MODE": "one"})
    failed = run_module("containerd_container", **dict(
        first, executable=interrupting_ctr(containerd, tmp_path, "containers create", "fail")))
    assert failed.get("failed") is True
    assert failed["msg"] == ("Container %s was removed to be recreated, but creating it again failed: simulated "
                             "interruption. The next run creates it and starts its task again." % name)
    assert info(containerd, name) is None and task(containerd, name) is None
    repaired = run_module("containerd_container", **first)
    assert repaired["changed"] is True, repaired
    assert repaired["actions"] == ["create container %s" % name, "start task %s" % name]
    assert task(containerd, name)[1] == "RUNNING"
    assert task_mode_is(containerd, name, "one")

    # The run killed after the new container was made, before its task started.
    second = dict(args, env={"MODE": "two"})
    # A killed module leaves its AnsiballZ payload directory behind: in this test's directory, not in /tmp.
    with monkeypatch.context() as scoped:
        scoped.setenv("TMPDIR", str(tmp_path))
        killed = run_module("containerd_container", **dict(
            second, executable=interrupting_ctr(containerd, tmp_path, "tasks start", "kill")))
    assert list(tmp_path.glob("ansible_*_payload_*")), "the killed run's payload should be under the test's TMPDIR"
    assert killed.get("failed") is True
    assert info(containerd, name) is not None and task(containerd, name) is None
    repaired = run_module("containerd_container", **second)
    assert repaired["changed"] is True and repaired["actions"] == ["start task %s" % name], repaired
    assert task(containerd, name)[1] == "RUNNING"
    assert task_mode_is(containerd, name, "two")
    done = run_module("containerd_container", **second)
    assert done["changed"] is False, done
    assert "restore-task" not in containerd.ctr_run("namespaces", "ls").stdout
    assert "ctrops.containerd/restore-task" not in info(containerd, name)["Labels"]

    # A container removed after an interrupted recreate: its record goes too, no later create starts a task.
    run_module("containerd_container", **dict(
        args, executable=interrupting_ctr(containerd, tmp_path, "containers create", "fail")))
    assert "restore-task" in containerd.ctr_run("namespaces", "ls").stdout
    assert run_module("containerd_container", **dict(args, state="absent")).get("failed") is not True
    assert "restore-task" not in containerd.ctr_run("namespaces", "ls").stdout


# -- task states: a running container in one task ---------------------------------------------------

# PID 1 handles SIGTERM (exits at once) and writes to its stdout (the log file).
TRAPS_TERM = ["sh", "-c", "trap 'exit 0' TERM; echo started; while true; do sleep 0.2; done"]


def test_running_creates_and_starts_in_one_task(containerd, run_module, busybox, container_name, tmp_path,
                                                counting_ctr):
    name = container_name()
    log = tmp_path / "web.log"
    args = containerd.module_args(name=name, image="rig/busybox:1", command=TRAPS_TERM, state="running",
                                  log_path=str(log))

    predicted = run_module("containerd_container", check=True, **args)
    assert predicted["changed"] is True, predicted
    assert predicted["actions"] == ["create container %s" % name, "start task %s" % name]
    assert predicted["task"]["status"] == "running" and predicted["task"]["pid"] is None
    assert predicted["diff"]["before"] == {"exists": False, "task": {"status": None}}
    assert predicted["diff"]["after"]["task"] == {"status": "running"}
    assert info(containerd, name) is None and task(containerd, name) is None, "check mode changed something"

    started = run_module("containerd_container", **args)
    assert started["changed"] is True, started
    assert started["actions"] == predicted["actions"]
    pid, status = task(containerd, name)
    assert status == "RUNNING"
    assert started["task"] == {"container": name, "status": "running", "pid": pid, "netns": "/proc/%d/ns/net" % pid,
                               "log_path": str(log)}
    assert started["container"]["task"] == {"status": "running", "pid": pid}
    assert started["diff"]["before"] == {"exists": False, "task": {"status": None}}
    assert started["diff"]["after"]["task"] == {"status": "running"}
    assert started["diff"]["after"]["command"] == TRAPS_TERM
    deadline = time.monotonic() + 5
    while "started" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log.read_text().startswith("started\n")

    executable, count = counting_ctr
    again = run_module("containerd_container", **dict(args, executable=executable))
    assert again["changed"] is False and again["actions"] == [], again
    assert again["task"]["pid"] == pid and again["task"]["log_path"] == str(log)
    assert again["diff"]["before"] == again["diff"]["after"]
    assert count() == 2, "a no-op run of a running container should cost containers info + tasks ls"
    checked = run_module("containerd_container", check=True, **args)
    assert checked["changed"] is False and checked["task"]["pid"] == pid


def test_paused_stopped_and_running_again(containerd, run_module, busybox, container_name):
    name = container_name()
    base = containerd.module_args(name=name, image="rig/busybox:1", command=TRAPS_TERM)
    pid = run_module("containerd_container", **dict(base, state="running"))["task"]["pid"]

    predicted = run_module("containerd_container", check=True, **dict(base, state="paused"))
    assert predicted["actions"] == ["pause task %s" % name] and predicted["task"]["status"] == "paused"
    assert task(containerd, name) == (pid, "RUNNING"), "check mode paused the task"
    paused = run_module("containerd_container", **dict(base, state="paused"))
    assert paused["changed"] is True and paused["actions"] == predicted["actions"], paused
    assert task(containerd, name) == (pid, "PAUSED") and paused["task"]["pid"] == pid
    assert paused["diff"]["before"]["task"] == {"status": "running"}
    assert paused["diff"]["after"]["task"] == {"status": "paused"}
    assert run_module("containerd_container", **dict(base, state="paused"))["changed"] is False

    stop = dict(base, state="stopped", stop_timeout=20)
    predicted = run_module("containerd_container", check=True, **stop)
    assert predicted["actions"] == ["stop task %s (SIGTERM, SIGKILL after 20s)" % name]
    assert predicted["task"]["status"] == "stopped"
    stopped = run_module("containerd_container", **stop)
    assert stopped["changed"] is True and stopped["actions"] == predicted["actions"], stopped
    assert stopped["task"]["status"] == "stopped" and stopped["task"]["stopped_by"] == "signal"
    assert task(containerd, name)[1] == "STOPPED"
    assert run_module("containerd_container", **stop)["changed"] is False

    # running from a stopped task: the exited task is deleted and a new one started.
    again = run_module("containerd_container", **dict(base, state="running"))
    assert again["actions"] == ["delete task %s" % name, "start task %s" % name], again
    assert task(containerd, name)[1] == "RUNNING" and again["task"]["pid"] != pid


def test_recreate_keeps_the_declared_task_state(containerd, run_module, busybox, container_name):
    name = container_name()
    base = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"], stop_timeout=1)
    pid = run_module("containerd_container", **dict(base, state="running"))["task"]["pid"]

    new_env = dict(base, state="running", env={"MODE": "new"})
    predicted = run_module("containerd_container", check=True, **new_env)
    assert predicted["actions"] == ["stop task %s" % name, "delete task %s" % name, "delete container %s" % name,
                                    "create container %s" % name, "start task %s" % name]
    assert predicted["task"]["status"] == "running"
    recreated = run_module("containerd_container", **new_env)
    assert recreated["actions"] == predicted["actions"], recreated
    new_pid = recreated["task"]["pid"]
    assert new_pid != pid and task(containerd, name) == (new_pid, "RUNNING")
    assert task_mode_is(containerd, name, "new")
    assert run_module("containerd_container", **new_env)["changed"] is False

    # state=stopped does not start the new container's task again.
    stopped_env = dict(base, state="stopped", env={"MODE": "other"})
    predicted = run_module("containerd_container", check=True, **stopped_env)
    recreated = run_module("containerd_container", **stopped_env)
    assert recreated["actions"] == predicted["actions"] == [
        "stop task %s" % name, "delete task %s" % name, "delete container %s" % name, "create container %s" % name]
    assert recreated["task"]["status"] is None and task(containerd, name) is None
    assert run_module("containerd_container", **stopped_env)["changed"] is False


def test_running_with_a_restart_policy_sets_the_monitor_label(containerd, run_module, busybox, container_name):
    name = container_name()
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"], state="running",
                                  restart_policy="always")
    label = "containerd.io/restart.status"
    predicted = run_module("containerd_container", check=True, **args)
    started = run_module("containerd_container", **args)
    assert started["actions"] == predicted["actions"] == [
        "create container %s" % name, "set labels %s" % label, "start task %s" % name], started
    assert info(containerd, name)["Labels"][label] == "running"
    assert run_module("containerd_container", **args)["changed"] is False
    stopped = run_module("containerd_container", **dict(args, state="stopped", stop_timeout=0))
    assert stopped["actions"][0] == "set label %s=stopped" % label, stopped
    assert info(containerd, name)["Labels"][label] == "stopped"


def test_restarted_starts_once_after_a_recreate_and_again_on_every_run(containerd, run_module, busybox,
                                                                       container_name):
    name = container_name()
    args = containerd.module_args(name=name, image="rig/busybox:1", state="restarted", stop_timeout=5,
                                  command=["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"])

    def starts(result):
        return [action for action in result["actions"] if action.startswith("start task")]
    created = run_module("containerd_container", **args)
    assert created["changed"] is True and starts(created) == ["start task %s" % name], created
    pid = task(containerd, name)[0]
    assert created["task"]["pid"] == pid and created["task"]["status"] == "running"
    # A recreate stops and starts the task: that is the restart, not a second one.
    recreated = run_module("containerd_container", **dict(args, env={"V": "2"}))
    assert recreated["differences"] == ["env.V"] and len(starts(recreated)) == 1, recreated
    assert task(containerd, name)[0] not in (pid, None)
    pid = task(containerd, name)[0]
    predicted = run_module("containerd_container", check=True, **dict(args, env={"V": "2"}))
    assert predicted["changed"] is True and predicted["task"]["status"] == "running", predicted
    assert predicted["task"]["pid"] is None and predicted["task"]["netns"] is None
    assert task(containerd, name)[0] == pid
    again = run_module("containerd_container", **dict(args, env={"V": "2"}))
    assert again["changed"] is True and again["actions"] == predicted["actions"], (predicted, again)
    assert "differences" not in again and task(containerd, name)[0] not in (pid, None)
    assert again["diff"]["before"]["task"] == again["diff"]["after"]["task"] == {"status": "running"}


def test_task_state_errors_are_clear(containerd, run_module, busybox, container_name, tmp_path):
    name = container_name()
    base = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"])
    for state in ("present", "stopped", "absent"):
        wrong = run_module("containerd_container", **dict(base, state=state, log_path=str(tmp_path / "x.log")))
        assert wrong.get("failed") is True, wrong
        assert wrong["msg"] == ("log_path is where a task this module starts writes its output: it takes "
                                "state=running, paused or restarted, not state=%s." % state)
    no_dir = run_module("containerd_container", **dict(base, state="running",
                                                       log_path=str(tmp_path / "nope" / "x.log")))
    assert no_dir.get("failed") is True
    assert no_dir["msg"] == "The directory of log_path %s does not exist: create it first." % (
        tmp_path / "nope" / "x.log")
    no_image = run_module("containerd_container", **containerd.module_args(name=name, state="running"))
    assert no_image.get("failed") is True
    assert no_image["msg"] == ("state=running needs the image option: the image to create container %s from."
                               % name)
    assert info(containerd, name) is None and task(containerd, name) is None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_networks_in_one_task(containerd, run_module, busybox, container_name, net_1_1):
    """containerd_container's networks and published ports: the pinned namespace and its attachment before the task,
    predicted, made once, unchanged after, kept by a restart, the port reached from the host and from another
    container, released with the container; bad input and a taken port are one sentence before any change."""
    name, client = container_name(), container_name("client")
    net_1_1.containerd = containerd
    assert run_module("cni_network", **net_1_1.definition(port_map=True))["changed"] is True
    cni = net_1_1.cni_options()
    port, wide = free_port(), free_port()
    args = containerd.module_args(name=name, image="rig/busybox:1", command="httpd -f -p 80 -h /etc",
                                  state="running", stop_timeout=0, networks=[net_1_1.name], cni=cni,
                                  published_ports=["127.0.0.1:%d:80" % port, "%d:80" % wide, "%d:80/udp" % wide],
                                  dns_servers=["10.89.0.53"], dns_search_domains=["shop.internal"],
                                  dns_opts=["ndots:2"], etc_hosts={"db.shop.internal": "10.89.0.7"},
                                  ready=dict(tcp=80, timeout=20, interval=0.2))
    [pinned] = [action.split()[-1] for action in run_module("containerd_container", check=True, **args)["actions"]
                if action.startswith("create network namespace ")]
    predicted = run_module("containerd_container", check=True, **args)
    etc = os.path.join(net_1_1.etc_dir, os.path.basename(pinned))
    assert predicted["actions"] == [
        "create network namespace %s" % pinned, "attach %s/eth0 to network %s" % (name, net_1_1.name),
        "write %s/resolv.conf (/etc/resolv.conf of %s)" % (etc, name), "write %s/hosts (/etc/hosts of %s)" % (etc, name),
        "create container %s" % name, "start task %s" % name], predicted
    assert predicted["networks"] == [dict(name=net_1_1.name, ifname="eth0", addresses=[])]
    assert not os.path.exists(pinned) and net_1_1.leases() == [] and info(containerd, name) is None

    first = run_module("containerd_container", **args)
    assert first["changed"] is True and first["actions"] == predicted["actions"], first
    [address] = first["networks"][0]["addresses"]
    assert first["ready"]["ready"] is True and first["ready"]["target"] == "%s:80" % address.split("/")[0]
    assert first["diff"]["before"]["networks"] == [] and first["diff"]["after"]["networks"] == first["networks"]
    assert os.stat(pinned).st_ino == os.stat("/proc/%d/ns/net" % first["task"]["pid"]).st_ino
    assert "root:" in http_get("http://%s/passwd" % address.split("/")[0])
    assert "root:" in http_get("http://127.0.0.1:%d/passwd" % port), "the published port is not reached"
    assert file_in(containerd, name, "/etc/resolv.conf").splitlines()[1:] == [
        "search shop.internal", "nameserver 10.89.0.53", "options ndots:2"]
    assert file_in(containerd, name, "/etc/hosts").splitlines()[1:] == [
        "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "%s\t%s" % (address.split("/")[0], name),
        "10.89.0.7\tdb.shop.internal"]
    with open(net_1_1.cache_file(name)) as handle:
        mappings = json.load(handle)["capabilityArgs"]["portMappings"]
    assert sorted(mappings, key=json.dumps) == sorted([
        dict(hostPort=port, containerPort=80, protocol="tcp", hostIP="127.0.0.1"),
        dict(hostPort=wide, containerPort=80, protocol="tcp"), dict(hostPort=wide, containerPort=80, protocol="udp")],
        key=json.dumps)

    # From another container on the network, through the host's address on the bridge (a port of all addresses).
    other = containerd.module_args(name=client, image="rig/busybox:1", command="sleep 600", state="running",
                                   stop_timeout=0, networks=[net_1_1.name], cni=cni)
    assert run_module("containerd_container", **other)["changed"] is True
    reached = exec_in(containerd, client, "sh", "-c", '(printf "GET /passwd HTTP/1.0\\r\\n\\r\\n"; sleep 1) | '
                      'nc -w 5 %s %d | grep -q root:' % (net_1_1.gateway, wide), check=False)
    assert reached.returncode == 0, reached  # answered by the exit code, as exec of 2.1 can drop output
    # Without DNS options: the host's resolver, loopback nameservers left out.
    servers = [line.split()[1] for line in file_in(containerd, client, "/etc/resolv.conf").splitlines()
               if line.startswith("nameserver ")]
    assert servers and not any(server.startswith("127.") or server == "::1" for server in servers), servers
    taken = run_module("containerd_container", **dict(other, published_ports=["%d:8080" % port]))
    assert taken.get("failed") is True and taken["actions"] == [] and taken["msg"] == (
        "Container %s cannot publish %d/tcp: container %s publishes it on network %s; choose another host port."
        % (client, port, name, net_1_1.name)), taken
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        busy = listener.getsockname()[1]
        taken = run_module("containerd_container", **dict(other, published_ports=["127.0.0.1:%d:80" % busy]))
    assert taken.get("failed") is True and taken["msg"] == (
        "Container %s cannot publish 127.0.0.1:%d/tcp: a process on the host has it; choose another host port."
        % (client, busy)), taken
    run_module("containerd_container", **dict(other, state="absent", force=True))

    again = run_module("containerd_container", **args)
    assert again["changed"] is False and again["networks"] == first["networks"], again["actions"]
    assert again["diff"]["before"] == again["diff"]["after"]
    assert run_module("containerd_container", check=True, **args)["changed"] is False

    # Another server: the file is rewritten in place, the running task sees it, nothing is recreated.
    moved = run_module("containerd_container", **dict(args, dns_servers=["10.89.0.54"]))
    assert moved["actions"] == ["write %s/resolv.conf (/etc/resolv.conf of %s)" % (etc, name)], moved
    assert "nameserver 10.89.0.54" in file_in(containerd, name, "/etc/resolv.conf")
    args["dns_servers"] = ["10.89.0.54"]

    restarted = run_module("containerd_container", **dict(args, state="restarted"))
    assert restarted["task"]["pid"] != first["task"]["pid"] and restarted["networks"] == first["networks"]
    assert len(net_1_1.leases()) == 1

    for bad, message in (
            (dict(networks=["ghost"]), "Container %s attaches to network ghost, which is not defined in %s: create "
             "it first (ctrops.containerd.cni_network) or fix the name or cni.conf_dir." % (name, net_1_1.conf_dir)),
            (dict(net_host=True), "Container %s declares networks and net_host: it has no network namespace of its "
             "own to attach, so leave one of them out." % name),
            (dict(published_ports=["80"]), "Container %s: published port '80' is not [IP:]HOST_PORT:CONTAINER_PORT"
             "[/tcp|/udp|/sctp] with ports 1 to 65535 (for example 8080:80, 127.0.0.1:8443:443/tcp or 53:53/udp)."
             % name),
            (dict(networks=None), "Container %s publishes ports but declares no networks: ports are published by "
             "CNI's portmap plugin on its networks, so add networks (one made with port_map=true)." % name)):
        failed = run_module("containerd_container", **dict(args, **bad))
        assert failed.get("failed") is True and failed["msg"] == message and failed["actions"] == [], failed

    gone = containerd.module_args(name=name, state="absent", force=True, stop_timeout=0, cni=cni)
    removed = run_module("containerd_container", **gone)
    assert removed["actions"][-3:] == ["detach %s/eth0 from network %s" % (name, net_1_1.name),
                                       "remove network namespace %s" % pinned, "remove %s" % etc], removed
    assert net_1_1.leases() == [] and not os.path.exists(pinned) and not os.path.exists(etc)
    assert run_module("containerd_container", **gone)["changed"] is False


def test_log_options_rotate_whoever_starts_the_task(containerd, run_module, busybox, container_name, tmp_path):
    """log_options: a chatty task's log is rotated by the writer the module puts on the host, also after the
    restart monitor started the task again; its result reads the log's end; a no-op stays a no-op."""
    name = container_name()
    log, writer = tmp_path / "chatty.log", tmp_path / "bin" / "log-writer"
    chatty = "while :; do yes 0123456789abcdef | head -n 20000; sleep 0.2; done"  # about 1.7 MB/s
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sh", "-c", chatty], state="running",
                                  stop_timeout=0, restart_policy="always", log_path=str(log),
                                  log_options=dict(max_size="1m", max_files=2, writer_path=str(writer)))
    predicted = run_module("containerd_container", check=True, **args)
    assert predicted["actions"] == ["create container %s" % name, "set labels containerd.io/restart.status",
                                    "write log writer %s" % writer, "start task %s" % name], predicted
    assert predicted["task"]["log_path"] == str(log) and not writer.exists() and info(containerd, name) is None

    first = run_module("containerd_container", **args)
    assert first["changed"] is True and first["actions"] == predicted["actions"], first
    assert first["diff"]["after"]["task"] == {"status": "running"} and first["task"]["log_path"] == str(log)
    assert oct(writer.stat().st_mode & 0o7777) == "0o755"

    def files():
        return sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("chatty.log"))

    def bounded(seconds):
        """Sizes of the log files, read every 0.1 s for ``seconds``: never more than two files, each at most
        max_size plus one read of the writer."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sizes = {}
            for item in files():
                try:
                    sizes[item] = (tmp_path / item).stat().st_size
                except FileNotFoundError:  # renamed between listing and stat
                    pass
            assert set(sizes) <= {"chatty.log", "chatty.log.1"} and max(sizes.values() or [0]) <= 1024 * 1024 + 65536, sizes
            time.sleep(0.1)
        return files()

    assert bounded(3) == ["chatty.log", "chatty.log.1"], "1.7 MB/s for 3 s did not rotate"
    again = run_module("containerd_container", **dict(args, log_lines=3))
    assert again["changed"] is False and again["actions"] == [], again
    assert "0123456789abcdef" in again["task"]["log"], again["task"]

    # The restart monitor starts the task again with the same log URI: the writer comes back with it.
    pid = again["task"]["pid"]
    os.kill(pid, 9)
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and (task(containerd, name) or (pid,))[0] in (pid, 0):
        time.sleep(0.2)
    restarted = time.time()
    current = task(containerd, name)
    assert current and current[0] != pid and current[1] == "RUNNING", current
    bounded(2)
    assert log.stat().st_mtime > restarted, "no output reached the log after the monitor's start"
    assert run_module("containerd_container", **args)["changed"] is False

    for bad, message in (
            (dict(log_path=None), "log_options rotate the file given in log_path: set log_path too."),
            (dict(log_options=dict(max_size="lots")), "log_options.max_size 'lots' is not a size of at least 4k: "
             "write it as 10m, 512k or a number of bytes.")):
        failed = run_module("containerd_container", **dict(args, **bad))
        assert failed.get("failed") is True and failed["msg"] == message and failed["actions"] == [], failed
    gone = run_module("containerd_container", **containerd.module_args(name=name, state="absent", force=True,
                                                                       stop_timeout=0))
    assert gone["changed"] is True and task(containerd, name) is None, gone


def restore_namespaces(cni, *extra):
    """netns_restore as the cni role's boot unit runs it: Python without site packages, the collection's
    module_utils on PYTHONPATH."""
    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)[0]
    argv = [sys.executable, "-S", "-m", "ansible_collections.ctrops.containerd.plugins.module_utils.netns_restore",
            "--netns-dir", cni["netns_dir"], "--cache-dir", cni["cache_dir"]]
    argv += [arg for directory in cni["bin_dirs"] for arg in ("--bin-dir", directory)]
    return subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=120, check=False,
                          env={"PYTHONPATH": collections, "PATH": os.environ["PATH"]})


def test_a_boot_pins_the_namespaces_again_before_containerd_starts(containerd, run_module, busybox, container_name,
                                                                   net_1_1):
    """A reboot empties /run/netns: the cni role's boot unit (netns_restore) pins each lost namespace again and
    attaches it as before (same address, its ports), so the restart monitor starts the service with its network
    and no Ansible run; the next run changes nothing; a namespace that is there is left alone."""
    name = container_name()
    net_1_1.containerd = containerd
    assert run_module("cni_network", **net_1_1.definition(port_map=True))["changed"] is True
    cni = net_1_1.cni_options()
    port = free_port()
    args = containerd.module_args(name=name, image="rig/busybox:1", command="httpd -f -p 80 -h /etc", state="running",
                                  stop_timeout=0, restart_policy="always", networks=[net_1_1.name], cni=cni,
                                  published_ports=["127.0.0.1:%d:80" % port])
    first = run_module("containerd_container", **args)
    assert first["changed"] is True, first
    address = first["networks"][0]["addresses"][0].split("/")[0]
    pinned = [path for path in os.listdir(cni["netns_dir"]) if path.startswith("ctrops-")]
    assert len(pinned) == 1 and restore_namespaces(cni).stdout == "", "a pinned namespace was touched"

    # The boot, as far as this host can play it: containerd and the task gone, /run/netns emptied.
    containerd.kill_daemon()
    try:
        os.kill(first["task"]["pid"], signal.SIGKILL)
        netns.remove(os.path.join(cni["netns_dir"], pinned[0]))
        restored = restore_namespaces(cni)
    finally:
        containerd.restart()
    assert restored.returncode == 0 and restored.stdout == "%s/eth0 on network %s: namespace %s made again, %s\n" % (
        name, net_1_1.name, os.path.join(cni["netns_dir"], pinned[0]), first["networks"][0]["addresses"][0]), restored
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and (task(containerd, name) or (0, ""))[1] != "RUNNING":
        time.sleep(0.2)
    assert "root:" in http_get("http://%s/passwd" % address), "the monitor's task has no network after the boot"
    assert "root:" in http_get("http://127.0.0.1:%d/passwd" % port), "the published port is gone after the boot"
    assert len(net_1_1.leases()) == 1, net_1_1.leases()
    again = run_module("containerd_container", **args)
    assert again["changed"] is False and again["actions"] == [] and again["networks"] == first["networks"], again

    broken = restore_namespaces(cni, "--bin-dir", "/nonexistent", "--timeout", "x")
    assert broken.returncode == 2 and "argument --timeout: invalid int value: 'x'" in broken.stderr
    run_module("containerd_container", **containerd.module_args(name=name, state="absent", force=True, stop_timeout=0,
                                                                networks=[net_1_1.name], cni=cni))
    assert os.listdir(cni["netns_dir"]) == [] and net_1_1.leases() == []
