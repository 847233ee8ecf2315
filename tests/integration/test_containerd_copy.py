"""containerd_copy against the rig's containerd (1.6 and 2.1) with the rig's busybox image."""

import collections
import hashlib
import os
import shutil
import time

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError


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
    # New content without mode, owner or group: the file keeps the ones it has.
    bare = dict((k, v) for k, v in args.items() if k not in ("mode", "owner", "group"))
    assert run_module("containerd_copy", **dict(bare, content="port=82\n"))["changed"] is True
    assert exec_out(containerd, running, "stat", "-c", "%a %u %g", "/etc/app.conf").split() == ["640", "65534", "0"]


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
    # Links planted to the host's /etc/shadow are read as the container sees them: it has no such file.
    containerd.ctr_run("tasks", "exec", "--exec-id", "sh", running, "sh", "-c",
                       "ln -s /etc/shadow /tmp/shadow && mkdir /tmp/tree && ln -s /etc/shadow /tmp/tree/shadow"
                       " && echo x > /tmp/tree/x")
    shadow = run_module("containerd_copy", **containerd.module_args(
        container=running, direction="out", src="/tmp/shadow", dest=str(tmp_path / "shadow")))
    assert shadow.get("failed") is True and not (tmp_path / "shadow").exists()
    assert shadow["msg"] == "The source /tmp/shadow does not exist in container %s: check src." % running
    tree = run_module("containerd_copy", **containerd.module_args(
        container=running, direction="out", src="/tmp/tree/", dest=str(tmp_path)))
    assert tree["changed"] is True and tree["files"] == [str(tmp_path / "x")], tree
    assert not (tmp_path / "shadow").exists()
    assert any("/tmp/tree/shadow is skipped: it is a symbolic link" in w for w in tree.get("warnings", [])), tree

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


# The container's process keeps swapping /tmp/d between its own directory and a link to a host directory,
# with renames in a tight loop, so each state lasts microseconds (the race of `docker cp`, CVE-2018-15664),
# and every 20 ms holds the directory for 5 ms, so that some copies land and both outcomes are seen.
SWAPPER = """
import os
import time
os.makedirs('/tmp/d')
for i in range(40):
    with open('/tmp/d/f%d' % i, 'w') as out:
        out.write('inside\\n')
os.symlink({host!r}, '/tmp/lnk')
open('/tmp/ready', 'w').close()
while True:
    end = time.monotonic() + 0.02
    while time.monotonic() < end:
        os.rename('/tmp/d', '/tmp/dir')
        os.rename('/tmp/lnk', '/tmp/d')
        os.rename('/tmp/d', '/tmp/lnk')
        os.rename('/tmp/dir', '/tmp/d')
    time.sleep(0.005)  # a directory for a moment: some copies land
"""
SECRET = "host secret\n"
# Whole module runs per containerd version, a quarter of each kind (the old code read host files after 15 to 35).
MODULE_RUNS = 40


@pytest.fixture
def swapping(containerd, import_image, py_image, container_name, tmp_path):
    """(container name, its task's PID, a host directory its links point at, holding f0..f39 = SECRET)."""
    host = tmp_path / "hostdir"
    host.mkdir()
    for i in range(40):
        (host / ("f%d" % i)).write_text(SECRET)
    name = container_name("swap")
    containerd.ctr_run("containers", "create", "--", import_image(py_image), name, "python3", "-c",
                       SWAPPER.format(host=str(host)))
    containerd.ctr_run("tasks", "start", "-d", "--null-io", name)
    for _attempt in range(100):
        listing = containerd.ctr_run("tasks", "ls").stdout.split()
        pid = int(listing[listing.index(name) + 1])
        if os.path.exists("/proc/%d/root/tmp/ready" % pid):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the swapping container did not get ready")
    return name, pid, host


def host_untouched(host):
    names = sorted(os.listdir(str(host)))
    return names == sorted("f%d" % i for i in range(40)) and all(
        (host / name).read_text() == SECRET for name in names)


def one_sentence(result):
    msg = result.get("msg", "")
    return "Traceback" not in msg and msg.count("\n") == 0 and msg.endswith(".")


def test_a_container_swapping_a_directory_for_a_link_never_reaches_the_host(
        containerd, run_module_raw, swapping, tmp_path):
    """Copies in both directions race a container that flips /tmp/d: nothing is written to or read from the
    host directory, and each copy lands inside the root or fails with one sentence."""
    name, pid, host = swapping
    args = containerd.module_args(container=name)
    counts = collections.Counter()
    # The walk itself, as every copy does it, many times over (cheap: no module start-up).
    from ansible_collections.ctrops.containerd.plugins.module_utils import in_root
    with in_root.RootDir("/proc/%d/root" % pid) as root:
        for i in range(600):
            time.sleep(0.001)  # spread over many of the swapper's 25 ms rounds
            path = "/tmp/d/f%d" % (i % 40)
            try:
                with root.locate(path) as place:
                    if i % 2:
                        data = place.read()[0]
                        assert data != SECRET.encode(), counts
                        counts["walk read inside"] += 1
                    else:
                        place.write(b"copied %d\n" % i, 0o644, None, None)
                        counts["walk wrote inside"] += 1
            except (OSError, ModuleError) as exc:
                counts["walk refused: %s" % type(exc).__name__] += 1
    assert host_untouched(host), counts
    # Whole module runs, both directions: a file, and a directory of 40 files into and out of /tmp/d.
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(40):
        (tree / ("f%d" % i)).write_text("from the host %d\n" % i)
    out = tmp_path / "out"
    for i in range(MODULE_RUNS):
        if i % 4 == 0:
            result, raw = run_module_raw("containerd_copy", **dict(args, content="run %d\n" % i, dest="/tmp/d/f%d" % i))
        elif i % 4 == 1:
            result, raw = run_module_raw("containerd_copy", **dict(args, src=str(tree) + "/", dest="/tmp/d/"))
        elif i % 4 == 2:
            dest = tmp_path / ("one-%d" % i)
            result, raw = run_module_raw("containerd_copy", **dict(args, direction="out", src="/tmp/d/f%d" % i,
                                                                   dest=str(dest)))
            assert not result.get("failed") or not dest.exists()
            assert not dest.exists() or dest.read_text() != SECRET, counts
        else:
            shutil.rmtree(str(out), ignore_errors=True)
            out.mkdir()
            result, raw = run_module_raw("containerd_copy", **dict(args, direction="out", src="/tmp/d/", dest=str(out)))
            assert all(f.read_text() != SECRET for f in out.iterdir()), counts
        assert "Traceback" not in raw, raw
        if result.get("failed"):
            assert one_sentence(result), result
            counts["module refused"] += 1
        else:
            counts["module copied"] += 1
    assert host_untouched(host), counts
    # The race was really run: the swapper is still going, and both outcomes happened.
    assert containerd.ctr_run("tasks", "ls").stdout.count(name) == 1
    assert counts["walk wrote inside"] > 0 and counts["walk read inside"] > 0, counts
    assert counts["module copied"] + counts["module refused"] == MODULE_RUNS, counts
    print(dict(counts))
