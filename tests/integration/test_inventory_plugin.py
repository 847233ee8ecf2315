"""The inventory plugin ctrops.containerd.containerd through real `ansible-inventory --list/--graph` runs.

A fleet of containers in two namespaces of the rig's containerd (labels, a running, a created and a
stopped task, the same ID in both namespaces) is listed with constructed groups and variables, filters,
the inventory cache, and a host that cannot be reached. ctr runs through a counting wrapper, so each
test also checks what a listing costs.
"""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from conftest import remove_container
from rig.registry import free_port

ANSIBLE_INVENTORY = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
CMDLINE = "tr '\\0' ' ' < /proc/1/cmdline"


@pytest.fixture(scope="module")
def fleet(containerd, rig_images):
    """Namespaces inv-<u>-a (web: running, app=shop tier=front; idle: no task; done: task exited) and
    inv-<u>-b (web: running, app=db); every container carries fleet=<u>. Removed at teardown."""
    u = uuid.uuid4().hex[:8]
    ns_a, ns_b = "inv-%s-a" % u, "inv-%s-b" % u
    image = rig_images["busybox"]
    made = []
    try:
        for namespace in (ns_a, ns_b):
            containerd.ctr_run("images", "import", image["path"], namespace=namespace)

        def make(namespace, name, labels, run=True, cmd=("sleep", "600")):
            made.append((namespace, name))
            flags = []
            for key, value in sorted(dict(labels, fleet=u).items()):
                flags += ["--label", "%s=%s" % (key, value)]
            verb = ["run", "-d"] if run else ["containers", "create"]
            containerd.ctr_run(*(verb + flags + ["--", image["ref"], name] + list(cmd)), namespace=namespace)

        make(ns_a, "web", {"app": "shop", "tier": "front"})
        make(ns_a, "idle", {"app": "shop"}, run=False)
        make(ns_a, "done", {"app": "shop"}, cmd=("true",))
        make(ns_b, "web", {"app": "db"})
        for _attempt in range(100):
            if "STOPPED" in containerd.ctr_run("tasks", "ls", namespace=ns_a).stdout:
                break
            time.sleep(0.05)
        tasks = {}
        for namespace in (ns_a, ns_b):
            for line in containerd.ctr_run("tasks", "ls", namespace=namespace).stdout.splitlines()[1:]:
                name, pid, status = line.split()[:3]
                tasks[(namespace, name)] = (int(pid), status.lower())
        assert tasks[(ns_a, "done")][1] == "stopped", tasks
        yield dict(uid=u, a=ns_a, b=ns_b, tasks=tasks, ref=image["ref"])
    finally:
        for namespace, name in made:
            remove_container(containerd, name, namespace=namespace)
        for namespace in (ns_a, ns_b):
            containerd.ctr_run("images", "rm", image["ref"], namespace=namespace, check=False)
            containerd.ctr_run("namespaces", "rm", namespace, check=False)


def write_inventory(tmp_path, config, name="fleet.containerd.yml"):
    path = tmp_path / name
    path.write_text(json.dumps(dict(config, plugin="ctrops.containerd.containerd")))   # JSON is YAML
    return path


def rig_host(containerd, ctr, **extra):
    return dict(dict(name="rig", address=containerd.address, ctr_path=ctr), **extra)


def inventory(path, *args, **env):
    """One `ansible-inventory -i PATH ARGS` run with only this plugin enabled; the CompletedProcess."""
    environ = dict(os.environ, ANSIBLE_INVENTORY_ENABLED="ctrops.containerd.containerd",
                   ANSIBLE_INVENTORY_UNPARSED_FAILED="true", ANSIBLE_NOCOLOR="1", **env)
    return subprocess.run([ANSIBLE_INVENTORY, "-i", str(path)] + list(args), capture_output=True, text=True,
                          timeout=120, check=False, env=environ)


def plain(value):
    """--list marks strings that came from containerd (not from the configuration) as unsafe: unwrap them."""
    if isinstance(value, dict):
        if list(value) == ["__ansible_unsafe"]:
            return value["__ansible_unsafe"]
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def listed(path, *args, **env):
    proc = inventory(path, "--list", *args, **env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return plain(json.loads(proc.stdout))


def raw_in(path, pattern, command):
    """`ansible PATTERN -i PATH -m raw -a COMMAND` through the connection plugin the inventory names:
    {host: result} of the json callback."""
    env = dict(os.environ, ANSIBLE_INVENTORY_ENABLED="ctrops.containerd.containerd", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="true")
    proc = subprocess.run([ANSIBLE, pattern, "-i", str(path), "-m", "ansible.builtin.raw", "-a", command],
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    try:
        return plain(json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"])
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible printed no JSON result: %s %s" % (proc.stdout[-2000:], proc.stderr[-2000:]))


def members(listing, group):
    return sorted(listing.get(group, {}).get("hosts", []))


def test_groups_and_variables_of_two_namespaces(containerd, fleet, counting_ctr, tmp_path):
    ctr, calls = counting_ctr
    a, b = fleet["a"], fleet["b"]
    path = write_inventory(tmp_path, dict(
        hosts=[rig_host(containerd, ctr)], namespaces=[a, b],
        keyed_groups=[dict(key="containerd_labels.app", prefix="app"),
                      dict(key="containerd_task_status | default('none', true)", prefix="status")],
        groups=dict(front="containerd_labels.tier | default('') == 'front'"),
        compose=dict(short_image="containerd_image.split('/') | last", web_pid="containerd_task_pid")))
    listing = listed(path)
    # Four containers, two listings and two task lists (one per namespace) and one info per container.
    assert calls() == 8
    hostvars = listing["_meta"]["hostvars"]
    # "web" is in both namespaces: host_names=auto names every container NAMESPACE_ID.
    a_web, a_idle, a_done, b_web = ("%s_web" % a, "%s_idle" % a, "%s_done" % a, "%s_web" % b)
    assert sorted(hostvars) == sorted([a_web, a_idle, a_done, b_web])
    assert members(listing, "app_shop") == sorted([a_web, a_idle, a_done])
    assert members(listing, "app_db") == [b_web]
    assert members(listing, "front") == [a_web]
    assert members(listing, "status_running") == sorted([a_web, b_web])
    assert members(listing, "status_stopped") == [a_done]
    assert members(listing, "status_none") == [a_idle]

    web = hostvars[a_web]
    pid = fleet["tasks"][(a, "web")][0]
    assert web["containerd_namespace"] == a and web["containerd_image"] == fleet["ref"]
    assert web["containerd_labels"]["app"] == "shop" and web["containerd_labels"]["fleet"] == fleet["uid"]
    assert (web["containerd_task_status"], web["containerd_task_pid"]) == ("running", pid)
    assert web["containerd_host"] == "rig" and web["containerd_cni"] == [] and web["containerd_cni_addresses"] == []
    assert web["short_image"] == "busybox:1" and web["web_pid"] == pid
    # What the connection plugin reads to reach the container.
    assert web["ansible_connection"] == "ctrops.containerd.containerd"
    assert (web["ansible_host"], web["ansible_containerd_namespace"]) == ("web", a)
    assert (web["ansible_containerd_address"], web["ansible_containerd_ctr_path"]) == (containerd.address, ctr)
    assert web["ansible_containerd_timeout"] == 30 and "ansible_containerd_host" not in web
    assert hostvars[a_idle]["containerd_task_status"] is None and hostvars[a_idle]["containerd_task_pid"] is None
    assert hostvars[b_web]["containerd_labels"]["app"] == "db"

    graph = inventory(path, "--graph")
    assert graph.returncode == 0, graph.stderr
    assert ("@front:\n  |  |--%s" % a_web) in graph.stdout, graph.stdout

    # The variables reach the container through the connection plugin: its PID 1 is the fleet's sleep.
    ran = raw_in(path, "front", CMDLINE)
    assert list(ran) == [a_web] and ran[a_web]["stdout"].strip() == "sleep 600", ran


def test_filters_running_only_labels_and_plain_ids(containerd, fleet, counting_ctr, tmp_path):
    ctr, calls = counting_ctr
    path = write_inventory(tmp_path, dict(hosts=[rig_host(containerd, ctr)], namespaces=[fleet["a"]],
                                          labels=dict(app="shop", tier=None), running_only=True,
                                          read_labels=False, host_names="id", connection_vars=False))
    hostvars = listed(path)["_meta"]["hostvars"]
    # idle has no task, done's task exited, and only web carries a tier label: one host, named by its ID.
    assert sorted(hostvars) == ["web"]
    assert "containerd_labels" not in hostvars["web"] and "ansible_connection" not in hostvars["web"]
    # No namespaces ls (named), no containers info (read_labels false): one listing and one task list.
    assert calls() == 2


def test_cache_answers_without_ctr_until_flushed(containerd, fleet, counting_ctr, tmp_path):
    ctr, calls = counting_ctr
    path = write_inventory(tmp_path, dict(hosts=[rig_host(containerd, ctr)], namespaces=[fleet["b"]],
                                          cache=True, cache_plugin="ansible.builtin.jsonfile",
                                          cache_connection=str(tmp_path / "cache"), cache_timeout=600))
    first = listed(path)
    assert calls() == 3 and sorted(first["_meta"]["hostvars"]) == ["web"]
    containerd.ctr_run("containers", "label", "web", "inventory=changed", namespace=fleet["b"])
    again = listed(path)
    assert calls() == 0 and again == first
    flushed = listed(path, "--flush-cache")
    assert calls() == 3 and flushed["_meta"]["hostvars"]["web"]["containerd_labels"]["inventory"] == "changed"


def test_unreachable_host_warns_or_stops_as_strict_says(containerd, fleet, tmp_path):
    gone = dict(name="gone", address=str(tmp_path / "missing.sock"), ctr_path=containerd.ctr)
    # Every namespace of the rig (the fleet label narrows them to ours), stopped containers left out.
    config = dict(hosts=[rig_host(containerd, containerd.ctr), gone], labels=dict(fleet=fleet["uid"]),
                  running_only=True)
    sentence = "containerd is not reachable at %s on this host (host gone): the socket does not exist" % gone["address"]

    proc = inventory(write_inventory(tmp_path, dict(config, strict=False)), "--list")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert sentence in " ".join(proc.stderr.split()) and "leaves this host out" in proc.stderr
    assert sorted(json.loads(proc.stdout)["_meta"]["hostvars"]) == sorted(["%s_web" % fleet["a"], "%s_web" % fleet["b"]])

    start = time.monotonic()
    proc = inventory(write_inventory(tmp_path, dict(config, strict=True)), "--list")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert sentence in " ".join(proc.stderr.split())
    # The socket is checked before ctr runs: ctr 1.6 would wait 10 s for it.
    assert time.monotonic() - start < 8


def test_containerd_host_over_ssh(containerd, fleet, counting_ctr, sshd, tmp_path):
    """The rig's sshd on 127.0.0.1 stands for a remote containerd host: ctr runs on the far side of ssh."""
    ctr, calls = counting_ctr
    ssh_args = " ".join(sshd.ssh_args)
    node = dict(name="node1", host=sshd.host, port=sshd.port, user=sshd.user, ssh_args=ssh_args,
                address=containerd.address, ctr_path=ctr)
    # A second entry whose sshd does not exist (a closed port): one warning, the first host still listed.
    closed = dict(node, name="node2", port=free_port())
    path = write_inventory(tmp_path, dict(hosts=[node, closed], namespaces=[fleet["a"], fleet["b"]],
                                          keyed_groups=[dict(key="containerd_host", prefix="on")],
                                          groups=dict(up="containerd_task_status == 'running'")))
    proc = inventory(path, "--list")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "containerd host node2 cannot be reached over SSH" in " ".join(proc.stderr.split()), proc.stderr
    listing = plain(json.loads(proc.stdout))
    web = listing["_meta"]["hostvars"]["%s_web" % fleet["a"]]
    assert members(listing, "on_node1") == sorted(listing["_meta"]["hostvars"]) and len(members(listing, "on_node1")) == 4
    assert web["containerd_task_pid"] == fleet["tasks"][(fleet["a"], "web")][0]
    assert web["containerd_labels"]["tier"] == "front" and web["containerd_host"] == "node1"
    assert (web["ansible_containerd_host"], web["ansible_containerd_host_user"]) == (sshd.host, sshd.user)
    assert (web["ansible_containerd_host_port"], web["ansible_containerd_ssh_args"]) == (sshd.port, ssh_args)
    assert web["ansible_containerd_address"] == containerd.address and web["ansible_host"] == "web"
    # The same calls as on the control node, in two ssh connections.
    assert calls() == 8

    # Both running containers through the connection plugin's SSH path, with the variables listed here.
    ran = raw_in(path, "up", CMDLINE)
    assert sorted(ran) == sorted(["%s_web" % fleet["a"], "%s_web" % fleet["b"]]), ran
    assert all(result["stdout"].strip() == "sleep 600" for result in ran.values()), ran


@pytest.fixture
def cni_net(containerd, tmp_path, uid):
    """A bridge network of test_cni_network's kind (its Net helper: names, directories, cleanup)."""
    from test_cni_network import Net, plugin_dir

    network = Net(tmp_path, uid, plugin_dir("1.1.1"))
    network.containerd = containerd
    yield network
    network.cleanup()


# What is read here (libcni's cache, /proc) does not depend on containerd: the newest one suffices.
@pytest.mark.newest_only
def test_cni_addresses_of_attached_containers(containerd, run_module, uid, tmp_path, request):
    busybox, cni_net = request.getfixturevalue("busybox"), request.getfixturevalue("cni_net")
    assert run_module("cni_network", **containerd.module_args(**cni_net.definition(ip_masq=False)))["changed"]
    attached = cni_net.run(busybox, "inv-net-" + uid, "sleep", "600")
    alone = cni_net.run(busybox, "inv-alone-" + uid, "sleep", "600")
    result = run_module("cni_network", **cni_net.attach_args(attached))
    assert result["changed"] is True, result
    address = result["result"]["ips"][0]["address"]

    host = rig_host(containerd, containerd.ctr, cni_cache_dir=cni_net.cache_dir)
    path = write_inventory(tmp_path, dict(hosts=[host], namespaces=["default"], labels={}, host_names="id",
                                          compose=dict(ip="containerd_cni_addresses[0].split('/')[0]")))
    hostvars = listed(path)["_meta"]["hostvars"]
    assert hostvars[attached]["containerd_cni"] == [dict(network=cni_net.name, ifname="eth0", addresses=[address])]
    assert hostvars[attached]["containerd_cni_addresses"] == [address]
    assert hostvars[attached]["ip"] == address.split("/")[0]
    assert hostvars[alone]["containerd_cni"] == [] and "ip" not in hostvars[alone]
