"""One image and ten running containers, side by side: this collection, community.docker, Ansible's floor.

The job of issue 13: one image and N running containers (the rig's busybox running ``sleep``). Each form
converges it once from nothing (cold, timed), then runs again as a no-op in alternating rounds (the order
rotates every round, so the machine's other load falls on every form alike); the table shows each form's
median no-op wall time and its ratios, taken per round and then the median (paired), to community.docker
and to its own floor (as many ``ansible.builtin.stat`` runs as the form has module runs). All of it once
under the default ``linear`` strategy and once under Mitogen's ``mitogen_linear``.

Forms (playbooks in ``side_by_side/``):

- loop: containerd_image + a loop of containerd_container state=running (1 + N module runs)
- stack: one containerd_stack task (1 module run), only when the collection has that module
- docker: community.docker's docker_image (load) + a loop of docker_container state=started (1 + N runs),
  from the ``ansible`` package in .build/bench-venv, against Debian's dockerd that this script starts on a
  containerd of its own (own data-root, exec-root and unix socket in a temporary directory; no bridge, no
  iptables rules, no IP forwarding; containers with network_mode none) and stops by PID at the end
- stat floors: 1 + N and 1 ``stat`` runs with this collection's venv, 1 + N with the peer's venv

The containerd side is the rig's daemon of the newest matrix version. Both venvs carry the same
ansible-core. ``make benchmark`` sets everything up (tests/benchmark/setup.sh); not part of ``make test``.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

from rig.containerd import MATRIX, Containerd, available_versions, mounts_under  # noqa: E402
from rig.images import build_docker_archive, build_image  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PLAYS = os.path.join(HERE, "side_by_side")
OWN_VENV = os.path.join(REPO, ".venv")
# CTROPS_BENCH_PEER_VENV points at another peer venv (one whose ansible-core matches .venv's, for instance).
PEER_VENV = os.environ.get("CTROPS_BENCH_PEER_VENV") or os.path.join(REPO, ".build", "bench-venv")
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(REPO, ".build", "collections")
IMAGE = "docker.io/rig/busybox:1"
DOCKER_CONTAINERD = "1.6"  # Debian's containerd, the one Debian's docker.io is built for
CGROUP_PARENT = "ctrops-bench-docker"
RECAP = re.compile(r"^\S+\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def version_key(label):
    return tuple(int(part) for part in label.split("."))


def log(message):
    print("[bench] %s" % message, flush=True)


class Form:
    """One playbook run the same way each time: its venv, its playbook, its module runs."""

    def __init__(self, key, title, playbook, venv, module_runs, floor=None):
        self.key = key
        self.title = title
        self.playbook = os.path.join(PLAYS, playbook)
        self.venv = venv
        self.module_runs = module_runs
        self.floor = floor  # key of the form that is this form's floor
        self.cold = None
        self.noop = []
        self.bad = []  # no-op runs that changed something or failed


def strategy_plugins(venv):
    code = "import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))"
    out = subprocess.run([os.path.join(venv, "bin", "python"), "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    return os.path.join(out, "plugins", "strategy")


def ansible_env(venv, strategy):
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="true",
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(venv, "bin", "python"),
               ANSIBLE_DEPRECATION_WARNINGS="false", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_RETRY_FILES_ENABLED="false")
    env.pop("ANSIBLE_STRATEGY", None)
    env.pop("ANSIBLE_STRATEGY_PLUGINS", None)
    # Managed hosts keep bytecode (this collection's modules cache theirs in ~/.cache); this machine's own
    # environment may say otherwise, which no user's host would inherit.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if strategy == "mitogen":
        env.update(ANSIBLE_STRATEGY="mitogen_linear", ANSIBLE_STRATEGY_PLUGINS=strategy_plugins(venv))
    env["PATH"] = os.pathsep.join([os.path.join(venv, "bin"), env.get("PATH", "/usr/bin:/bin")])
    return env


def run_play(form, strategy, varsfile, check=False, json_out=False, extra_env=None, may_fail=False):
    """Run a form's playbook once; returns (seconds, output, recap (ok, changed, unreachable, failed))."""
    env = ansible_env(form.venv, strategy)
    if json_out:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    env.update(extra_env or {})
    cmd = [os.path.join(form.venv, "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
           "-e", "@" + varsfile, form.playbook]
    if check:
        cmd.append("--check")
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0 and not may_fail:
        raise SystemExit("%s (%s%s) failed (rc %d):\n%s\n%s" % (
            form.key, strategy, ", check" if check else "", proc.returncode, proc.stdout[-4000:],
            proc.stderr[-4000:]))
    recap = None
    if not json_out:
        found = RECAP.search(proc.stdout)
        recap = tuple(int(n) for n in found.groups()) if found else None
    return seconds, proc.stdout, recap


def check_summary(json_text):
    """'N changed' (module runs, loop items one each) from the json callback's output, with any failure."""
    data = json.loads(json_text[json_text.index("{"):])
    changed = failed = inner = 0
    message = None
    for play in data["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                items = result.get("results")
                for item in items if isinstance(items, list) else [result]:
                    changed += 1 if item.get("changed") else 0
                    per_container = item.get("containers")
                    if isinstance(per_container, list):  # the stack's result: one entry per container
                        inner += sum(1 for entry in per_container if isinstance(entry, dict) and entry.get("changed"))
                    if item.get("failed"):
                        failed += 1
                        message = message or item.get("msg")
    text = "%d changed" % changed
    if inner:
        text += " (%d containers)" % inner
    if failed:
        text += ", %d FAILED (%s)" % (failed, (message or "")[:90])
    return text


def has_module(name):
    env = ansible_env(OWN_VENV, "linear")
    proc = subprocess.run([os.path.join(OWN_VENV, "bin", "ansible-doc", ), "-t", "module", name],
                          capture_output=True, text=True, env=env, check=False)
    return proc.returncode == 0 and "not found" not in proc.stderr


class Docker:
    """Debian's dockerd on a containerd of its own, everything under one temporary directory."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.socket = os.path.join(workdir, "docker.sock")
        self.host = "unix://" + self.socket
        self.containerd = None
        self.process = None
        # dockerd makes its plugin discovery directory (/run/docker/plugins) whatever its exec-root is.
        self.made_run_docker = not os.path.exists("/run/docker")

    def start(self, timeout=60):
        self.containerd = Containerd(DOCKER_CONTAINERD, workdir=os.path.join(self.workdir, "containerd"))
        # A workdir of our own is kept by the rig; the whole tree goes in stop().
        self.containerd.start()
        config = os.path.join(self.workdir, "daemon.json")
        with open(config, "w") as handle:
            # dockerd 20.10 writes its identity key to /etc/docker unless told otherwise.
            json.dump({"deprecated-key-path": os.path.join(self.workdir, "key.json")}, handle)
        cmd = ["dockerd", "--config-file", config, "--data-root", os.path.join(self.workdir, "data"),
               "--exec-root", os.path.join(self.workdir, "exec"),
               "--pidfile", os.path.join(self.workdir, "docker.pid"), "--host", self.host,
               "--containerd", self.containerd.address, "--bridge", "none", "--iptables=false",
               "--ip-masq=false", "--ip-forward=false", "--userland-proxy=false",
               "--cgroup-parent", CGROUP_PARENT]
        self.log_path = os.path.join(self.workdir, "dockerd.log")
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.containerd.env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if os.path.exists(self.socket) and self.docker("version", check=False).returncode == 0:
                return self
            time.sleep(0.3)
        with open(self.log_path, errors="replace") as handle:
            tail = "".join(handle.readlines()[-30:])
        raise RuntimeError("dockerd did not come up at %s; log tail:\n%s" % (self.socket, tail))

    def docker(self, *args, check=True):
        return subprocess.run(["docker", "--host", self.host] + list(args), capture_output=True, text=True,
                              check=check, timeout=300)

    def clear(self):
        """Remove every container and image, so the next converge starts from nothing."""
        ids = self.docker("ps", "-aq", check=False).stdout.split()
        if ids:
            self.docker("rm", "-f", *ids, check=False)
        images = self.docker("images", "-q", check=False).stdout.split()
        if images:
            self.docker("rmi", "-f", *sorted(set(images)), check=False)

    def stop(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.clear()
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=15)
            self.process = None
        if self.containerd is not None:
            self.containerd.stop()
            self.containerd = None
        for point in mounts_under(self.workdir):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            if not os.path.isdir(root):
                continue
            for controller in os.listdir(root):
                parent = os.path.join(root, controller, CGROUP_PARENT)
                if os.path.isdir(parent):
                    for child in os.listdir(parent):
                        if os.path.isdir(os.path.join(parent, child)):
                            try:
                                os.rmdir(os.path.join(parent, child))
                            except OSError:
                                pass
                    try:
                        os.rmdir(parent)
                    except OSError:
                        pass
        if self.made_run_docker:
            for path in ("/run/docker/plugins", "/run/docker"):
                try:
                    os.rmdir(path)  # only when empty: never what another engine keeps there
                except OSError:
                    pass


def clear_namespace(daemon, namespace):
    """Remove a namespace with its tasks, containers and images (the benchmark's own reset, through ctr)."""
    if namespace not in daemon.ctr_run("namespaces", "ls", "-q", check=False).stdout.split():
        return
    tasks = daemon.ctr_run("tasks", "ls", "-q", namespace=namespace, check=False).stdout.split()
    for task in tasks:
        daemon.ctr_run("tasks", "kill", "-a", "-s", "SIGKILL", task, namespace=namespace, check=False)
    for task in tasks:
        for _attempt in range(50):
            if daemon.ctr_run("tasks", "delete", "-f", task, namespace=namespace, check=False).returncode == 0:
                break
            time.sleep(0.1)
    for kind in ("containers", "images"):
        names = daemon.ctr_run(kind, "ls", "-q", namespace=namespace, check=False).stdout.split()
        if names:
            daemon.ctr_run(kind, "rm", *names, namespace=namespace, check=False)
    daemon.ctr_run("namespaces", "rm", namespace, check=False)


def venv_python(venv, code):
    """What a line of Python prints in a venv ('' when it fails)."""
    return subprocess.run([os.path.join(venv, "bin", "python"), "-c", code], capture_output=True, text=True,
                          check=False).stdout.strip()


def ansible_core_version(venv):
    return venv_python(venv, "import ansible.release; print(ansible.release.__version__)")


def community_docker_version(venv=PEER_VENV):
    return venv_python(venv, "import json, os, ansible_collections.community.docker as d; print(json.load(open("
                             "os.path.join(d.__path__[0], 'MANIFEST.json')))['collection_info']['version'])")


def ratio(values, others):
    """The median of per-round ratios (paired runs), or None."""
    pairs = [a / b for a, b in zip(values, others) if b]
    return statistics.median(pairs) if pairs else None


def fmt(value, pattern="%.2f"):
    return "-" if value is None else pattern % value


def report(strategy, forms, checks, rounds):
    by_key = dict((form.key, form) for form in forms)
    docker = by_key.get("docker")
    print()
    print("== strategy %s: no-op median of %d alternating rounds; ratios are medians of per-round ratios"
          % (strategy, rounds))
    head = "%-42s %5s %8s %8s %9s %9s  %s" % ("form", "runs", "cold s", "no-op s", "x docker", "x floor",
                                              "check")
    print(head)
    print("-" * len(head))
    for form in forms:
        floor = by_key.get(form.floor)
        to_docker = ratio(form.noop, docker.noop) if docker and form is not docker and docker.noop else None
        to_floor = ratio(form.noop, floor.noop) if floor else None
        note = checks.get(form.key, "")
        if form.bad:
            note = (note + " NOT A NO-OP: %s" % "; ".join(form.bad)).strip()
        median = statistics.median(form.noop) if form.noop else None
        cells = (form.title, form.module_runs, fmt(form.cold), fmt(median), fmt(to_docker), fmt(to_floor), note)
        print("%-42s %5d %8s %8s %9s %9s  %s" % cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--containers", type=int, default=10, help="running containers in the job (10)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating no-op rounds per strategy (5)")
    parser.add_argument("--strategies", default="linear,mitogen", help="linear,mitogen")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(COLLECTIONS, "ansible_collections", "ctrops", "containerd")):
        raise SystemExit("the collection is not linked under %s: run `make benchmark`" % COLLECTIONS)
    if not os.path.exists(os.path.join(PEER_VENV, ".requirements.sha256")) or not shutil.which("dockerd"):
        raise SystemExit("the peer's venv or dockerd is missing: run `make benchmark` (tests/benchmark/setup.sh)")
    with_stack = has_module("ctrops.containerd.containerd_stack")
    version = max(available_versions(), key=version_key)
    n = args.containers
    log("containerd %s (%s) for this collection; dockerd on containerd %s; %d containers; stack module: %s"
        % (version, MATRIX[version], DOCKER_CONTAINERD, n, "yes" if with_stack else "not in the collection"))

    work = tempfile.mkdtemp(prefix="ctrops-bench-")
    daemon = docker = None
    results = []
    try:
        image = build_image(os.path.join(work, "busybox.tar"), IMAGE, "busybox")
        docker_archive = build_docker_archive(os.path.join(work, "busybox-docker.tar"), IMAGE, "busybox")
        daemon = Containerd(version).start()
        docker = Docker(os.path.join(work, "docker")).start()
        log("dockerd %s up at %s" % (docker.docker("version", "-f", "{{.Server.Version}}").stdout.strip(),
                                     docker.socket))
        containers = [dict(name="bench-%d" % i, image=IMAGE, command=["sleep", "3600"]) for i in range(n)]
        for strategy in args.strategies.split(","):
            forms = [Form("loop", "(a) loop: containerd_image + N x container", "loop.yml", OWN_VENV, n + 1,
                          floor="stat-loop")]
            if with_stack:
                forms.append(Form("stack", "(b) stack: one containerd_stack", "stack.yml", OWN_VENV, 1,
                                  floor="stat-one"))
            forms += [Form("docker", "(c) community.docker: image + N x container", "docker.yml", PEER_VENV,
                           n + 1, floor="stat-loop-peer"),
                      Form("stat-loop", "(d) stat floor, 1 + N runs", "stat-loop.yml", OWN_VENV, n + 1),
                      Form("stat-one", "(d) stat floor, 1 run", "stat-one.yml", OWN_VENV, 1),
                      Form("stat-loop-peer", "(d) stat floor, 1 + N runs (peer's venv)", "stat-loop.yml",
                           PEER_VENV, n + 1)]
            varsfiles = {}
            for form in forms:
                namespace = "bench-%s" % form.key
                clear_namespace(daemon, namespace)
                path = os.path.join(work, "%s-%s.json" % (form.key, strategy))
                with open(path, "w") as handle:
                    json.dump(dict(image=IMAGE, archive=image["path"], ctr_namespace=namespace,
                                   address=daemon.address, ctr=daemon.ctr, containers=containers,
                                   docker_image=docker_archive["repo_tag"], docker_archive=docker_archive["path"],
                                   docker_host=docker.host), handle)
                varsfiles[form.key] = path
            docker.clear()
            checks = {}
            # Check mode on an empty host predicts every container; then the cold converge; then check
            # mode on the converged host changes nothing.
            for form in forms:
                if form.key in ("loop", "stack"):
                    _s, out, _r = run_play(form, strategy, varsfiles[form.key], check=True, json_out=True,
                                           may_fail=True)
                    checks[form.key] = "check converged: %%s; empty: %s" % check_summary(out)
                form.cold, _out, recap = run_play(form, strategy, varsfiles[form.key])
                log("%s %s cold: %.2f s, recap %s" % (strategy, form.key, form.cold, recap))
                if form.key in ("loop", "stack"):
                    _s, out, _r = run_play(form, strategy, varsfiles[form.key], check=True, json_out=True,
                                           may_fail=True)
                    checks[form.key] = checks[form.key] % check_summary(out)
            for number in range(args.rounds):
                shift = number % len(forms)
                order = forms[shift:] + forms[:shift]
                for form in order:
                    seconds, _out, recap = run_play(form, strategy, varsfiles[form.key])
                    form.noop.append(seconds)
                    if recap is None or recap[1] or recap[2] or recap[3]:
                        form.bad.append("round %d recap %s" % (number + 1, recap))
                # Rounds are kept in run order per form so ratios pair runs of the same round.
                log("%s round %d: %s" % (strategy, number + 1, " ".join(
                    "%s=%.2f" % (form.key, form.noop[-1]) for form in forms)))
            results.append((strategy, forms, checks))
            for form in forms:
                clear_namespace(daemon, "bench-%s" % form.key)
            docker.clear()
    finally:
        if docker is not None:
            docker.stop()
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(work, ignore_errors=True)
    peer_version = community_docker_version()
    print()
    print("Job: 1 image + %d running containers (busybox, sleep). community.docker %s; N = %d."
          % (n, peer_version or "?", n))
    for strategy, forms, checks in results:
        report(strategy, forms, checks, args.rounds)
    print()
    print("Targets (issue 13): loop <= 0.9x docker and <= 1.15x its floor; stack <= 0.3x docker.")
    if not with_stack:
        print("(b) not run: ctrops.containerd.containerd_stack is not in the collection yet.")


if __name__ == "__main__":
    main()
