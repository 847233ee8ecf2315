"""Where one no-op module run spends its time: containerd_container state=running against ansible.builtin.stat.

Keeps the AnsiballZ payload Ansible sends for each module (ANSIBLE_KEEP_REMOTE_FILES) and runs it again
as Ansible would, several times: its wall time, the import time of this collection's code inside it
(``-X importtime``; AnsiballZ imports from a zip, which keeps no bytecode: compile_once.py compiles it once
and keeps the code in ~/.cache for the next runs) and
its ctr calls (through a timing wrapper). What is left over against stat is argument handling, compare
and result. Part of `make benchmark`, after side_by_side.py: it explains the loop form's distance to its
stat floor. Medians of several runs.
"""

import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

from rig.containerd import Containerd, available_versions  # noqa: E402
from rig.images import build_image  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PYTHON = os.path.join(REPO, ".venv", "bin", "python")
ANSIBLE = os.path.join(REPO, ".venv", "bin", "ansible")
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(REPO, ".build", "collections")
RUNS = 11


def timing_ctr(directory, real_ctr):
    log = os.path.join(directory, "ctr-us.log")
    path = os.path.join(directory, "ctr")
    with open(path, "w") as handle:
        handle.write('#!/bin/sh\ns=$(date +%%s%%N)\n%s "$@"\nrc=$?\necho $(( ($(date +%%s%%N) - s) / 1000 )) >> %s\n'
                     'exit $rc\n' % (real_ctr, log))
    os.chmod(path, 0o755)
    return path, log


def payload(module, args, env, remote_tmp):
    """Run the module once through Ansible and return the AnsiballZ file it left behind."""
    subprocess.run([ANSIBLE, "localhost", "-c", "local", "-i", "localhost,", "-m", module, "-a", json.dumps(args)],
                   env=dict(env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=remote_tmp), check=True,
                   capture_output=True)
    return max(glob.glob(os.path.join(remote_tmp, "*", "AnsiballZ_*.py")), key=os.path.getmtime)


def own_import_ms(path):
    """Milliseconds this collection's code takes to import inside one AnsiballZ run (self times summed)."""
    err = subprocess.run([PYTHON, "-X", "importtime", path], capture_output=True, text=True, check=False).stderr
    total = 0
    for line in err.splitlines():
        if line.startswith("import time:") and "ansible_collections.ctrops" in line:
            total += int(line.split("|")[0].split(":")[1])
    return total / 1000.0


def main():
    version = max(available_versions(), key=lambda label: tuple(int(p) for p in label.split(".")))
    tmp = tempfile.mkdtemp(prefix="ctrops-bench-cost-")
    daemon = Containerd(version).start()
    rows = []
    try:
        image = build_image(os.path.join(tmp, "busybox.tar"), "docker.io/rig/busybox:1", "busybox")
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_PYTHON_INTERPRETER=PYTHON)
        # As on a managed host, where bytecode is kept (the modules cache theirs in ~/.cache).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        wrapper, log = timing_ctr(tmp, daemon.ctr)
        base = dict(address=daemon.address, executable=wrapper, namespace="bench-cost")
        container = dict(base, name="cost-0", image=image["ref"], command=["sleep", "3600"], state="running")
        payload("ctrops.containerd.containerd_image",
                dict(base, name=image["ref"], source="archive", archive_path=image["path"]), env, tmp)
        payload("ctrops.containerd.containerd_container", container, env, tmp)
        jobs = [("ansible.builtin.stat", "ansible.builtin.stat", dict(path=image["path"])),
                ("containerd_container running (no-op)", "ctrops.containerd.containerd_container", container)]
        paths = [payload(module, args, env, os.path.join(tmp, "remote-%d" % number))
                 for number, (_title, module, args) in enumerate(jobs)]
        samples = [dict(wall=[], imports=[], ctr=[], calls=[]) for _job in jobs]
        for run in range(RUNS):
            # Alternate the order, so the machine's other load falls on both alike.
            for index in (0, 1) if run % 2 == 0 else (1, 0):
                open(log, "w").close()
                started = time.monotonic()
                subprocess.run([PYTHON, paths[index]], capture_output=True, check=True,
                               cwd=os.path.dirname(paths[index]))
                samples[index]["wall"].append((time.monotonic() - started) * 1000)
                with open(log) as handle:
                    spent = [int(line) / 1000.0 for line in handle if line.strip()]
                samples[index]["ctr"].append(sum(spent))
                samples[index]["calls"].append(len(spent))
                samples[index]["imports"].append(own_import_ms(paths[index]))
        for (title, _module, _args), sample in zip(jobs, samples):
            rows.append((title,) + tuple(statistics.median(sample[key]) for key in ("wall", "imports", "calls", "ctr")))
    finally:
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("One no-op module run, the AnsiballZ payload run as Ansible runs it (ms, medians of %d runs; containerd %s)"
          % (RUNS, version))
    head = "%-38s %8s %12s %9s %8s %16s" % ("module", "wall", "own imports", "ctr calls", "ctr ms", "rest vs stat")
    print(head)
    print("-" * len(head))
    floor = rows[0][1]
    for title, wall, imports, calls, ctr in rows:
        rest = wall - floor - imports - ctr
        extra = "-" if wall == floor else "%.0f" % rest
        print("%-38s %8.0f %12.0f %9d %8.0f %16s" % (title, wall, imports, calls, ctr, extra))


if __name__ == "__main__":
    main()
