"""Connection plugins side by side: ansible.builtin.ping across ten containers, this collection vs community.docker.

The job of issue 15: one ``ansible.builtin.ping`` task over N running containers of the rig's ``python``
image (busybox + Debian's Python), the containers as Ansible hosts. The same image runs twice:

- ours: imported into a rig containerd (the newest matrix version), N containers started with ``ctr run``,
  reached through this collection's connection plugin ``ctrops.containerd.containerd`` (ctr tasks exec),
  from this collection's venv (.venv)
- docker: ``docker load`` of the same image as a docker archive into Debian's dockerd, which this script
  starts on a containerd of its own (side_by_side.Docker: own data-root, exec-root and unix socket, no
  bridge, no iptables rules; containers with network none), N containers started with ``docker run``,
  reached through ``community.docker.docker`` from the peer's venv (.build/bench-venv, or
  CTROPS_BENCH_PEER_VENV)
- mitogen-docker (Mitogen only): the same docker containers through Mitogen's own ``mitogen_docker``
  connection, to which mitogen_linear redirects ``ansible_connection=docker``

Every form runs the same playbook with pipelining on, the same interpreter (/usr/bin/python3 in the
image), forks = N, in alternating rounds (the order rotates every round); the table shows each form's
median wall time and its ratio to community.docker, the median of per-round ratios (paired). All of it
once under ``linear`` and once under Mitogen's ``mitogen_linear``. Mitogen has no connection of its own
for this collection's plugin nor for the FQCN ``community.docker.docker``: under mitogen_linear both run as
they are (only the strategy and the action plugins are Mitogen's).

Everything this starts (both containerd daemons, dockerd, the containers) is stopped by PID and removed at
the end. ``make benchmark`` sets everything up (tests/benchmark/setup.sh); not part of ``make test``.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from side_by_side import (COLLECTIONS, DOCKER_CONTAINERD, OWN_VENV, PEER_VENV, REPO, Docker,  # noqa: E402
                          ansible_core_version, ansible_env, clear_namespace, community_docker_version, fmt, log,
                          ratio, version_key)
from rig.containerd import MATRIX, Containerd, available_versions  # noqa: E402
from rig.images import build_docker_archive, build_image, split_ref  # noqa: E402

# The rig's own name; split_ref gives it the default registry host, as docker and nerdctl would.
IMAGE = "%s/%s:%s" % split_ref("ctrops-bench/python:1")
NAMESPACE = "bench-conn"
PLUGIN = "ctrops.containerd.containerd"
# Ansible's connections announce themselves at -vvv ("ESTABLISH ... CONNECTION"); Mitogen's do not.
MITOGEN_MARKER = (None, "ESTABLISH DOCKER CONNECTION")
HOSTS = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

PLAYBOOK = """\
- name: Ping every container through its connection plugin
  hosts: bench
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


class Form:
    """One inventory run the same way each time."""

    def __init__(self, key, title, venv, inventory, marker, extra_env=None):
        self.key = key
        self.marker = marker  # (text a -vvv run prints, text it must not print): the connection that ran
        self.title = title
        self.venv = venv
        self.inventory = inventory
        self.extra_env = extra_env or {}
        self.times = []
        self.bad = []


def write_inventory(path, names, connection_vars):
    lines = ["[bench]"] + ["%s ansible_host=%s" % (name, name) for name in names]
    lines += ["", "[bench:vars]", "ansible_python_interpreter=/usr/bin/python3"] + connection_vars
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def run_ping(form, strategy, playbook, forks, verbose=False):
    """One run of the ping playbook; returns (seconds, problem or None); verbose checks form.marker."""
    env = ansible_env(form.venv, strategy)
    env.update(ANSIBLE_PIPELINING="true", ANSIBLE_HOST_KEY_CHECKING="false")
    env.update(form.extra_env)
    cmd = [os.path.join(form.venv, "bin", "ansible-playbook"), "-i", form.inventory, "-f", str(forks), playbook] + (["-vvv"] if verbose else [])
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False, timeout=600)
    seconds = time.monotonic() - started
    recaps = HOSTS.findall(proc.stdout)
    wrong = [host for host, ok, _changed, unreachable, failed in recaps if ok != "1" or unreachable != "0"
             or failed != "0"]
    if proc.returncode != 0 or wrong or not recaps:
        return seconds, "rc %d, hosts not pinged: %s\n%s\n%s" % (
            proc.returncode, wrong or "all", proc.stdout[-3000:], proc.stderr[-2000:])
    if verbose:
        wanted, unwanted = form.marker
        if (wanted and wanted not in proc.stdout) or (unwanted and unwanted in proc.stdout):
            return seconds, "the run did not go through the expected connection (-vvv: wanted %r, not %r)" % (
                wanted, unwanted)
    return seconds, None


def start_ours(daemon, image, names):
    daemon.ctr_run("images", "import", image["path"], namespace=NAMESPACE, timeout=300)
    for name in names:
        daemon.ctr_run("run", "-d", "--", image["ref"], name, namespace=NAMESPACE)


def start_docker(docker, archive, names):
    docker.docker("load", "-i", archive["path"])
    for name in names:
        docker.docker("run", "-d", "--name", name, "--network", "none", archive["repo_tag"])


def report(strategy, forms, rounds, loads):
    docker = [form for form in forms if form.key == "docker"][0]
    print()
    load = fmt(statistics.mean(loads)) if loads else "-"
    print("== strategy %s: median of %d alternating rounds; ratio = median of per-round ratios to (b); "
          "load average (1 min) during the rounds %s" % (strategy, rounds, load))
    head = "%-58s %9s %9s %9s  %s" % ("form", "median s", "min s", "x docker", "note")
    print(head)
    print("-" * len(head))
    for form in forms:
        to_docker = ratio(form.times, docker.times) if form is not docker else None
        cells = (form.title, fmt(statistics.median(form.times) if form.times else None),
                 fmt(min(form.times) if form.times else None), fmt(to_docker),
                 ("FAILED: %s" % "; ".join(form.bad)) if form.bad else "")
        print("%-58s %9s %9s %9s  %s" % cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--containers", type=int, default=10, help="containers, one host each (10)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per strategy (5)")
    parser.add_argument("--strategies", default="linear,mitogen", help="linear,mitogen")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(COLLECTIONS, "ansible_collections", "ctrops", "containerd")):
        raise SystemExit("the collection is not linked under %s: run `make benchmark`" % COLLECTIONS)
    if not os.path.exists(os.path.join(PEER_VENV, ".requirements.sha256")) or not shutil.which("dockerd"):
        raise SystemExit("the peer's venv or dockerd is missing: run `make benchmark` (tests/benchmark/setup.sh)")
    cores = dict(ours=ansible_core_version(OWN_VENV), peer=ansible_core_version(PEER_VENV))
    if cores["ours"] != cores["peer"]:
        log("WARNING: ansible-core differs: %s in %s, %s in %s; the comparison is not like for like"
            % (cores["ours"], OWN_VENV, cores["peer"], PEER_VENV))
    version = max(available_versions(), key=version_key)
    n = args.containers
    names = ["bench-conn-%d" % i for i in range(n)]
    log("containerd %s (%s) for this collection; dockerd on containerd %s; %d containers; ansible-core %s "
        "(ours), %s (peer)" % (version, MATRIX[version], DOCKER_CONTAINERD, n, cores["ours"], cores["peer"]))

    work = tempfile.mkdtemp(prefix="ctrops-connbench-")
    daemon = docker = None
    results = []
    try:
        image = build_image(os.path.join(work, "python.tar"), IMAGE, "python")
        archive = build_docker_archive(os.path.join(work, "python-docker.tar"), IMAGE, "python")
        daemon = Containerd(version).start()
        docker = Docker(os.path.join(work, "docker")).start()
        log("dockerd %s up at %s" % (docker.docker("version", "-f", "{{.Server.Version}}").stdout.strip(),
                                     docker.socket))
        clear_namespace(daemon, NAMESPACE)
        start_ours(daemon, image, names)
        start_docker(docker, archive, names)
        playbook = os.path.join(work, "ping.yml")
        with open(playbook, "w") as handle:
            handle.write(PLAYBOOK)
        ours_inventory = write_inventory(os.path.join(work, "ours.ini"), names, [
            "ansible_connection=%s" % PLUGIN, "ansible_containerd_namespace=%s" % NAMESPACE,
            "ansible_containerd_address=%s" % daemon.address, "ansible_containerd_ctr_path=%s" % daemon.ctr])
        docker_inventory = write_inventory(os.path.join(work, "docker.ini"), names, [
            "ansible_connection=community.docker.docker", "ansible_docker_extra_args='--host %s'" % docker.host])
        mitogen_inventory = write_inventory(os.path.join(work, "mitogen-docker.ini"), names, [
            "ansible_connection=docker"])
        for strategy in args.strategies.split(","):
            forms = [Form("ours", "(a) ctrops.containerd.containerd (ctr tasks exec)", OWN_VENV, ours_inventory,
                          ("ESTABLISH CONTAINERD CONNECTION", None)),
                     Form("docker", "(b) community.docker.docker (docker exec)", PEER_VENV, docker_inventory,
                          ("ESTABLISH DOCKER CONNECTION", None))]
            if strategy == "mitogen":
                forms.append(Form("mitogen-docker", "(c) Mitogen's mitogen_docker (ansible_connection=docker)",
                                  PEER_VENV, mitogen_inventory, MITOGEN_MARKER,
                                  extra_env=dict(DOCKER_HOST=docker.host)))
            # One untimed, verbose run each: every form works through the connection it names before any is
            # timed, and caches are warm alike.
            for form in forms:
                seconds, problem = run_ping(form, strategy, playbook, n, verbose=True)
                if problem:
                    raise SystemExit("%s (%s) failed its first run: %s" % (form.key, strategy, problem))
                log("%s %s warm-up: %.2f s" % (strategy, form.key, seconds))
            loads = []
            for number in range(args.rounds):
                shift = number % len(forms)
                for form in forms[shift:] + forms[:shift]:
                    loads.append(os.getloadavg()[0])
                    seconds, problem = run_ping(form, strategy, playbook, n)
                    form.times.append(seconds)
                    if problem:
                        form.bad.append("round %d: %s" % (number + 1, problem.splitlines()[0]))
                log("%s round %d: %s (load %.2f)" % (strategy, number + 1, " ".join(
                    "%s=%.2f" % (form.key, form.times[-1]) for form in forms), os.getloadavg()[0]))
            results.append((strategy, forms, loads))
    finally:
        if docker is not None:
            docker.stop()
        if daemon is not None:
            clear_namespace(daemon, NAMESPACE)
            daemon.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("Job: ansible.builtin.ping over %d containers of the rig's python image, pipelining on, forks %d. "
          "ansible-core %s (ours) / %s (peer); community.docker %s; containerd %s (ours), dockerd on containerd %s."
          % (n, n, cores["ours"], cores["peer"], community_docker_version() or "?", version, DOCKER_CONTAINERD))
    for strategy, forms, loads in results:
        report(strategy, forms, args.rounds, loads)
    print()
    print("Target (issue 15): (a) <= 1.0x (b). Mitogen has no connection for (a) or for the FQCN (b): under "
          "mitogen_linear they run as under linear; (c) is what Mitogen brings for docker.")


if __name__ == "__main__":
    main()
