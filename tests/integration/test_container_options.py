"""The container options of production services (issue: every option, declared once), against the rig's
containerd: each one observed where it takes effect, inside the running container (its /proc entries, its
cgroup, its mounts, the runtime's state), through containerd_container and as a containerd_stack entry.

ctr has flags for some of them and the module completes the spec ctr made for the others (containerd_api):
both kinds are here, on the oldest and the newest containerd of the matrix.
"""

import json
import os
import subprocess
import time

import pytest

from test_containerd_stack import QUICK_STOP, ns_tasks, stack_ns  # noqa: F401  # pylint: disable=unused-import

SECCOMP_NO_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}

OPTIONS = dict(
    capabilities=["net_admin"], cap_drop=["CAP_CHOWN"], no_new_privileges=False,
    devices=["/dev/fuse:/dev/xfuse:rw"], annotations={"org.example/team": "web"},
    cpus=0.5, cpu_shares=512, cpuset_cpus="0", cpuset_mems="0", pids_limit=77,
    ulimits={"nofile": "4000:4242", "nproc": 300}, sysctls={"net.ipv4.ip_unprivileged_port_start": 80},
    shm_size="1m", tmpfs={"/cache": "size=2m"}, groups=["1234"], oom_score_adj=123,
)


def info(containerd, name, namespace):
    result = containerd.ctr_run("containers", "info", name, namespace=namespace, check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def exec_status(containerd, namespace, name, *argv):
    """The exit code of ``argv`` run in the task (ctr 2.1's exec can drop output, not the status)."""
    return containerd.ctr_run("tasks", "exec", "--exec-id", "t%d" % time.monotonic_ns(), "--", name, *argv,
                              namespace=namespace, check=False).returncode


# A new value for each option of OPTIONS (cpuset_mems has one value on a one-node host, as here).
CHANGED = dict(
    capabilities=["NET_ADMIN", "SYS_TIME"], cap_drop=["MKNOD"], no_new_privileges=True,
    devices=["/dev/fuse:/dev/yfuse:r"], annotations={"org.example/team": "db"}, cpus=0.25, cpu_shares=256,
    cpuset_cpus="0-1", pids_limit=88, ulimits={"nofile": 5000}, sysctls={"net.ipv4.ip_unprivileged_port_start": 81},
    shm_size="2m", tmpfs={"/cache": "size=3m"}, groups=["1235"], oom_score_adj=124, seccomp_profile="default",
)


def proc(pid, name):
    with open("/proc/%d/%s" % (pid, name)) as handle:
        return handle.read()


def status(pid, field):
    for line in proc(pid, "status").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def cgroup_file(pid, controller, name):
    """A file of the task's cgroup, with cgroup v1 (this machine) or v2."""
    for line in proc(pid, "cgroup").splitlines():
        _id, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controllers == "" and os.path.exists("/sys/fs/cgroup/" + name)):
            base = "/sys/fs/cgroup/%s" % controllers if controllers else "/sys/fs/cgroup"
            if not os.path.isdir(base):
                base = "/sys/fs/cgroup/%s" % controller
            with open(os.path.join(base + path, name)) as handle:
                return handle.read().strip()
    raise AssertionError("no %s cgroup for %d" % (controller, pid))


def cgroup_v2():
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def mount_options(pid, point):
    """The options (mount and super) of the topmost mount at ``point`` in the task's mount namespace."""
    found = None
    for line in proc(pid, "mountinfo").splitlines():
        fields = line.split()
        if fields[4] == point:
            found = fields[5].split(",") + fields[-1].split(",")
    return found


def capabilities(pid):
    """The names of the effective capabilities of a process."""
    from ansible_collections.ctrops.containerd.plugins.module_utils.container_options import CAPABILITIES
    mask = int(status(pid, "CapEff"), 16)
    numbers = ("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE "
               "NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT "
               "SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE "
               "AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ "
               "PERFMON BPF CHECKPOINT_RESTORE").split()
    assert set("CAP_" + n for n in numbers) == set(CAPABILITIES)
    return set("CAP_" + name for bit, name in enumerate(numbers) if mask >> bit & 1)


def runc_state(containerd, namespace, name):
    # The shim's runc keeps its state under /run/containerd/runc/<namespace> (machine-wide).
    out = subprocess.run(["runc", "--root", "/run/containerd/runc/%s" % namespace, "state", name],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def assert_in_effect(containerd, namespace, name, pid):
    """Every option of OPTIONS (and the seccomp profile that denies mkdir), seen from the host in the running
    task."""
    caps = capabilities(pid)
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps and "CAP_SYS_ADMIN" not in caps, caps
    assert status(pid, "NoNewPrivs") == "0"
    node = os.stat("/proc/%d/root/dev/xfuse" % pid)
    assert (os.major(node.st_rdev), os.minor(node.st_rdev)) == (10, 229)
    if not cgroup_v2():
        assert "c 10:229 rw" in cgroup_file(pid, "devices", "devices.list").splitlines()
        assert cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "50000"
        assert cgroup_file(pid, "cpu", "cpu.cfs_period_us") == "100000"
        assert cgroup_file(pid, "cpu", "cpu.shares") == "512"
    else:
        assert cgroup_file(pid, "cpu", "cpu.max") == "50000 100000"
        assert cgroup_file(pid, "cpu", "cpu.weight") == str(1 + ((512 - 2) * 9999) // 262142)
    assert status(pid, "Cpus_allowed_list") == "0" and status(pid, "Mems_allowed_list") == "0"
    assert cgroup_file(pid, "pids", "pids.max") == "77"
    limits = dict((line[:26].strip(), line[26:].split()) for line in proc(pid, "limits").splitlines()[1:])
    assert limits["Max open files"][:2] == ["4000", "4242"] and limits["Max processes"][:2] == ["300", "300"]
    port_start = subprocess.run(["nsenter", "-t", str(pid), "-n", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"],
                                capture_output=True, text=True, check=True).stdout.strip()
    assert port_start == "80"
    assert "size=1024k" in mount_options(pid, "/dev/shm")
    cache = mount_options(pid, "/cache")
    assert cache and "size=2048k" in cache and "noexec" in cache
    assert "1234" in status(pid, "Groups").split()
    assert proc(pid, "oom_score_adj").strip() == "123"
    assert runc_state(containerd, namespace, name)["annotations"]["org.example/team"] == "web"
    assert status(pid, "Seccomp") == "2"
    # The profile denies mkdir: judged by the exit code (ctr 2.1's exec can drop output, not the status).
    assert exec_status(containerd, namespace, name, "mkdir", "/tmp/denied") != 0
    assert exec_status(containerd, namespace, name, "touch", "/tmp/allowed") == 0


def converge(run_module, containerd, module, namespace, entry, check=False):
    """One run of ``entry`` (containerd_container's options) through ``module``: (result, its container's part)."""
    if module == "containerd_container":
        result = run_module(module, check=check, **containerd.module_args(namespace=namespace, **entry))
        return result, result
    result = run_module(module, check=check, **containerd.module_args(name="opts", namespace=namespace,
                                                                      containers=[entry]))
    return result, (result.get("containers") or [{}])[0]


@pytest.mark.parametrize("module", ["containerd_container", "containerd_stack"])
def test_options_take_effect_inside_the_container(containerd, run_module, rig_images, import_image, stack_ns, uid,
                                                  module, tmp_path, counting_ctr):
    import_image(rig_images["busybox"], namespace=stack_ns)
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps(SECCOMP_NO_MKDIR))
    name = "opts-%s" % uid
    entry = dict(OPTIONS, name=name, image="rig/busybox:1", command=QUICK_STOP, state="running", stop_timeout=2,
                 seccomp_profile=str(profile))

    predicted, part = converge(run_module, containerd, module, stack_ns, entry, check=True)
    assert predicted["changed"] is True, predicted
    assert part["actions"][:2] == ["create container %s" % name, "start task %s" % name], predicted
    assert info(containerd, name, namespace=stack_ns) is None, "check mode created the container"

    created, part = converge(run_module, containerd, module, stack_ns, entry)
    assert created["changed"] is True, created
    if module == "containerd_container":
        for option in set(OPTIONS) - {"groups"}:  # check mode predicted what the module then read back
            assert predicted["container"][option] == created["container"][option], option
        # The image's own groups are known once the container exists; the prediction holds those asked for.
        assert set(predicted["container"]["groups"]) <= set(created["container"]["groups"])
    pid = ns_tasks(containerd, stack_ns)[name][0]
    assert_in_effect(containerd, stack_ns, name, pid)
    if module == "containerd_container":
        after = created["diff"]["after"]
        assert after["capabilities"] == ["CAP_NET_ADMIN"] and after["cap_drop"] == ["CAP_CHOWN"]
        assert after["ulimits"]["nofile"] == {"soft": 4000, "hard": 4242} and after["pids_limit"] == 77
        fuse = os.stat("/dev/fuse")
        assert after["devices"] == [{"path": "/dev/xfuse", "type": "c", "major": 10, "minor": 229, "access": "rw",
                                     "mode": fuse.st_mode & 0o777}]
        assert after["cpus"] == 0.5 and after["tmpfs"] == {"/cache": "size=2m,noexec,nosuid,nodev"}

    executable, count = counting_ctr
    again, part = converge(run_module, containerd, module, stack_ns, dict(entry, executable=executable))
    assert again["changed"] is False, again
    if module == "containerd_container":
        assert count() == 2, "a no-op run costs containers info + tasks ls, with every option set"

    # Every option changed at once: one recreate, each option named in the differences and shown in the diff.
    changed_entry = dict(entry, **CHANGED)
    changed, part = converge(run_module, containerd, module, stack_ns, changed_entry)
    assert changed["changed"] is True, changed
    named = set(field.split(".")[0] for field in part["differences"])
    # A profile file and containerd's default are both "a profile" in the spec: the options digest tells them
    # apart (it names "options" when nothing else differs); the effect is checked below.
    assert named >= set(CHANGED) - {"seccomp_profile"}, set(CHANGED) - named
    if module == "containerd_container":
        before, after = changed["diff"]["before"], changed["diff"]["after"]
        for option in set(CHANGED) - {"seccomp_profile"}:  # a profile is compared by content, not shown
            assert before[option] != after[option], option
        assert after["capabilities"] == ["CAP_NET_ADMIN", "CAP_SYS_TIME"] and after["pids_limit"] == 88
        assert after["ulimits"]["nofile"] == {"soft": 5000, "hard": 5000}
    pid = ns_tasks(containerd, stack_ns)[name][0]
    assert "CAP_SYS_TIME" in capabilities(pid) and "CAP_MKNOD" not in capabilities(pid)
    assert proc(pid, "limits").count("5000") >= 2 and cgroup_file(pid, "pids", "pids.max") == "88"
    assert status(pid, "NoNewPrivs") == "1" and proc(pid, "oom_score_adj").strip() == "124"
    assert exec_status(containerd, stack_ns, name, "mkdir", "/tmp/allowed-now") == 0, "containerd's default profile"
    assert converge(run_module, containerd, module, stack_ns, changed_entry)[0]["changed"] is False


# Every option's bad values are refused by name in the unit tests (tests/unit/test_containers.py, BAD_VALUES);
# here, that the module says so in one sentence before any ctr call changes anything. The same on every version.
@pytest.mark.newest_only
def test_bad_option_values_are_one_sentence_before_any_change(containerd, run_module, busybox, container_name):
    name = container_name()
    for change, message in [
            (dict(capabilities=["NET_WIZARD"]), "capabilities: unknown capability 'NET_WIZARD'"),
            (dict(ulimits={"nofiles": 10}), "ulimits: unknown limit 'nofiles'"),
            (dict(seccomp_profile="/nonexistent/profile.json"),
             "seccomp_profile /nonexistent/profile.json cannot be read")]:
        result = run_module("containerd_container", **containerd.module_args(
            name=name, image="rig/busybox:1", **change))
        assert result.get("failed") is True, (change, result)
        assert result["msg"].startswith(message) and result["msg"].count(". ") == 0, (change, result["msg"])
        assert "module_stderr" not in result and result.get("actions", []) == [], result
    assert info(containerd, name, "default") is None
