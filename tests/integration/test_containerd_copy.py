"""containerd_copy against the rig's containerd (1.6 and 2.1) with the rig's busybox image."""

import hashlib
import os

import pytest


def no_copy_mounts():
    with open("/proc/self/mountinfo") as handle:
        return [line for line in handle if "ctrops-copy-" in line] == []


def exec_out(containerd, name, *argv):
    return containerd.ctr_run("tasks", "exec", "--exec-id", "t-%d" % os.getpid(), name, *argv).stdout


@pytest.fixture
def running(containerd, busybox, container_name):
    name = container_name("run")
    containerd.ctr_run("containers", "create", busybox, name, "sleep", "600")
    containerd.ctr_run("tasks", "start", "-d", "--null-io", name)
    return name


@pytest.fixture
def idle(containerd, busybox, container_name):
    name = container_name("idle")
    containerd.ctr_run("containers", "create", busybox, name, "sleep", "600")
    return name


@pytest.mark.smoke
def test_content_into_running_container(containerd, run_module, running):
    args = containerd.module_args(container=running, content="port=80\n", dest="/etc/app.conf", mode="0640",
                                  owner="65534", group="0")
    predicted = run_module("containerd_copy", check=True, **args)
    assert predicted.get("failed") is not True, predicted
    assert predicted["changed"] is True and predicted["files"] == ["/etc/app.conf"] and predicted["via"] == "task"
    assert "No such file" in containerd.ctr_run("tasks", "exec", "--exec-id", "c1", running, "cat", "/etc/app.conf",
                                                check=False).stderr
    first = run_module("containerd_copy", **args)
    assert first["changed"] is True, first
    assert first["diff"]["before"] == "" and first["diff"]["after"] == "port=80\n"
    assert exec_out(containerd, running, "cat", "/etc/app.conf") == "port=80\n"
    assert exec_out(containerd, running, "stat", "-c", "%a %u %g", "/etc/app.conf").split() == ["640", "65534", "0"]
    second = run_module("containerd_copy", **args)
    assert second["changed"] is False and second["ctr_calls"] == 2, second
    edited = run_module("containerd_copy", **dict(args, content="port=81\n"))
    assert edited["changed"] is True and edited["diff"]["before"] == "port=80\n"
    assert edited["checksum"] == hashlib.sha1(b"port=81\n").hexdigest()


def test_file_into_container_without_task_through_its_snapshot(containerd, run_module, idle, tmp_path):
    src = tmp_path / "motd"
    src.write_text("hello\n")
    args = containerd.module_args(container=idle, src=str(src), dest="/etc/")
    predicted = run_module("containerd_copy", check=True, **args)
    assert predicted["changed"] is True and predicted["via"] == "snapshot" and predicted["files"] == ["/etc/motd"]
    assert no_copy_mounts()
    first = run_module("containerd_copy", **args)
    assert first["changed"] is True and first["files"] == ["/etc/motd"], first
    assert no_copy_mounts()
    assert run_module("containerd_copy", **args)["changed"] is False
    assert no_copy_mounts()
    containerd.ctr_run("tasks", "start", "-d", "--null-io", idle)
    assert exec_out(containerd, idle, "cat", "/etc/motd") == "hello\n"


def test_directory_into_and_out(containerd, run_module, running, tmp_path):
    tree = tmp_path / "site"
    (tree / "css").mkdir(parents=True)
    (tree / "index.html").write_text("<h1>hi</h1>\n")
    (tree / "css" / "a.css").write_text("body{}\n")
    args = containerd.module_args(container=running, src=str(tree), dest="/www", owner="65534")
    failed = run_module("containerd_copy", **args)
    assert failed.get("failed") is True
    assert failed["msg"] == "The directory of /www/site does not exist: create it first."
    containerd.ctr_run("tasks", "exec", "--exec-id", "mk", running, "mkdir", "/www")
    first = run_module("containerd_copy", **args)
    assert first["files"] == ["/www/site", "/www/site/css", "/www/site/css/a.css", "/www/site/index.html"], first
    assert exec_out(containerd, running, "cat", "/www/site/css/a.css") == "body{}\n"
    assert run_module("containerd_copy", **args)["changed"] is False

    out = tmp_path / "back"
    out.mkdir()
    back = containerd.module_args(container=running, direction="out", src="/www/site/", dest=str(out))
    fetched = run_module("containerd_copy", **back)
    assert fetched["changed"] is True, fetched
    assert (out / "css" / "a.css").read_text() == "body{}\n" and (out / "index.html").read_text() == "<h1>hi</h1>\n"
    assert run_module("containerd_copy", **back)["changed"] is False
    one = run_module("containerd_copy", **containerd.module_args(
        container=running, direction="out", src="/www/site/index.html", dest=str(tmp_path / "i.html")))
    assert one["changed"] is True and one["diff"]["after"] == "<h1>hi</h1>\n"


def test_paths_never_leave_the_container_root_and_errors_are_clear(containerd, run_module, running, uid,
                                                                   tmp_path):
    containerd.ctr_run("tasks", "exec", "--exec-id", "ln", running, "sh", "-c",
                       "ln -s ../../../../.. /tmp/up && ln -s /etc /tmp/abs")
    up = run_module("containerd_copy", **containerd.module_args(container=running, content="x", dest="/tmp/up/x"))
    assert up.get("failed") is True
    assert up["msg"] == "The container path /tmp/up/x leads outside the container's root: give a path inside the container."
    dots = run_module("containerd_copy", **containerd.module_args(container=running, content="x", dest="/../x"))
    assert dots.get("failed") is True and "leads outside the container's root" in dots["msg"]
    # An absolute link is the container's /etc, never the host's.
    name = "ctrops-%s" % uid
    inside = run_module("containerd_copy", **containerd.module_args(
        container=running, content="x\n", dest="/tmp/abs/%s" % name))
    assert inside["changed"] is True, inside
    assert not os.path.exists("/etc/" + name)
    assert exec_out(containerd, running, "cat", "/etc/" + name) == "x\n"

    missing = run_module("containerd_copy", **containerd.module_args(
        container=running, src=str(tmp_path / "nothere"), dest="/tmp/x"))
    assert missing.get("failed") is True
    assert missing["msg"] == "The source %s does not exist on this host: check src." % (tmp_path / "nothere")
    gone = run_module("containerd_copy", **containerd.module_args(container="nosuch", content="x", dest="/tmp/x"))
    assert gone.get("failed") is True
    assert gone["msg"] == ("Container nosuch does not exist in namespace default: create it first, for example with "
                           "ctrops.containerd.containerd_container.")
    out_missing = run_module("containerd_copy", **containerd.module_args(
        container=running, direction="out", src="/nothere", dest=str(tmp_path / "x")))
    assert out_missing.get("failed") is True
    assert out_missing["msg"] == "The source /nothere does not exist in container %s: check src." % running
    mode = run_module("containerd_copy", **containerd.module_args(container=running, content="x", dest="/tmp/x",
                                                                  mode="rw"))
    assert mode.get("failed") is True and mode["msg"] == "Invalid mode 'rw': give octal permissions such as '0644'."
