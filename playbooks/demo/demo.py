"""`make demo-local` (demo.py --local): the field notes' walk-through (playbooks/walkthrough.yml)
on a throwaway rig of this machine; without --local, `make demo`'s VM path (demo_vm.py).

Starts the rig's newest containerd, a plain-HTTP registry seeded with the rig's
busybox and web images (standing in for Docker Hub, which is not reachable
here), and a TLS registry with a password (the self-hosted registry of the
notes). Runs the walk-through twice (the second run must change nothing but
the tasks tagged non_idempotent), then its clean-up play, prints a summary and
removes everything it made: processes by PID, mounts, the bridge, iptables
rules, the temporary directory.

demo() runs either rig and prints the summary. Also used by
tests/integration/test_walkthrough.py (Walkthrough) and tests/demo (demo).
"""

import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

# The demo starts its daemons, registries and images with the test rig (tests/support/rig).
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))

from rig.containerd import Containerd, available_versions, mounts_under  # noqa: E402

PLAYBOOK = os.path.join(REPO, "playbooks", "walkthrough.yml")
CACHE = os.environ.get("CTROPS_CACHE", "/var/cache/ctrops-tests")
CNI_BIN_DIRS = [os.path.join(CACHE, "cni-plugins-sid", "usr", "lib", "cni"), "/usr/lib/cni"]
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def free_subnet():
    """A /24 in 10.0.0.0/8 that no route of this machine overlaps (the bridge gets .1)."""
    out = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True,
                         check=True).stdout
    used = []
    for line in out.splitlines():
        word = line.split()[0] if line.split() else ""
        if word in ("local", "broadcast", "unreachable", "prohibit", "blackhole"):
            word = line.split()[1]
        try:
            used.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            continue
    for _attempt in range(200):
        candidate = ipaddress.ip_network("10.%d.%d.0/24" % (secrets.randbelow(100) + 150, secrets.randbelow(254) + 1))
        if not any(candidate.overlaps(net) for net in used if net.prefixlen > 0):
            return candidate
    raise RuntimeError("no free 10.x.y.0/24 subnet found for the CNI bridge")


def iptables_lines(table="nat"):
    proc = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True, check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 else []


def masq_chain(network, container):
    """The nat chain the bridge plugin's ipMasq makes for one attachment."""
    import hashlib
    return "CNI-" + hashlib.sha512((network + container).encode()).hexdigest()[:24]


def link_exists(name):
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


class Walkthrough:
    """The rig the walk-through runs against: containerd, two registries, images, CNI directories."""

    def __init__(self, containerd=None, registries=None, images=None, workdir=None):
        self.base = workdir or tempfile.mkdtemp(prefix="ctrops-walkthrough-")
        self._own_daemon = containerd is None
        self.containerd = containerd
        self._own_registries = registries is None
        self.registries = registries or {}
        self.images = images
        uid = secrets.token_hex(3)
        self.network = "wt-" + uid
        self.bridge = "wt" + uid
        self.subnet = None
        self.ip_forward = None
        self.uid = uid
        self.namespace = "walkthrough-" + uid
        self.other_namespace = "walkthrough-b-" + uid
        self.cleaned = False
        self.version = None
        self.setup_notes = []
        self.vars_file = os.path.join(self.base, "walkthrough-vars.json")

    # -- set-up ------------------------------------------------------------------------

    def start(self, version=None):
        version = version or self.version
        from rig.images import build_image, push_archive
        from rig.registry import Registry

        with open(IP_FORWARD) as handle:
            self.ip_forward = handle.read().strip()
        if self.containerd is None:
            self.containerd = Containerd(version or available_versions()[-1],
                                         workdir=os.path.join(self.base, "containerd"))
            self.containerd.start()
        if self.images is None:
            out = os.path.join(self.base, "images")
            os.makedirs(out, exist_ok=True)
            self.images = {
                "busybox": build_image(os.path.join(out, "busybox.tar"), "docker.io/rig/busybox:1", "busybox"),
                "web": build_image(os.path.join(out, "web.tar"), "docker.io/rig/web:1", "web"),
            }
        for flavour in ("http", "auth"):
            if flavour not in self.registries:
                registry = Registry(os.path.join(self.base, "registry-" + flavour), flavour)
                self.registries[flavour] = registry.start()
                if flavour == "http":
                    for name in ("busybox", "web"):
                        push_archive(self.images[name]["path"], "rig/%s:1" % name, registry=registry,
                                     expected_digest=self.images[name]["digest"])
        self.subnet = free_subnet()
        self._write_vars()
        self.setup_notes = ["containerd %s on this machine (throwaway, under %s; stopped and removed)" % (
            self.containerd.version, self.base)]
        return self

    def _write_vars(self):
        source, target = self.registries["http"], self.registries["auth"]
        hosts = list(self.subnet.hosts())
        bin_dirs = [d for d in CNI_BIN_DIRS if os.path.exists(os.path.join(d, "bridge"))]
        cni = os.path.join(self.base, "cni")
        variables = {
            "containerd_address": self.containerd.address,
            "containerd_ctr": self.containerd.ctr,
            "walkthrough_dir": os.path.join(self.base, "walkthrough"),
            # Unique namespaces: ctr puts a container's cgroup at /<namespace>/<id>, so two daemons
            # on one machine running this walk-through at once would otherwise share cgroups
            # (a kill or pause of one would hit the other's tasks).
            "walkthrough_namespace": self.namespace,
            "walkthrough_other_namespace": self.other_namespace,
            "walkthrough_busybox_image": source.ref("rig/busybox:1"),
            "walkthrough_web_image": source.ref("rig/web:1"),
            "walkthrough_pull_plain_http": True,
            "walkthrough_registry": target.host,
            "walkthrough_registry_repository": "walkthrough/web-" + self.uid,
            "walkthrough_registry_username": target.username,
            "walkthrough_registry_password": target.password,
            "walkthrough_registry_hosts_dir": target.hosts_dir,
            "walkthrough_cni_network": self.network,
            "walkthrough_cni_bridge": self.bridge,
            "walkthrough_cni_subnet": str(self.subnet),
            "walkthrough_cni_gateway": str(hosts[0]),
            "walkthrough_cni_conf_dir": os.path.join(cni, "net.d"),
            "walkthrough_cni_bin_dirs": bin_dirs,
            "walkthrough_cni_cache_dir": os.path.join(cni, "cache"),
            "walkthrough_cni_ipam_dir": os.path.join(cni, "ipam"),
            # Only written into the network's configuration; nothing is sent to it.
            "walkthrough_cni_nameservers": [str(hosts[0])],
        }
        fd = os.open(self.vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(variables, handle, indent=2)

    # -- running the playbook ------------------------------------------------------------

    def play(self, *extra, log_name=None):
        """Run the walk-through (JSON callback); returns (result dict, seconds). Fails on a failed run."""
        return run_playbook(PLAYBOOK, ["-i", "localhost,", "-c", "local",
                                       "-e", "ansible_python_interpreter=" + sys.executable],
                            self.vars_file, *extra, path=self.containerd.env["PATH"],
                            log_path=os.path.join(self.base, log_name) if log_name else None)

    def non_idempotent_tasks(self):
        return tagged_tasks(["-i", "localhost,"], self.vars_file)

    # -- tear-down -------------------------------------------------------------------------

    def leftovers(self):
        """What of this walk-through still exists on the machine."""
        found = {}
        if link_exists(self.bridge):
            found["bridge"] = [self.bridge]
        rules = [line for line in iptables_lines() if 'name: \\"%s\\"' % self.network in line]
        chain = masq_chain(self.network, "web")
        rules += [line for line in iptables_lines() if line.split()[:2] == ["-N", chain]]
        if rules:
            found["iptables nat rules"] = rules
        mounts = mounts_under(os.path.join(self.base, "walkthrough"))
        if mounts:
            found["mounts"] = mounts
        return found

    def stop(self):
        """Stop what this object started, remove what the walk-through left; return what had to be removed."""
        removed = self.leftovers()
        for line in removed.get("iptables nat rules", []):
            if line.startswith("-A "):
                import shlex
                subprocess.run(["iptables", "-w", "-t", "nat", "-D"] + shlex.split(line)[1:], check=False)
        for line in removed.get("iptables nat rules", []):
            if line.startswith("-N "):
                chain = line.split()[1]
                subprocess.run(["iptables", "-w", "-t", "nat", "-F", chain], check=False)
                subprocess.run(["iptables", "-w", "-t", "nat", "-X", chain], check=False)
        if removed.get("bridge"):
            subprocess.run(["ip", "link", "delete", self.bridge], check=False)
        for point in removed.get("mounts", []):
            subprocess.run(["umount", "-l", point], check=False)
        if self._own_daemon and self.containerd is not None:
            self.containerd.stop()
        if self._own_registries:
            for registry in self.registries.values():
                registry.stop()
        if self.ip_forward is not None:
            with open(IP_FORWARD, "w") as handle:
                handle.write(self.ip_forward)
        if self._own_daemon and self._own_registries:
            shutil.rmtree(self.base, ignore_errors=True)
        return removed


# -- running playbooks and reading the JSON callback's output --------------------------------

def ansible_env(path=None):
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".build", "collections"))
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "false"
    env.setdefault("ANSIBLE_PIPELINING", "true")
    if path:
        env["PATH"] = path
    return env


def run_playbook(playbook, inventory_args, vars_file, *extra, path=None, env=None, log_path=None):
    """ansible-playbook with the JSON callback; returns (result dict, seconds). Fails on a failed run."""
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), *inventory_args,
           "-e", "@" + vars_file, playbook, *extra]
    run_env = ansible_env(path)
    run_env.update(env or {})
    run_env["ANSIBLE_STDOUT_CALLBACK"] = "json"
    started = time.monotonic()
    proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, check=False, cwd=REPO)
    seconds = time.monotonic() - started
    if log_path:
        with open(log_path, "w") as handle:
            handle.write(proc.stdout + proc.stderr)
    try:
        result = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        result = None
    if proc.returncode != 0 or result is None:
        raise RuntimeError("ansible-playbook %s %s failed (rc=%d):\n%s\n%s" % (
            os.path.basename(playbook), " ".join(extra), proc.returncode,
            failures(result) if result else proc.stdout[-4000:], proc.stderr[-2000:]))
    return result, seconds


RUNNER_OUTCOMES = {"runner_on_ok": {}, "runner_on_failed": {"failed": True},
                   "runner_on_skipped": {"skipped": True}, "runner_on_unreachable": {"unreachable": True}}


def run_playbook_as_awx(playbook, inventory, vars_file, private_dir, *extra, env=None):
    """``playbook`` as AWX and Automation Platform run it: through ansible-runner, from a private data
    directory (project, inventory, env/extravars, env/envvars), read back from runner's event stream.

    Returns (result dict shaped as the JSON callback's, seconds). Fails on a failed run."""
    import ansible_runner  # only the demo needs it; requirements-dev.txt pins it

    os.makedirs(os.path.join(private_dir, "env"), exist_ok=True)
    with open(vars_file) as handle:
        variables = json.load(handle)
    # AWX writes the job's extra vars there; they hold the registry password.
    fd = os.open(os.path.join(private_dir, "env", "extravars"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(variables, handle)
    envvars = {key: value for key, value in ansible_env().items() if key.startswith("ANSIBLE_")}
    envvars.update(env or {})
    envvars["PATH"] = os.path.join(REPO, ".venv", "bin") + os.pathsep + os.environ.get("PATH", "")
    started = time.monotonic()
    runner = ansible_runner.run(private_data_dir=private_dir, project_dir=os.path.dirname(playbook),
                                playbook=os.path.basename(playbook), inventory=inventory, envvars=envvars,
                                cmdline=" ".join(extra) or None, quiet=True)
    seconds = time.monotonic() - started
    plays = {}
    for event in runner.events:
        outcome = RUNNER_OUTCOMES.get(event.get("event"))
        if outcome is None:
            continue
        data = event["event_data"]
        play = plays.setdefault(data.get("play", ""), {"play": {"name": data.get("play", "")}, "tasks": []})
        play["tasks"].append({"task": {"name": data.get("task", ""),
                                       "duration": {"start": data.get("start"), "end": data.get("end")}},
                              "hosts": {data["host"]: dict(data.get("res") or {}, **outcome)}})
    counters = runner.stats or {}
    hosts = set().union(*[set(per_host) for per_host in counters.values() if isinstance(per_host, dict)] or [set()])
    result = {"plays": list(plays.values()),
              "stats": {host: {name: counters.get(key, {}).get(host, 0) for name, key in (
                  ("ok", "ok"), ("changed", "changed"), ("failures", "failures"), ("unreachable", "dark"),
                  ("skipped", "skipped"))} for host in hosts}}
    if runner.status != "successful":
        raise RuntimeError("ansible-runner %s %s ended %s (rc=%s):\n%s" % (
            os.path.basename(playbook), " ".join(extra), runner.status, runner.rc, failures(result)))
    return result, seconds


def tagged_tasks(inventory_args, vars_file, tag="non_idempotent"):
    """Names of the walk-through's tasks with ``tag`` (ansible-playbook --list-tasks)."""
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), *inventory_args,
           "-e", "@" + vars_file, PLAYBOOK, "--list-tasks", "--tags", tag]
    out = subprocess.run(cmd, env=ansible_env(), capture_output=True, text=True, check=True, cwd=REPO).stdout
    return [m.group(1).strip() for m in re.finditer(r"^\s{6}(.+?)\s+TAGS: \[", out, re.M)]


def task_results(result):
    """(play name, task name, host result) for every task and host of a run."""
    for play in result.get("plays", []):
        for task in play.get("tasks", []):
            for _host, res in task.get("hosts", {}).items():
                yield play["play"]["name"], task["task"]["name"], res


def changed_tasks(result):
    return [name for _play, name, res in task_results(result) if res.get("changed")]


def failures(result):
    lines = []
    for _play, name, res in task_results(result):
        if res.get("failed") and not res.get("skipped"):
            lines.append("FAILED: %s: %s" % (name, res.get("msg") or res.get("stderr") or res))
    return "\n".join(lines) or json.dumps(result.get("stats"))


def slowest(result, count=5):
    """The ``count`` slowest tasks of a run: (seconds, task name)."""
    from datetime import datetime

    def seconds(task):
        duration = task["task"].get("duration", {})
        try:
            return (datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
                    - datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))).total_seconds()
        except (KeyError, ValueError):
            return 0.0
    tasks = [(seconds(t), t["task"]["name"]) for play in result.get("plays", []) for t in play.get("tasks", [])]
    return sorted(tasks, reverse=True)[:count]


def stats(result):
    """The counters of the run's only host."""
    return next(iter(result["stats"].values()))


def summary_of(result):
    for _play, name, res in task_results(result):
        if name == "Show what the walk-through did":
            return res.get("msg", {})
    return {}


def demo(rig, title):
    """Set up ``rig``, run the walk-through twice and its clean-up, tear down, print the summary.

    ``rig`` is a Walkthrough (this machine) or a demo_vm.VmWalkthrough (a throwaway VM):
    start(), play(), non_idempotent_tasks(), leftovers(), stop() and setup_notes.
    """
    started = time.monotonic()
    runs = []
    try:
        print("== setting up: " + title, flush=True)
        rig.start()
        setup_secs = time.monotonic() - started
        for label in ("first run", "second run"):
            print("== %s of playbooks/walkthrough.yml" % label, flush=True)
            result, secs = rig.play(log_name=label.replace(" ", "-") + ".json")
            runs.append((label, result, secs))
            for play in result["plays"]:
                tasks = play["tasks"]
                if not tasks:
                    continue
                changed = sum(1 for t in tasks for r in t["hosts"].values() if r.get("changed"))
                print("   %-100s %2d tasks, %2d changed" % (play["play"]["name"][:100], len(tasks), changed))
        tagged = rig.non_idempotent_tasks()
        print("== clean-up play (--tags cleanup)", flush=True)
        cleanup, cleanup_secs = rig.play("--tags", "cleanup", log_name="cleanup.json")
        left = rig.leftovers()
    finally:
        print("== tearing down", flush=True)
        removed = rig.stop()
    total = time.monotonic() - started

    first, second = runs[0][1], runs[1][1]
    summary = summary_of(first)
    second_changed = changed_tasks(second)
    unexpected = [name for name in second_changed if name not in tagged]
    print()
    print("== demo summary")
    for line in rig.setup_notes:
        print(line)
    for name, line in summary.get("images", {}).items():
        print("image %-8s %s" % (name, line))
    print("tasks           %s" % ", ".join(summary.get("tasks", [])))
    print("web task        host PID %s; paused task PID %s (kept across pause/resume)" % (
        summary.get("web_pid"), summary.get("paused_pid")))
    print("CNI bridge      %s (%s), web at %s" % (rig.bridge, rig.subnet, ", ".join(summary.get("web_address", []))))
    print("page over bridge            %s" % summary.get("page_over_bridge"))
    print("page via shared netns       %s" % summary.get("page_over_shared_localhost"))
    print("push            %s" % summary.get("pushed"))
    print("pulled back     %s" % summary.get("pulled_back"))
    for label, result, secs in runs:
        print("%-15s ok=%d changed=%d failed=%d in %.1fs" % (label, stats(result)["ok"], stats(result)["changed"],
                                                             stats(result)["failures"], secs))
    for label, result, _secs in runs:
        print("slowest tasks of the %s: %s" % (label, "; ".join("%.1fs %s" % t for t in slowest(result, 3))))
    print("second run's changes: %s (all tagged non_idempotent: %s)" % (
        "; ".join(second_changed) or "none", "yes" if not unexpected else "NO: " + "; ".join(unexpected)))
    print("clean-up        ok=%d changed=%d in %.1fs; left behind afterwards: %s" % (
        stats(cleanup)["ok"], stats(cleanup)["changed"], cleanup_secs, left or "nothing"))
    if removed:
        print("removed by the demo's own tear-down: %s" % removed)
    print("set-up %.1fs, total %.1fs" % (setup_secs, total))
    if unexpected or left:
        raise SystemExit("the walk-through is not idempotent or left something behind (see above)")


def main():
    """--local: this machine's rig (about 2 minutes); default: a throwaway QEMU VM (demo_vm.py)."""
    if "--local" not in sys.argv[1:]:
        from demo_vm import main as vm_main
        vm_main()
        return
    version = os.environ.get("DEMO_VERSION") or available_versions()[-1]
    walk = Walkthrough()
    walk.version = version
    demo(walk, "containerd %s, a registry standing in for Docker Hub (HTTP), a self-hosted registry "
               "(TLS + password), CNI directories under %s" % (version, walk.base))


if __name__ == "__main__":
    main()
