"""The matrix layer's integration smoke: tests/matrix/smoke.yml, every module once, through other
controllers (ansible-core lines) and on other managed-node Pythons, against the rig's newest containerd.

    smoke.py --workdir DIR --run LABEL BINDIR HOST=PYTHON[,HOST=PYTHON...] [--run ...]

Starts one containerd (the newest of the rig's matrix) and one plain-HTTP registry, builds the rig's
busybox image once, then for each --run runs BINDIR/ansible-playbook on an inventory of localhost
aliases (one per HOST, each with its ansible_python_interpreter) twice: the first run must change
every writing module, the second none. Runs go two at a time (this machine has two cores). Prints one
PASS:/FAIL: line per run, host and pass, with the seconds each run took; stops what it started.
"""

import argparse
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "support"))

from rig.containerd import CACHE, MATRIX, Containerd  # noqa: E402
from rig.images import build_image  # noqa: E402
from rig.registry import Registry  # noqa: E402

NEWEST = max(MATRIX, key=lambda v: tuple(map(int, v.split("."))))
CNI_BIN = os.path.join(CACHE, "cni-plugins-sid", "usr", "lib", "cni")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--workdir", required=True, help="where the daemon, registry and runs keep their files")
    parser.add_argument("--run", nargs=3, action="append", required=True, metavar=("LABEL", "BINDIR", "HOSTS"),
                        help="a controller: label, its bin directory, HOST=PYTHON pairs separated by commas")
    parser.add_argument("--jobs", type=int, default=2)
    return parser.parse_args(argv)


def playbook_run(label, bindir, hosts, rig, workdir):
    """Both passes of one controller; returns (label, lines of PASS/FAIL, seconds)."""
    start = time.monotonic()
    uid = uuid.uuid4().hex[:6]
    rundir = tempfile.mkdtemp(prefix="run-%s-" % re.sub(r"[^a-z0-9.]", "", label.lower()), dir=workdir)
    inventory = os.path.join(rundir, "inventory.ini")
    with open(inventory, "w") as handle:
        for host, python in hosts:
            handle.write("%s ansible_connection=local ansible_python_interpreter=%s\n" % (host, python))
    env = dict(os.environ, ANSIBLE_FORKS=str(len(hosts)), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_LOCAL_TEMP=os.path.join(rundir, "tmp"), ANSIBLE_DEPRECATION_WARNINGS="0",
               ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH",
                                                       os.path.join(REPO, ".build", "collections")))
    lines = []
    for first in (True, False):
        smoke = dict(rig, uid=uid, first=first, cni_conf_dir=os.path.join(rundir, "net.d"))
        proc = subprocess.run([os.path.join(bindir, "ansible-playbook"), "-i", inventory,
                               os.path.join(HERE, "smoke.yml"), "-e", json.dumps({"smoke": smoke})],
                              capture_output=True, text=True, env=env, timeout=600, check=False)
        recap = dict((m.group(1), m.groups()[1:]) for m in RECAP.finditer(proc.stdout))
        what = "converge" if first else "no change"
        for host, _python in hosts:
            counts = recap.get(host)
            ok = proc.returncode == 0 and counts is not None and counts[3] == "0" and counts[2] == "0"
            lines.append("%s: matrix smoke %s, managed %s: %s" % ("PASS" if ok else "FAIL", label, host, what))
        if proc.returncode != 0:
            lines.append("  | " + "\n  | ".join((proc.stdout + proc.stderr).strip().splitlines()[-60:]))
            break
    return label, lines, time.monotonic() - start


def main(argv=None):
    args = parse_args(argv)
    # Stopped by matrix.sh (a TERM): still stop the daemon and the registry.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    os.makedirs(args.workdir, exist_ok=True)
    started = time.monotonic()
    daemon = Containerd(NEWEST, workdir=tempfile.mkdtemp(prefix="containerd-", dir=args.workdir))
    registry = Registry(tempfile.mkdtemp(prefix="registry-", dir=args.workdir), "http")
    status = 0
    try:
        daemon.start()
        registry.start()
        archive = build_image(os.path.join(args.workdir, "busybox.tar"), "docker.io/rig/busybox:1", "busybox")
        rig = dict(address=daemon.address, ctr=daemon.ctr, archive=archive["path"], registry=registry.host,
                   cni_bin_dir=CNI_BIN)
        print("matrix smoke: containerd %s, rig ready in %.0fs" % (NEWEST, time.monotonic() - started), flush=True)
        runs = [(label, bindir, [tuple(pair.split("=", 1)) for pair in hosts.split(",")])
                for label, bindir, hosts in args.run]
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(playbook_run, label, bindir, hosts, rig, args.workdir)
                       for label, bindir, hosts in runs]
            for future in concurrent.futures.as_completed(futures):
                label, lines, secs = future.result()
                print("\n".join(lines), flush=True)
                print("matrix smoke %s: %.0fs" % (label, secs), flush=True)
                status |= any(line.startswith("FAIL") for line in lines)
    finally:
        registry.stop()
        daemon.stop()
    print("matrix smoke: %.0fs in all" % (time.monotonic() - started))
    return status


if __name__ == "__main__":
    sys.exit(main())
