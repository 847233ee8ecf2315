"""How much a no-op run costs: ctr calls and wall time per module, per containerd version.

`make benchmark` runs each scenario's task once to converge, then again and
counts the ctr invocations of that second (no-op) run through a counting
wrapper given as the module's `executable`. Not part of `make test`.
"""

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

from rig.containerd import Containerd, available_versions  # noqa: E402
from rig.images import build_image  # noqa: E402
from rig.registry import Registry  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ANSIBLE = os.path.join(REPO, ".venv", "bin", "ansible")

# (module, args) pairs, run in order (later ones use what earlier ones made); args may use {image}
# (the rig's busybox reference), {archive} (its OCI archive), {tmp} (a scratch directory),
# {plugins} (this machine's CNI plugin directory) and {registry} (the rig's plain-HTTP registry).
SCENARIOS = [
    ("containerd_namespace", {"name": "bench", "labels": {"team": "ops"}}),
    ("containerd_namespace", {"name": "bench-gone", "state": "absent"}),
    ("containerd_namespace_info", {"name": ["bench"]}),
    ("containerd_image", {"name": "{image}", "source": "archive", "archive_path": "{archive}"}),
    ("containerd_image_info", {"name": ["{image}"]}),
    ("containerd_container", {"name": "bench-c", "image": "{image}", "command": ["sleep", "600"]}),
    ("containerd_task", {"container": "bench-c", "state": "running"}),
    ("containerd_container_info", {"name": ["bench-c"]}),
    ("containerd_copy", {"container": "bench-c", "content": "bench\n", "dest": "/tmp/bench.conf", "mode": "0644"}),
    # Selects nothing here: a prune's no-op is its listings (tasks, containers, images, containers by label).
    ("containerd_prune", {"kinds": ["tasks", "containers", "images"], "filters": {"label": "bench.prune"}}),
    ("containerd_container", {"name": "bench-r", "image": "{image}", "command": ["sleep", "600"],
                              "state": "running"}),
    # A stack's no-op costs the same ctr calls for 3 running containers as for 30 (one listing each).
    ("containerd_stack", {"name": "bench-s", "remove_orphans": True,
                          "images": [{"name": "{image}", "source": "archive", "archive_path": "{archive}"}],
                          "containers": [{"name": "bench-s%d" % i, "image": "{image}", "command": "sleep 600",
                                          "state": "running", "stop_timeout": 1} for i in range(3)]}),
    ("containerd_stack", {"name": "bench-s", "remove_orphans": True, "containers": []}),
    # Host facts: version, plugins ls, namespaces ls and one listing per kind in the one namespace counted.
    ("containerd_host_info", {"namespaces": ["bench"], "cni_conf_dir": "{tmp}/net.d", "cni_bin_dirs": ["{plugins}"]}),
    ("containerd_host_info", {"gather": ["versions"]}),
    # A readiness probe on every run (ready.always) costs its exec on top of the container's no-op.
    ("containerd_container", {"name": "bench-r", "image": "{image}", "command": ["sleep", "600"],
                              "state": "running", "ready": {"exec": ["true"], "always": True}}),
    ("cni_network", {"name": "bench-net", "conf_dir": "{tmp}/net.d", "bin_dirs": ["{plugins}"],
                     "bridge": "bench0", "subnet": "10.250.77.0/24"}),
    ("registry_push", {"name": "{image}", "destination": "{registry}/bench/busybox:1", "plain_http": True}),
    ("containerd_task", {"container": "bench-c", "state": "absent"}),
    ("containerd_container", {"name": "bench-c", "state": "absent"}),
    ("containerd_container", {"name": "bench-r", "state": "absent", "force": True, "stop_timeout": 0}),
]
CNI_PLUGINS = "/usr/lib/cni"


def fill(value, values):
    """``value`` with {placeholders} replaced, in strings, lists and dicts; the scenarios' object names
    (bench-*) get this run's token, since runc's state is machine-wide and two runs would collide."""
    if isinstance(value, str):
        return value.format(**values).replace("bench-", "bench-%s-" % values["token"])
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    if isinstance(value, dict):
        return dict((key, fill(item, values)) for key, item in value.items())
    return value


def counting_wrapper(directory, real_ctr):
    """A ctr stand-in that logs each invocation, then runs the real one."""
    log = os.path.join(directory, "calls.log")
    path = os.path.join(directory, "ctr")
    with open(path, "w") as handle:
        handle.write('#!/bin/sh\necho "$*" >> %s\nexec %s "$@"\n' % (log, real_ctr))
    os.chmod(path, stat.S_IRWXU)
    return path, log


def run_module(module, args):
    cmd = [ANSIBLE, "localhost", "-c", "local", "-i", "localhost,", "-m", "ctrops.containerd." + module,
           "-a", json.dumps(args), "-e", "ansible_python_interpreter=%s" % sys.executable]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("%s failed: %s" % (module, proc.stdout[-2000:] + proc.stderr[-2000:]))
    return time.monotonic() - started


def stop_on_sigterm(signum, frame):
    """SIGTERM ends the run as Ctrl-C does: the finally blocks stop the daemons and unmount."""
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    token = uuid.uuid4().hex[:6]
    rows = []
    with tempfile.TemporaryDirectory() as shared:
        image = build_image(os.path.join(shared, "busybox.tar"), "docker.io/rig/busybox:1", "busybox")
        registry = Registry(os.path.join(shared, "registry"), "http").start()
        try:
            for version in available_versions():
                with tempfile.TemporaryDirectory() as tmp, Containerd(version) as daemon:
                    values = dict(image=image["ref"], archive=image["path"], tmp=tmp, plugins=CNI_PLUGINS,
                                  registry=registry.host, token=token)
                    wrapper, log = counting_wrapper(tmp, daemon.ctr)
                    for module, args in SCENARIOS:
                        full = dict(fill(args, values), address=daemon.address, executable=wrapper)
                        if module == "cni_network":
                            full.pop("address")
                            full.pop("executable")
                        run_module(module, full)
                        open(log, "w").close()
                        seconds = run_module(module, full)
                        with open(log) as handle:
                            calls = [line.strip() for line in handle if line.strip()]
                        rows.append((version, module, json.dumps(args, sort_keys=True), len(calls), seconds, calls))
        finally:
            registry.stop()
    print("%-5s %-24s %-5s %-7s %s" % ("ctrd", "module (no-op run)", "calls", "seconds", "args"))
    for version, module, args, count, seconds, calls in rows:
        print("%-5s %-24s %-5d %-7.2f %s" % (version, module, count, seconds, args))
        for call in calls:
            print("        ctr %s" % call)


if __name__ == "__main__":
    main()
