"""The local demo: a throwaway containerd from the rig, the demo playbook run twice against it."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rig.containerd import Containerd, available_versions  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def play(daemon, label):
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
           "-e", "containerd_address=%s" % daemon.address,
           "-e", "ansible_python_interpreter=%s" % sys.executable,
           os.path.join(REPO, "playbooks", "demo", "demo.yml")]
    env = dict(os.environ, PATH=daemon.env["PATH"])
    print("== %s: %s" % (label, " ".join(cmd[1:])), flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    print(proc.stdout + proc.stderr, flush=True)
    if proc.returncode != 0:
        raise SystemExit("the demo playbook failed (%s)" % label)
    recap = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)", proc.stdout)
    return int(recap.group(2)), time.monotonic() - started


def main():
    version = available_versions()[-1]
    daemon = Containerd(version)
    daemon.start()
    try:
        print("containerd %s started at %s" % (version, daemon.address), flush=True)
        first, first_secs = play(daemon, "first run")
        second, second_secs = play(daemon, "second run")
    finally:
        daemon.stop()
    print("== demo summary")
    print("containerd %s (throwaway, stopped again)" % version)
    print("first run:  %d changed task(s) in %.1fs" % (first, first_secs))
    print("second run: %d changed task(s) in %.1fs (namespace created and removed again)" % (second, second_secs))


if __name__ == "__main__":
    main()
