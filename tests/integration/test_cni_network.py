"""cni_network against real CNI plugins (Debian 12's 1.1.1 and Debian unstable's 1.9.1) and, for
attachments, the rig's containerd of every matrix version.

Everything a test creates lives under its tmp_path (conf_dir, cache_dir, IPAM dataDir) or carries
its unique names (network ct-<uid>, bridge ct<uid>); the ``net`` fixture removes the bridge, veths,
ipMasq rules and containers afterwards, and fails the test if anything was still there after that.
"""

import base64
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from rig.containerd import mounts_under

PLUGINS = {
    "1.1.1": "/usr/lib/cni",
    "1.9.1": os.path.join(os.environ.get("CTROPS_CACHE", "/var/cache/ctrops-tests"),
                          "cni-plugins-sid", "usr", "lib", "cni"),
}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
# 10.89.<third>.0/24 per test network; each pytest-xdist worker (gw0, gw1, ...) takes its own hundred.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
_subnets = itertools.count(100 * (_WORKER % 2))


def plugin_dir(version):
    path = PLUGINS[version]
    if not os.path.exists(os.path.join(path, "bridge")):
        pytest.fail("CNI plugins %s are not installed at %s: run `make setup`" % (version, path))
    return path


def chain_exists(chain):
    return subprocess.run(["iptables", "-w", "-t", "nat", "-S", chain], capture_output=True,
                          check=False).returncode == 0


def masq_chain(network, container):
    return "CNI-" + hashlib.sha512((network + container).encode()).hexdigest()[:24]


def nat_rules_of(network):
    out = subprocess.run(["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True, check=True).stdout
    # -S prints the rule comment 'name: "NET" id: "ID"' with escaped quotes.
    return [line for line in out.splitlines() if 'name: \\"%s\\"' % network in line]


def links_of(bridge):
    """Links named ``bridge`` or enslaved to it."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip() for line in out.splitlines()
            if (": %s:" % bridge) in line or (" master %s " % bridge) in line]


def leases(data_dir, network):
    directory = os.path.join(data_dir, network)
    if not os.path.isdir(directory):
        return []
    return sorted(name for name in os.listdir(directory) if name not in ("lock",) and not name.startswith("last_"))


class Net:
    """One test's network: names, directories, containers; cleans all of it up."""

    def __init__(self, tmp_path, uid, plugins):
        self.name = "ct-" + uid
        self.bridge = "ct" + uid
        third = 20 + next(_subnets) % 200
        self.subnet = "10.89.%d.0/24" % third
        self.gateway = "10.89.%d.1" % third
        self.conf_dir = str(tmp_path / "net.d")
        self.cache_dir = str(tmp_path / "cache")
        self.data_dir = str(tmp_path / "ipam")
        self.netns_dir = str(tmp_path / "netns")  # pinned network namespaces of containers with networks
        self.etc_dir = str(tmp_path / "etc")  # their resolv.conf and hosts files
        self.bin_dirs = [plugins]
        self.containers = []
        self.containerd = None

    def definition(self, **extra):
        """Options of the notes' bridge network (ipMasq on) in this test's directories."""
        args = dict(name=self.name, conf_dir=self.conf_dir, cache_dir=self.cache_dir, bin_dirs=self.bin_dirs,
                    bridge=self.bridge, subnet=self.subnet, gateway=self.gateway, ip_masq=True,
                    routes=["0.0.0.0/0"], dns={"nameservers": ["10.89.0.53"]}, ipam_data_dir=self.data_dir)
        args.update(extra)
        return args

    def attach_args(self, container, **extra):
        args = dict(name=self.name, conf_dir=self.conf_dir, cache_dir=self.cache_dir, bin_dirs=self.bin_dirs,
                    container=container, state="attached")
        args.update(extra)
        return self.containerd.module_args(**args)

    def cni_options(self):
        """containerd_container's and containerd_stack's option cni: every directory in this test's tmp_path."""
        return dict(conf_dir=self.conf_dir, cache_dir=self.cache_dir, bin_dirs=self.bin_dirs, netns_dir=self.netns_dir,
                    etc_dir=self.etc_dir)

    def cache_file(self, container, ifname="eth0"):
        return os.path.join(self.cache_dir, "results", "%s-%s-%s" % (self.name, container, ifname))

    def leases(self):
        return leases(self.data_dir, self.name)

    # -- containers, started with the rig's own ctr ---------------------------------

    def run(self, image_ref, name, *cmd):
        self.containers.append(name)
        self.containerd.ctr_run("run", "-d", image_ref, name, *cmd)
        return name

    def kill_task(self, name):
        self.containerd.ctr_run("tasks", "kill", "-a", "-s", "SIGKILL", name, check=False)
        for _attempt in range(100):
            if self.containerd.ctr_run("tasks", "delete", name, check=False).returncode == 0:
                return
            if name not in self.containerd.ctr_run("tasks", "ls", "-q").stdout.split():
                return
            time.sleep(0.1)
        raise AssertionError("task %s did not stop" % name)

    # -- teardown ----------------------------------------------------------------------

    def cleanup(self):
        """Remove everything; return what was still there before the removal (for the report)."""
        if self.containerd is not None:
            for name in self.containers:
                self.kill_task(name)
                self.containerd.ctr_run("containers", "delete", name, check=False)
        found = {"links": links_of(self.bridge), "nat rules": nat_rules_of(self.name)}
        pinned = mounts_under(self.netns_dir)
        if pinned:
            found["pinned network namespaces"] = pinned
            for point in pinned:
                subprocess.run(["umount", "-l", point], check=False)
        for line in found["nat rules"]:
            if line.startswith("-A "):
                subprocess.run(["iptables", "-w", "-t", "nat", "-D"] + _split(line)[1:], check=False)
        for container in self.containers:
            chain = masq_chain(self.name, container)
            if chain_exists(chain):
                found.setdefault("nat chains", []).append(chain)
                subprocess.run(["iptables", "-w", "-t", "nat", "-F", chain], check=False)
                subprocess.run(["iptables", "-w", "-t", "nat", "-X", chain], check=False)
        if self.bridge in found["links"]:
            subprocess.run(["ip", "link", "delete", self.bridge], check=False)
        left = {"links": links_of(self.bridge), "nat rules": nat_rules_of(self.name),
                "pinned network namespaces": mounts_under(self.netns_dir),
                "nat chains": [masq_chain(self.name, c) for c in self.containers
                               if chain_exists(masq_chain(self.name, c))]}
        if any(left.values()):
            raise AssertionError("cleanup of %s failed, still present: %s" % (self.name, left))
        return found


def _split(line):
    import shlex
    return shlex.split(line)


@pytest.fixture(params=sorted(PLUGINS))
def net(request, tmp_path, uid):
    network = Net(tmp_path, uid, plugin_dir(request.param))
    network.plugins_version = request.param
    yield network
    network.cleanup()


@pytest.fixture
def net_1_1(tmp_path, uid):
    network = Net(tmp_path, uid, plugin_dir("1.1.1"))
    yield network
    network.cleanup()


@pytest.fixture
def net_1_9(tmp_path, uid):
    network = Net(tmp_path, uid, plugin_dir("1.9.1"))
    yield network
    network.cleanup()


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def http_get(url, attempts=20):
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.read().decode()
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.25)
    return None


def fetch_from(containerd, container, address, attempts=5):
    """GET http://address/ from inside ``container`` (ctr tasks exec); the page, or the last output.

    busybox-static's wget segfaults on Debian 12 (also on the host), so nc speaks HTTP/1.0; stdin stays
    open a moment so nc does not quit before the answer, and a few bounded attempts absorb a slow first
    connection on a new bridge port.
    """
    script = '(printf "GET / HTTP/1.0\\r\\n\\r\\n"; sleep 1) | nc -w 5 %s 80' % address
    out = ""
    for attempt in range(attempts):
        proc = containerd.ctr_run("tasks", "exec", "--exec-id", "nc-%d" % attempt, container, "sh", "-c", script,
                                  check=False, timeout=30)
        out = proc.stdout + proc.stderr
        if "200 OK" in out:
            return out
        time.sleep(0.5)
    return out


def define(run_module, net, **extra):
    result = run_module("cni_network", **net.definition(**extra))
    assert result.get("failed") is not True and result["changed"] is True, json.dumps(result)
    return result


def ip_of(result):
    assert len(result["addresses"]) == 1, result
    return result["addresses"][0].split("/")[0]


# -- definitions ------------------------------------------------------------------------

def test_definition_written_once_unchanged_and_edited_with_diff(run_module, net):
    args = net.definition()
    path = os.path.join(net.conf_dir, "10-%s.conflist" % net.name)

    predicted = run_module("cni_network", check=True, **args)
    assert predicted["changed"] is True, predicted
    assert not os.path.exists(path), "check mode wrote the file"

    written = run_module("cni_network", **args)
    assert written["changed"] is True, written
    assert written["actions"] == ["create directory %s" % net.conf_dir, "write %s" % path]
    assert os.stat(path).st_mode & 0o777 == 0o644
    config = read_json(path)
    assert config == {
        "cniVersion": "1.0.0", "name": net.name,
        "plugins": [{"type": "bridge", "bridge": net.bridge, "isGateway": True, "ipMasq": True,
                     "ipam": {"type": "host-local", "ranges": [[{"subnet": net.subnet, "gateway": net.gateway}]],
                              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": net.data_dir},
                     "dns": {"nameservers": ["10.89.0.53"]}}],
    }
    assert written["network"]["config"] == config
    assert written["diff"]["before"] == "" and json.loads(written["diff"]["after"]) == config

    # Same JSON written differently: parsed content is compared, not bytes.
    with open(path, "w") as handle:
        json.dump(config, handle, separators=(",", ":"))
    os.chmod(path, 0o644)
    again = run_module("cni_network", **args)
    assert again["changed"] is False, again
    assert run_module("cni_network", check=True, **args)["changed"] is False

    edited = run_module("cni_network", backup=True, **dict(args, ip_masq=False))
    assert edited["changed"] is True
    assert '"ipMasq": true' in edited["diff"]["before"] and '"ipMasq": false' in edited["diff"]["after"]
    assert read_json(path)["plugins"][0]["ipMasq"] is False
    assert read_json(edited["backup_file"])["plugins"][0]["ipMasq"] is True
    assert sorted(os.listdir(net.conf_dir)) == sorted([os.path.basename(path), os.path.basename(edited["backup_file"])])


def test_loopback_in_the_single_plugin_format_and_absent(run_module, tmp_path):
    conf_dir = str(tmp_path / "net.d")
    args = dict(name="lo", type="loopback", format="conf", priority=99, cni_version="0.4.0", conf_dir=conf_dir,
                bin_dirs=[PLUGINS["1.1.1"]])
    assert run_module("cni_network", **args)["changed"] is True
    path = os.path.join(conf_dir, "99-lo.conf")
    assert read_json(path) == {"cniVersion": "0.4.0", "name": "lo", "type": "loopback"}
    assert run_module("cni_network", **args)["changed"] is False

    absent = dict(name="lo", state="absent", conf_dir=conf_dir)
    assert run_module("cni_network", check=True, **absent)["changed"] is True
    assert os.path.exists(path)
    removed = run_module("cni_network", **absent)
    assert removed["changed"] is True and removed["actions"] == ["remove %s" % path]
    assert not os.path.exists(path)
    assert run_module("cni_network", **absent)["changed"] is False


def _bridge_config(**plugin):
    base = {"type": "bridge", "bridge": "ctbad0",
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.89.9.0/24", "gateway": "10.89.9.1"}]]}}
    base.update(plugin)
    return {"cniVersion": "1.0.0", "plugins": [base]}


@pytest.mark.parametrize("config, fragment", [
    (dict(_bridge_config(), cniVersion="0.9.9"), "cniVersion '0.9.9' is not a CNI spec version"),
    ({"cniVersion": "1.0.0", "plugins": [{"bridge": "x"}]}, 'plugin 1 has no "type"'),
    ({"plugins": [{"type": "bridge"}]}, '"cniVersion" is missing'),
    (_bridge_config(type="nosuchplugin"), "CNI plugin 'nosuchplugin' was not found as an executable in"),
    (dict(_bridge_config(), cniVersion="1.1.0"), "does not support cniVersion 1.1.0"),
    (_bridge_config(ipam={"type": "host-local", "ranges": [[{"subnet": "10.89.9.0/24", "gateway": "10.89.8.1"}]]}),
     "gateway 10.89.8.1 is not inside subnet 10.89.9.0/24"),
    (_bridge_config(ipam={"type": "host-local", "ranges": [[{"subnet": "10.89.9.7/24"}]]}), "has host bits set"),
    (_bridge_config(ipam={"type": "host-local", "ranges": [[{"subnet": "10.89.9.0/24", "rangeStart": "10.89.9.50",
                                                             "rangeEnd": "10.89.9.10"}]]}),
     "rangeStart 10.89.9.50 comes after rangeEnd 10.89.9.10"),
    (_bridge_config(ipam={"type": "host-local"}), 'host-local IPAM needs "ranges"'),
    (dict(_bridge_config(), name="other"), "names network 'other' but option name is"),
], ids=["version", "type", "no-version", "missing-plugin", "unsupported-version", "gateway", "host-bits",
        "range", "no-ranges", "name-mismatch"])
def test_invalid_config_is_a_clear_error_and_writes_nothing(run_module, tmp_path, config, fragment):
    conf_dir = tmp_path / "net.d"
    result = run_module("cni_network", name="bad", config=config, conf_dir=str(conf_dir),
                        bin_dirs=[PLUGINS["1.1.1"]])
    assert result.get("failed") is True, result
    assert fragment in result["msg"], result["msg"]
    assert "Traceback" not in str(result)
    assert not conf_dir.exists(), os.listdir(str(conf_dir))


def test_check_mode_on_a_host_without_plugins_predicts_and_names_them(run_module, tmp_path):
    """A dry run of a fresh host: the plugins' install task only predicted its change."""
    conf_dir, bin_dir = tmp_path / "net.d", tmp_path / "not-installed-yet"
    args = dict(name="fresh", config=_bridge_config(), conf_dir=str(conf_dir), bin_dirs=[str(bin_dir)])
    predicted = run_module("cni_network", check=True, **args)
    assert predicted.get("failed") is not True and predicted["changed"] is True, predicted
    assert predicted["plugins_not_found"] == ["bridge", "host-local"], predicted
    assert any("not found in %s" % bin_dir in w for w in predicted.get("warnings", [])), predicted
    assert not conf_dir.exists()
    real = run_module("cni_network", **args)
    assert real.get("failed") is True and "CNI plugin 'bridge' was not found" in real["msg"], real
    assert not conf_dir.exists()


def test_name_used_by_another_file_is_refused(run_module, tmp_path):
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    other = conf_dir / "50-legacy.conf"
    other.write_text(json.dumps({"cniVersion": "0.4.0", "name": "dup", "type": "loopback"}))
    result = run_module("cni_network", name="dup", type="loopback", conf_dir=str(conf_dir),
                        bin_dirs=[PLUGINS["1.1.1"]])
    assert result.get("failed") is True
    assert result["msg"].startswith("Network name dup is already used by %s" % other), result["msg"]
    assert os.listdir(str(conf_dir)) == ["50-legacy.conf"]


# -- attachments ------------------------------------------------------------------------

@pytest.mark.smoke
def test_attach_reach_reattach_repair_and_detach(containerd, run_module, rig_images, import_image, net, uid):
    net.containerd = containerd
    define(run_module, net)
    web = net.run(import_image(rig_images["web"]), "web-" + uid)
    client = net.run(import_image(rig_images["busybox"]), "bb-" + uid, "sleep", "600")

    predicted = run_module("cni_network", check=True, **net.attach_args(web))
    assert predicted["changed"] is True and predicted["actions"] == ["attach %s/eth0" % web]
    assert not os.path.exists(net.cache_file(web)), "check mode attached"

    first = run_module("cni_network", **net.attach_args(web))
    assert first["changed"] is True, first
    second = run_module("cni_network", **net.attach_args(client))
    assert second["changed"] is True, second
    web_ip, client_ip = ip_of(first), ip_of(second)
    assert web_ip != client_ip
    assert first["result"]["ips"][0]["gateway"] == net.gateway
    assert first["result"]["dns"] == {"nameservers": ["10.89.0.53"]}
    assert first["attachment"]["netns"].startswith("/proc/") and first["attachment"]["attached"] is True
    assert len(net.leases()) == 2

    # libcni's cache format and place.
    cached = read_json(net.cache_file(web))
    assert cached["kind"] == "cniCacheV1" and cached["containerId"] == web and cached["ifName"] == "eth0"
    assert cached["networkName"] == net.name and cached["netns"] == first["attachment"]["netns"]
    assert json.loads(base64.b64decode(cached["config"]))["plugins"][0]["bridge"] == net.bridge
    assert cached["result"] == first["result"]

    # Over the bridge: host -> web, busybox container -> web.
    assert "ctrops rig web" in http_get("http://%s/" % web_ip)
    assert "ctrops rig web" in fetch_from(containerd, client, web_ip)

    # Re-attach: cached, same netns, CHECK passes -> nothing to do (check mode agrees).
    again = run_module("cni_network", **net.attach_args(web))
    assert again["changed"] is False, again
    assert again["addresses"] == first["addresses"]
    assert run_module("cni_network", check=True, **net.attach_args(web))["changed"] is False

    # The interface vanishes inside the container: CHECK fails and the attachment is repaired.
    subprocess.run(["nsenter", "--net=" + first["attachment"]["netns"], "ip", "link", "delete", "eth0"], check=True)
    checked = run_module("cni_network", **net.attach_args(web))
    assert checked["changed"] is True, checked
    assert checked["actions"][0].startswith("repair attachment of %s/eth0 (CHECK failed: " % web), checked["actions"]
    assert "ctrops rig web" in http_get("http://%s/" % ip_of(checked))
    assert len(net.leases()) == 2

    # The task restarts (new netns): the stale attachment is repaired.
    net.kill_task(web)
    containerd.ctr_run("tasks", "start", "-d", web)
    repaired = run_module("cni_network", **net.attach_args(web))
    assert repaired["changed"] is True, repaired
    assert repaired["actions"] == ["repair attachment of %s/eth0 (the task has another network namespace)" % web]
    assert repaired["attachment"]["netns"] != first["attachment"]["netns"]
    assert "ctrops rig web" in http_get("http://%s/" % ip_of(repaired))
    assert len(net.leases()) == 2, "the repair leaked the old address"
    assert run_module("cni_network", **net.attach_args(web))["changed"] is False

    # Detach releases the addresses, the cache and the ipMasq rules.
    for name in (web, client):
        detached = run_module("cni_network", **net.attach_args(name, state="detached"))
        assert detached["changed"] is True and detached["actions"] == ["detach %s/eth0" % name], detached
        assert not os.path.exists(net.cache_file(name))
    assert net.leases() == []
    assert nat_rules_of(net.name) == []
    assert run_module("cni_network", **net.attach_args(web, state="detached"))["changed"] is False


def test_attach_without_running_task_is_a_clear_error(containerd, run_module, net_1_1, uid):
    net = net_1_1
    net.containerd = containerd
    define(run_module, net)
    result = run_module("cni_network", **net.attach_args("nothere-" + uid))
    assert result.get("failed") is True
    assert result["msg"] == ("Container nothere-%s has no task in namespace default: start its task before "
                             "attaching it." % uid)
    undefined = run_module("cni_network", **net.attach_args("x", name="undefined-" + uid))
    assert undefined.get("failed") is True
    assert undefined["msg"].startswith("Network undefined-%s is not defined in %s" % (uid, net.conf_dir))


def test_prune_releases_attachments_of_gone_stopped_and_restarted_tasks(containerd, run_module, rig_images,
                                                                        import_image, net_1_1, uid):
    net = net_1_1
    net.containerd = containerd
    define(run_module, net)
    ref = import_image(rig_images["busybox"])
    names = dict((role, net.run(ref, "%s-%s" % (role, uid), "sleep", "600"))
                 for role in ("gone", "stopped", "restarted", "kept"))
    for name in names.values():
        assert run_module("cni_network", **net.attach_args(name))["changed"] is True
    assert len(net.leases()) == 4

    # Killed and deleted without a detach: the addresses leak until pruned.
    net.kill_task(names["gone"])
    containerd.ctr_run("containers", "delete", names["gone"])
    net.kill_task(names["stopped"])
    net.kill_task(names["restarted"])
    containerd.ctr_run("tasks", "start", "-d", names["restarted"])
    assert len(net.leases()) == 4

    args = net.attach_args(None, state="pruned")
    del args["container"]
    predicted = run_module("cni_network", check=True, **args)
    assert predicted["changed"] is True and len(predicted["released"]) == 3 and len(net.leases()) == 4
    pruned = run_module("cni_network", **args)
    assert pruned["changed"] is True, pruned
    assert sorted(pruned["released"], key=lambda item: item["container"]) == [
        {"container": names["gone"], "ifname": "eth0", "reason": "the container no longer exists"},
        {"container": names["restarted"], "ifname": "eth0", "reason": "the task was restarted"},
        {"container": names["stopped"], "ifname": "eth0", "reason": "the container has no running task"},
    ]
    assert len(net.leases()) == 1
    assert os.listdir(os.path.join(net.cache_dir, "results")) == [os.path.basename(net.cache_file(names["kept"]))]
    assert [line for line in nat_rules_of(net.name) if names["kept"] not in line] == []
    assert run_module("cni_network", **args)["changed"] is False
    assert run_module("cni_network", **net.attach_args(names["kept"]))["changed"] is False
    # The restarted task attaches afresh.
    assert run_module("cni_network", **net.attach_args(names["restarted"]))["actions"] == [
        "attach %s/eth0" % names["restarted"]]


def run_module_process(args):
    """The module run directly by Python, as Ansible runs it on a host: a separate process per call."""
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.ctrops.containerd.plugins.modules.cni_network"],
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": args}), capture_output=True, text=True,
                          env=env, timeout=180, check=False)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return {"failed": True, "msg": "no JSON: %s %s" % (proc.stdout[-500:], proc.stderr[-500:])}


def test_ten_parallel_attaches_then_absent_purge(containerd, run_module, rig_images, import_image, net_1_9, uid):
    net = net_1_9
    net.containerd = containerd
    define(run_module, net)
    ref = import_image(rig_images["busybox"])
    names = [net.run(ref, "c%d" % i, "sleep", "600") for i in range(10)]

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(run_module_process, [net.attach_args(name) for name in names]))
    failures = [result for result in results if result.get("failed") or not result.get("changed")]
    assert failures == []
    addresses = [result["addresses"][0] for result in results]
    assert len(set(addresses)) == 10, addresses
    assert len(net.leases()) == 10
    assert len(os.listdir(os.path.join(net.cache_dir, "results"))) == 10
    assert run_module("cni_network", **net.attach_args(names[0]))["changed"] is False

    # The same container attached by three runs at once: the lock lets one ADD, the others find it cached.
    same = net.run(ref, "c10", "sleep", "600")
    with ThreadPoolExecutor(max_workers=3) as pool:
        racing = list(pool.map(run_module_process, [net.attach_args(same)] * 3))
    assert [result.get("failed", False) for result in racing] == [False] * 3, racing
    assert sorted(result["changed"] for result in racing) == [False, False, True]
    assert len({result["addresses"][0] for result in racing}) == 1
    assert len(net.leases()) == 11

    purge = dict(name=net.name, state="absent", purge=True, conf_dir=net.conf_dir, cache_dir=net.cache_dir,
                 bin_dirs=net.bin_dirs)
    predicted = run_module("cni_network", check=True, **purge)
    assert predicted["changed"] is True and len(predicted["released"]) == 11
    assert len(net.leases()) == 11
    purged = run_module("cni_network", **purge)
    assert purged["changed"] is True, purged
    assert purged["actions"][-3:] == ["remove IPAM state %s" % os.path.join(net.data_dir, net.name),
                                      "delete bridge %s" % net.bridge,
                                      "remove %s" % os.path.join(net.conf_dir, "10-%s.conflist" % net.name)]
    assert links_of(net.bridge) == []
    assert not os.path.exists(os.path.join(net.data_dir, net.name))
    assert os.listdir(os.path.join(net.cache_dir, "results")) == []
    assert nat_rules_of(net.name) == []
    assert os.listdir(net.conf_dir) == []
    assert run_module("cni_network", **purge)["changed"] is False


def test_single_plugin_conf_without_check(containerd, run_module, rig_images, import_image, net_1_1, uid):
    """A .conf of cniVersion 0.3.1 (no CHECK in that version): idempotency rests on the cache and the netns."""
    net = net_1_1
    net.containerd = containerd
    defined = define(run_module, net, format="conf", cni_version="0.3.1", ip_masq=False)
    assert defined["network"]["path"].endswith("/10-%s.conf" % net.name)
    box = net.run(import_image(rig_images["web"]), "conf-" + uid)

    attached = run_module("cni_network", **net.attach_args(box))
    assert attached["changed"] is True, attached
    assert attached["result"]["cniVersion"] == "0.3.1"
    assert "ctrops rig web" in http_get("http://%s/" % ip_of(attached))
    cached = read_json(net.cache_file(box))
    assert json.loads(base64.b64decode(cached["config"]))["type"] == "bridge"

    again = run_module("cni_network", **net.attach_args(box))
    assert again["changed"] is False and again["addresses"] == attached["addresses"]

    # The definition changes: the attachment follows it.
    define(run_module, net, format="conf", cni_version="0.3.1", ip_masq=False, dns={"nameservers": ["10.89.0.54"]})
    followed = run_module("cni_network", **net.attach_args(box))
    assert followed["actions"] == ["repair attachment of %s/eth0 (the network configuration changed)" % box]
    assert followed["result"]["dns"] == {"nameservers": ["10.89.0.54"]}
    assert len(net.leases()) == 1

    detached = run_module("cni_network", **net.attach_args(box, state="detached"))
    assert detached["changed"] is True
    assert net.leases() == []


# -- clean-ups touch only what is ours; interrupted work is repaired ------------------------------------------

def test_ipam_type_given_as_a_path_is_refused_and_never_run(run_module, tmp_path):
    marker = tmp_path / "ran"
    fake = tmp_path / "fake-ipam"
    fake.write_text("#!/bin/sh\ntouch %s\necho '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"1.0.0\"]}'\n" % marker)
    fake.chmod(0o755)
    conf_dir = tmp_path / "net.d"
    config = _bridge_config(ipam={"type": str(fake), "ranges": [[{"subnet": "10.89.9.0/24"}]]})
    for check in (True, False):
        result = run_module("cni_network", check=check, name="bad", config=config, conf_dir=str(conf_dir),
                            bin_dirs=[PLUGINS["1.1.1"], str(tmp_path)])
        assert result.get("failed") is True, result
        assert result["msg"] == ('Invalid configuration: plugin 1 (bridge): ipam "type" is a binary name looked up '
                                 'in bin_dirs, not a path.'), result["msg"]
    assert not marker.exists(), "the IPAM binary given as a path was run"
    assert not conf_dir.exists()


def test_check_mode_creates_no_directory_and_no_lock(containerd, run_module, rig_images, import_image, net_1_1, uid):
    net = net_1_1
    net.containerd = containerd
    predicted = run_module("cni_network", check=True, **net.definition())
    assert predicted["changed"] is True and not os.path.exists(net.conf_dir), predicted
    define(run_module, net)
    name = net.run(import_image(rig_images["busybox"]), "chk-" + uid, "sleep", "600")
    for state in ("attached", "detached"):
        result = run_module("cni_network", check=True, **net.attach_args(name, state=state))
        assert result.get("failed") is not True, result
    pruned = run_module("cni_network", check=True, **net.containerd.module_args(
        name=net.name, state="pruned", conf_dir=net.conf_dir, cache_dir=net.cache_dir, bin_dirs=net.bin_dirs))
    assert pruned["changed"] is False, pruned
    assert not os.path.exists(net.cache_dir), os.listdir(net.cache_dir)


def test_purge_leaves_foreign_devices_directories_and_cache_entries_alone(containerd, run_module, net_1_9, tmp_path):
    net = net_1_9
    net.containerd = containerd
    define(run_module, net)
    # A device of another kind (a veth; no dummy driver here) under the bridge's name, and a lease
    # directory that is not the network's.
    subprocess.run(["ip", "link", "add", net.bridge, "type", "veth", "peer", "name", net.bridge[:13] + "p"],
                   check=True)
    victim = tmp_path / "victim"
    (victim / net.name).mkdir(parents=True)
    (victim / net.name / "10.89.200.5").write_text("evil\neth0\n")
    results = os.path.join(net.cache_dir, "results")
    os.makedirs(results)
    crafted = json.loads(json.dumps(_bridge_config()))
    crafted.update(name=net.name)
    crafted["plugins"][0]["ipam"]["dataDir"] = str(victim)
    outside = os.path.join(results, "%s-evil-eth0" % net.name)
    with open(outside, "w") as handle:
        json.dump({"kind": "cniCacheV1", "containerId": "evil", "ifName": "eth0", "networkName": net.name,
                   "netns": "", "config": base64.b64encode(json.dumps(crafted).encode()).decode()}, handle)
    broken = os.path.join(results, "%s-broken-eth0" % net.name)
    with open(broken, "w") as handle:
        handle.write("{not json")
    try:
        purge = dict(name=net.name, state="absent", purge=True, conf_dir=net.conf_dir, cache_dir=net.cache_dir,
                     bin_dirs=net.bin_dirs)
        result = run_module("cni_network", **purge)
        assert result.get("failed") is not True, result
        assert result["released"] == [], result
        assert not any("bridge" in action for action in result["actions"]), result["actions"]
        warnings = " ".join(result.get("warnings", []))
        assert "%s is not a bridge: the purge leaves that device alone." % net.bridge in warnings, warnings
        assert "is not one of network %s" % net.name in warnings and outside in warnings, warnings
        assert broken in warnings, warnings
        assert os.path.exists("/sys/class/net/%s" % net.bridge), "the veth device was deleted"
        assert (victim / net.name / "10.89.200.5").exists(), "a lease outside the network's data directory went"
        assert os.path.exists(outside) and os.path.exists(broken), "a cache entry that does not validate went"
    finally:
        subprocess.run(["ip", "link", "delete", net.bridge], check=False)


def test_interrupted_attach_and_corrupt_cache_are_repaired_with_one_lease(containerd, run_module, rig_images,
                                                                          import_image, net_1_9, uid):
    net = net_1_9
    net.containerd = containerd
    define(run_module, net)
    web = net.run(import_image(rig_images["web"]), "rep-" + uid)
    first = run_module("cni_network", **net.attach_args(web))
    assert first["changed"] is True and len(net.leases()) == 1, first

    # A run killed between ADD and the cache write: interface and lease exist, no cache entry.
    os.unlink(net.cache_file(web))
    again = run_module("cni_network", **net.attach_args(web))
    assert again.get("failed") is not True and again["changed"] is True, again
    assert len(net.leases()) == 1, net.leases()
    assert "ctrops rig web" in http_get("http://%s/" % ip_of(again))

    # A cache entry that cannot be read: repaired the same way.
    with open(net.cache_file(web), "w") as handle:
        handle.write("\x00garbage")
    repaired = run_module("cni_network", **net.attach_args(web))
    assert repaired.get("failed") is not True and repaired["changed"] is True, repaired
    assert len(net.leases()) == 1, net.leases()
    assert read_json(net.cache_file(web))["containerId"] == web
    assert "ctrops rig web" in http_get("http://%s/" % ip_of(repaired))
    assert run_module("cni_network", **net.attach_args(web))["changed"] is False
