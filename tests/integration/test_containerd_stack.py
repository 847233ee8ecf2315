"""containerd_stack against the rig's containerd, for every version of the matrix.

One stack of three running containers (two join the first one's namespaces) in a namespace of its own
makes most proofs: check mode, the first run, the no-op and its ctr call count, a change that recreates
the joined container and those that join it, an orphan removed.
"""

import hashlib
import os
import signal
import subprocess
import time

import pytest

from conftest import remove_container
from test_cni_network import Net, http_get, nat_rules_of, plugin_dir
from test_containerd_container import info, task


@pytest.fixture
def stack_ns(containerd, uid):
    """A namespace of its own (its images, containers and tasks are removed at teardown)."""
    namespace = "stack-%s" % uid
    yield namespace
    for name in containerd.ctr_run("containers", "ls", "-q", namespace=namespace, check=False).stdout.split():
        remove_container(containerd, name, namespace=namespace)
    for image in containerd.ctr_run("images", "ls", "-q", namespace=namespace, check=False).stdout.split():
        containerd.ctr_run("images", "rm", image, namespace=namespace, check=False)
    containerd.ctr_run("namespaces", "rm", namespace, check=False)


# Ends on SIGTERM (PID 1 ignores a signal it has no handler for): removing an orphan waits out the default
# stop_timeout (10 s) otherwise.
QUICK_STOP = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]


def ns_tasks(containerd, namespace):
    """{container: (pid, status)} of a namespace, as the tests' own ctr sees it."""
    rows = containerd.ctr_run("tasks", "ls", namespace=namespace).stdout.splitlines()[1:]
    return dict((fields[0], (int(fields[1]), fields[2].lower())) for fields in (row.split() for row in rows) if fields)


def netns(pid, kind="net"):
    return os.readlink("/proc/%d/ns/%s" % (pid, kind))


@pytest.mark.smoke
def test_stack_converges_predicts_and_costs_constant_calls(containerd, run_module, rig_images, stack_ns, uid,
                                                           counting_ctr):
    web, side, tool = ("%s-%s" % (part, uid) for part in ("web", "side", "tool"))
    image = dict(name=rig_images["busybox"]["ref"], source="archive", archive_path=rig_images["busybox"]["path"])
    common = dict(image="rig/busybox:1", command=QUICK_STOP, state="running", stop_timeout=1)
    containers = [
        # Declared before the container whose namespaces they join: the module orders them.
        dict(common, name=side, network_from=web, labels={"role": "sidecar"}),
        # IPC, not PID: a PID namespace ends with its first process, which would end tool with web.
        dict(common, name=tool, ipc_from=web),
        dict(common, name=web, env={"MODE": "one"}),
    ]
    args = containerd.module_args(name="shop", namespace=stack_ns, images=[image], containers=containers,
                                  remove_orphans=True)

    predicted = run_module("containerd_stack", check=True, **args)
    assert predicted["changed"] is True, predicted
    assert predicted["actions"][0] == "import docker.io/rig/busybox:1 from %s" % image["archive_path"]
    assert predicted["actions"].index("start task %s" % web) < predicted["actions"].index("create container %s" % side)
    assert [c["status"] for c in predicted["containers"]] == ["running"] * 3
    assert ns_tasks(containerd, stack_ns) == {} and info(containerd, web) is None, "check mode changed something"

    first = run_module("containerd_stack", **args)
    assert first["changed"] is True, first
    assert first["actions"] == predicted["actions"], "check mode predicted the actions"
    tasks = ns_tasks(containerd, stack_ns)
    assert set(tasks) == {web, side, tool} and all(status == "running" for _pid, status in tasks.values()), tasks
    assert netns(tasks[side][0]) == netns(tasks[web][0]), "side joins web's network namespace"
    assert netns(tasks[tool][0], "ipc") == netns(tasks[web][0], "ipc"), "tool joins web's IPC namespace"
    by_name = dict((c["name"], c) for c in first["containers"])
    assert by_name[web]["pid"] == tasks[web][0] and by_name[web]["changed"] is True
    assert by_name[side]["actions"] == ["create container %s" % side, "start task %s" % side]
    assert first["diff"]["before"][side] == {"exists": False, "task": {"status": None}}
    labels = first["diff"]["after"][side]["labels"]
    assert labels["role"] == "sidecar" and labels["ctrops.containerd/stack"] == "shop", labels
    assert first["diff"]["after"][side]["task"] == {"status": "running"}
    assert first["images"][0]["changed"] is True

    executable, count = counting_ctr
    again = run_module("containerd_stack", **dict(args, executable=executable))
    assert again["changed"] is False and again["actions"] == [], again
    assert [c["pid"] for c in again["containers"]] == [tasks[side][0], tasks[tool][0], tasks[web][0]]
    assert again["diff"]["before"] == again["diff"]["after"] == {}
    # orphans ls, images ls + check, one filtered containers ls, tasks ls: whatever the number of containers.
    assert count() == 5, "a no-op stack run of running containers should cost 5 ctr calls"
    assert run_module("containerd_stack", check=True, **args)["changed"] is False

    # web's spec changes: web is recreated, side (which joins its network) follows it into the new
    # namespace, tool is no longer declared and goes as an orphan.
    changed = dict(args, containers=[containers[0], dict(containers[2], env={"MODE": "two"})])
    predicted = run_module("containerd_stack", check=True, **changed)
    applied = run_module("containerd_stack", **changed)
    assert applied["changed"] is True and applied["actions"] == predicted["actions"], (predicted, applied)
    by_name = dict((c["name"], c) for c in applied["containers"])
    assert by_name[web]["differences"] == ["env.MODE"]
    assert by_name[side]["differences"] == ["network_from"]
    assert by_name[tool]["orphan"] is True and by_name[tool]["exists"] is False
    tasks = ns_tasks(containerd, stack_ns)
    assert set(tasks) == {web, side} and netns(tasks[side][0]) == netns(tasks[web][0])
    assert applied["diff"]["after"][web]["env"]["MODE"] == "two"

    run_module("containerd_stack", **dict(changed, executable=executable))
    count()
    assert run_module("containerd_stack", **dict(changed, executable=executable))["changed"] is False
    assert count() == 5, "the no-op cost does not depend on the number of containers"


def test_stack_bad_input_is_one_sentence_before_any_change(containerd, run_module, stack_ns, uid, tmp_path):
    a, b = "a-%s" % uid, "b-%s" % uid
    ok = dict(name=a, image="rig/busybox:1", command="sleep 600", state="running")
    cases = [
        ([ok, dict(ok)], "Container %s is declared twice in containers: give each entry its own name." % a),
        ([ok, dict(ok, name=b, network_from="ghost-%s" % uid)],
         "Container %s joins the network namespace of ghost-%s (network_from), a container this stack does not "
         "declare and that does not exist: declare it in containers or fix the name." % (b, uid)),
        ([ok, dict(name=b, state="running")],
         "state=running needs the image option: the image to create container %s from." % b),
        ([dict(ok, pid_from=b), dict(ok, name=b, network_from=a)],
         "Containers %s and %s join each other's namespaces in a cycle (%s -> %s -> %s): one of them must make "
         "its own." % (a, b, a, b, a)),
        ([dict(ok, labels={"ctrops.containerd/stack": "x"})],
         "Container %s sets the label ctrops.containerd/stack, which containerd_stack sets to the stack name: "
         "leave it out." % a),
        ([ok, dict(ok, name=b, networks=["ghost"])],
         "Container %s attaches to network ghost, which is not defined in %s: create it first "
         "(ctrops.containerd.cni_network) or fix the name or cni.conf_dir." % (b, tmp_path)),
        ([dict(ok, networks=["net", dict(name="other", ifname="eth0")])],
         "Container %s attaches two networks through interface eth0: give each its own ifname." % a),
    ]
    for containers, message in cases:
        result = run_module("containerd_stack", **containerd.module_args(name="bad", namespace=stack_ns,
                                                                         containers=containers,
                                                                         cni=dict(conf_dir=str(tmp_path))))
        assert result.get("failed") is True and result["msg"] == message, result
        assert result["actions"] == []
    assert containerd.ctr_run("containers", "ls", "-q", namespace=stack_ns).stdout.split() == []


def test_stack_failing_container_leaves_the_others_converged(containerd, run_module, rig_images, stack_ns, uid):
    good, bad, joined = "good-%s" % uid, "bad-%s" % uid, "joined-%s" % uid
    args = containerd.module_args(name="mixed", namespace=stack_ns, images=[dict(
        name=rig_images["busybox"]["ref"], source="archive", archive_path=rig_images["busybox"]["path"])],
        containers=[dict(name=bad, image="rig/absent:1", state="running"),
                    dict(name=joined, image="rig/busybox:1", command="sleep 600", network_from=bad,
                         state="running"),
                    dict(name=good, image="rig/busybox:1", command="sleep 600", state="running")])
    result = run_module("containerd_stack", **args)
    assert result.get("failed") is True, result
    assert result["msg"].startswith("Stack mixed did not converge container %s (Image docker.io/rig/absent:1 is "
                                    "not in containerd" % bad), result["msg"]
    assert "container %s (not converged, because %s failed)" % (joined, bad) in result["msg"]
    assert result["msg"].endswith("; the others did.")
    assert ns_tasks(containerd, stack_ns)[good][1] == "running"
    assert info(containerd, bad) is None and task(containerd, joined) is None


@pytest.fixture
def stack_net(tmp_path, uid):
    """A CNI bridge network of its own (Debian 12's plugins; test_cni_network covers both plugin versions).
    Requested before stack_ns, so it is removed after the stack's containers: bridge, ipMasq rules."""
    network = Net(tmp_path, uid, plugin_dir("1.1.1"))
    yield network
    network.cleanup()


def addresses_in(pid, ifname):
    """The IPv4 addresses of ``ifname`` in the network namespace of ``pid``, as the kernel has them."""
    out = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % pid, "ip", "-o", "-4", "addr", "show", "dev", ifname],
                         capture_output=True, text=True, check=False).stdout
    return [line.split()[3] for line in out.splitlines()]


def test_stack_networks_attach_follow_recreate_and_detach(containerd, run_module, rig_images, stack_net, stack_ns,
                                                          uid, counting_ctr):
    a, b = "neta-%s" % uid, "netb-%s" % uid
    assert run_module("cni_network", **stack_net.definition())["changed"] is True
    cni = stack_net.cni_options()
    image = dict(name=rig_images["busybox"]["ref"], source="archive", archive_path=rig_images["busybox"]["path"])
    common = dict(image="rig/busybox:1", command=QUICK_STOP, state="running", stop_timeout=1)
    args = containerd.module_args(name="netted", namespace=stack_ns, images=[image], cni=cni, remove_orphans=True,
                                  containers=[dict(common, name=a, networks=[stack_net.name]), dict(common, name=b)])
    attach_a = "attach %s/eth0 to network %s" % (a, stack_net.name)
    pinned_a = pinned(stack_net, containerd, stack_ns, a)

    predicted = run_module("containerd_stack", check=True, **args)
    assert predicted["changed"] is True and attach_a in predicted["actions"], predicted
    # The task is started in a namespace that has its network already.
    assert predicted["actions"].index("create network namespace %s" % pinned_a) \
        < predicted["actions"].index(attach_a) < predicted["actions"].index("start task %s" % a)
    assert not os.path.exists(stack_net.cache_file(a)) and stack_net.leases() == [], "check mode attached"
    assert not os.path.exists(pinned_a), "check mode made the namespace"

    first = run_module("containerd_stack", **args)
    assert first["changed"] is True and first["actions"] == predicted["actions"], (predicted, first)
    by_name = dict((c["name"], c) for c in first["containers"])
    [address] = by_name[a]["networks"][0]["addresses"]
    assert by_name[a]["networks"] == [dict(name=stack_net.name, ifname="eth0", addresses=[address])]
    assert by_name[b]["networks"] == []
    assert addresses_in(by_name[a]["pid"], "eth0") == [address], "the task's netns holds the address"
    assert os.stat(pinned_a).st_ino == os.stat("/proc/%d/ns/net" % by_name[a]["pid"]).st_ino
    assert first["diff"]["before"][a]["networks"] == [] and first["diff"]["after"][a]["networks"] == \
        by_name[a]["networks"]
    assert len(stack_net.leases()) == 1 and os.path.exists(stack_net.cache_file(a))

    # The no-op reads the attachment from the libcni cache: no ctr call beyond the stack's own five.
    executable, count = counting_ctr
    again = run_module("containerd_stack", **dict(args, executable=executable))
    assert again["changed"] is False and again["actions"] == [], again
    assert again["containers"][0]["networks"] == by_name[a]["networks"]
    assert count() == 5, "attachments cost no ctr call in a no-op"
    assert run_module("containerd_stack", check=True, **args)["changed"] is False

    # a drops the network (its container no longer joins the pinned namespace: recreated), b joins it through a
    # fixed interface name: one lease, a's released with its namespace.
    pinned_b = pinned(stack_net, containerd, stack_ns, b)
    attach_b = "attach %s/net1 to network %s" % (b, stack_net.name)
    moved = dict(args, containers=[dict(common, name=a), dict(common, name=b, networks=[
        dict(name=stack_net.name, ifname="net1")])])
    predicted = run_module("containerd_stack", check=True, **moved)
    applied = run_module("containerd_stack", **moved)
    assert applied["actions"] == predicted["actions"], (predicted, applied)
    actions = applied["actions"]
    assert actions.index("detach %s/eth0 from network %s" % (a, stack_net.name)) \
        < actions.index("remove network namespace %s" % pinned_a) \
        < actions.index("create network namespace %s" % pinned_b) < actions.index(attach_b) \
        < actions.index("start task %s" % b), actions
    by_name = dict((c["name"], c) for c in applied["containers"])
    [address_b] = by_name[b]["networks"][0]["addresses"]
    assert addresses_in(by_name[b]["pid"], "net1") == [address_b] and addresses_in(by_name[a]["pid"], "eth0") == []
    assert applied["diff"]["before"][a]["networks"][0]["name"] == stack_net.name
    assert applied["diff"]["after"][a]["networks"] == []
    assert len(stack_net.leases()) == 1 and not os.path.exists(stack_net.cache_file(a))
    assert not os.path.exists(pinned_a)

    # b is recreated, then restarted (a handler's restart): its new tasks join the same namespace, which keeps
    # its address; nothing to repair, still one lease.
    recreated = dict(moved, containers=[moved["containers"][0], dict(moved["containers"][1], env={"V": "2"})])
    restarted = dict(recreated, containers=[recreated["containers"][0], dict(recreated["containers"][1],
                                                                             state="restarted")])
    pid = by_name[b]["pid"]
    for changed in (recreated, restarted):
        predicted = run_module("containerd_stack", check=True, **changed)
        applied = run_module("containerd_stack", **changed)
        assert applied["changed"] is True and applied["actions"] == predicted["actions"], (predicted, applied)
        assert applied["actions"][-1] == "start task %s" % b and not any(
            "attach" in action for action in applied["actions"]), applied
        new_b = applied["containers"][1]
        assert new_b["pid"] != pid and new_b["networks"][0]["addresses"] == [address_b]
        assert addresses_in(new_b["pid"], "net1") == [address_b] and len(stack_net.leases()) == 1
        pid = new_b["pid"]

    # Removing the stack's containers releases their attachments and namespaces: no lease, no cache entry, no
    # ipMasq rule, no mount.
    gone = run_module("containerd_stack", **dict(args, containers=[]))
    assert "detach %s/net1 from network %s" % (b, stack_net.name) in gone["actions"], gone
    assert "remove network namespace %s" % pinned_b in gone["actions"], gone
    assert stack_net.leases() == [] and not os.listdir(os.path.join(stack_net.cache_dir, "results"))
    assert nat_rules_of(stack_net.name) == [] and os.listdir(stack_net.netns_dir) == []


def pinned(net, containerd, namespace, name):
    """The file a stack container's pinned network namespace is mounted on (netns.pinned_path's rule)."""
    digest = hashlib.sha256(("%s\0%s\0%s" % (containerd.address, namespace, name)).encode()).hexdigest()[:8]
    return os.path.join(net.netns_dir, "ctrops-%s-%s-%s" % (namespace, name, digest))


def test_stack_readiness_probes_the_address_its_networks_give(
        containerd, run_module, rig_images, stack_net, stack_ns, uid):
    assert run_module("cni_network", **stack_net.definition())["changed"] is True
    cni = stack_net.cni_options()
    image = dict(name=rig_images["busybox"]["ref"], source="archive", archive_path=rig_images["busybox"]["path"])
    served = dict(name="served-%s" % uid, image="rig/busybox:1", command="httpd -f -p 8080", state="running",
                  stop_timeout=1, networks=[stack_net.name], ready=dict(tcp=8080, timeout=20, interval=0.2))
    args = containerd.module_args(name="probed", namespace=stack_ns, images=[image], cni=cni, containers=[served])

    # Before the attachment there is no address: check mode names the network instead of failing.
    predicted = run_module("containerd_stack", check=True, **args)
    assert predicted["changed"] is True, predicted
    assert predicted["containers"][0]["ready"]["checked"] is False
    assert predicted["containers"][0]["ready"]["target"] == "(its address on %s):8080" % stack_net.name

    first = run_module("containerd_stack", **args)
    assert first["changed"] is True, first
    [address] = first["containers"][0]["networks"][0]["addresses"]
    ready = first["containers"][0]["ready"]
    assert ready["ready"] is True and ready["target"] == "%s:8080" % address.split("/")[0], ready
    again = run_module("containerd_stack", **args)
    assert again["changed"] is False and "ready" not in again["containers"][0], again


def wait_new_task(containerd, namespace, name, old_pid, timeout=25):
    """Seconds until ``name`` runs a task other than ``old_pid`` (containerd's restart monitor polls every 10 s)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        current = ns_tasks(containerd, namespace).get(name)
        if current and current[1] == "running" and current[0] != old_pid:
            return current[0], time.monotonic() - start
        time.sleep(0.1)
    pytest.fail("the task of %s was not started again: %s" % (name, ns_tasks(containerd, namespace).get(name)))


def test_stack_service_keeps_its_network_whoever_starts_its_task(containerd, run_module, rig_images, stack_net,
                                                                 stack_ns, uid):
    """A networked service with restart_policy=always answers on its address again after containerd's restart monitor
    starts it (after a kill, and after it died while containerd was down) with no Ansible run; any number of task
    starts hold one lease; its network_from sidecar still reaches it; the next run changes nothing."""
    web, side = "web-%s" % uid, "side-%s" % uid
    assert run_module("cni_network", **stack_net.definition())["changed"] is True
    cni = stack_net.cni_options()
    image = dict(name=rig_images["busybox"]["ref"], source="archive", archive_path=rig_images["busybox"]["path"])
    args = containerd.module_args(name="served", namespace=stack_ns, images=[image], cni=cni, containers=[
        dict(name=web, image="rig/busybox:1", command="httpd -f -p 80 -h /etc", state="running", stop_timeout=0,
             restart_policy="always", networks=[stack_net.name]),
        dict(name=side, image="rig/busybox:1", command="sleep 600", state="running", stop_timeout=0,
             network_from=web)])
    first = run_module("containerd_stack", **args)
    assert first["changed"] is True, first
    address = first["containers"][0]["networks"][0]["addresses"][0].split("/")[0]
    page = "http://%s/passwd" % address
    assert "root:" in http_get(page)
    pid = first["containers"][0]["pid"]

    os.kill(pid, signal.SIGKILL)
    pid, after_kill = wait_new_task(containerd, stack_ns, web, pid)
    assert "root:" in http_get(page), "the restarted task lost its network"

    containerd.kill_daemon()
    try:
        os.kill(pid, signal.SIGKILL)
    finally:
        back = time.monotonic()
        containerd.restart()
    pid = wait_new_task(containerd, stack_ns, web, pid)[0]
    after_daemon = time.monotonic() - back  # from the daemon's start: the monitor's first pass comes at once
    assert "root:" in http_get(page), "the task started after containerd came back lost its network"

    # Ten more task starts, as the monitor makes them (kill, delete, new task): the one lease stays.
    for _round in range(10):
        containerd.ctr_run("tasks", "kill", "-s", "SIGKILL", web, namespace=stack_ns, check=False)
        deadline = time.monotonic() + 10
        while containerd.ctr_run("tasks", "delete", web, namespace=stack_ns, check=False).returncode != 0 \
                and time.monotonic() < deadline and ns_tasks(containerd, stack_ns).get(web, (0, ""))[1] != "running":
            time.sleep(0.05)
        containerd.ctr_run("tasks", "start", "--null-io", "-d", web, namespace=stack_ns, check=False)
        pid = wait_new_task(containerd, stack_ns, web, pid)[0]
    assert "root:" in http_get(page) and len(stack_net.leases()) == 1, stack_net.leases()
    reached = containerd.ctr_run("tasks", "exec", "--exec-id", "nc", side, "sh", "-c",
                                 '(printf "GET /passwd HTTP/1.0\\r\\n\\r\\n"; sleep 1) | nc -w 5 127.0.0.1 80 | grep -q root:',
                                 namespace=stack_ns, check=False, timeout=30)
    assert reached.returncode == 0, "the sidecar no longer shares the service's namespace: %s" % reached

    again = run_module("containerd_stack", **args)
    assert again["changed"] is False and again["actions"] == [], again
    print("recovery: %.1f s after a kill, %.1f s after containerd came back" % (after_kill, after_daemon))
